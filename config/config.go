// Package config loads and validates parley's TOML configuration file.
//
// The keys are a public contract (see CONTRACT.md): unknown keys, values of
// the wrong type and unreadable files are errors, each reported on one line
// naming the file, the key and the problem.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a loaded, validated configuration. Paths in it are absolute.
type Config struct {
	// Path is the absolute path of the file the configuration was loaded
	// from; empty for a configuration built in code.
	Path string `toml:"-"`

	Server  Server  `toml:"server"`
	Storage Storage `toml:"storage"`
	TLS     TLS     `toml:"tls"`
	C2S     C2S     `toml:"c2s"`
	S2S     S2S     `toml:"s2s"`
	MUC     MUC     `toml:"muc"`
	Log     Log     `toml:"log"`
	Debug   Debug   `toml:"debug"`

	Components Components `toml:"components"` // see components.go
	MAM        MAM        `toml:"mam"`        // see mam.go
	HTTP       HTTP       `toml:"http"`       // see http.go
	Upload     Upload     `toml:"upload"`     // see upload.go
	Push       Push       `toml:"push"`       // see push.go
	Proxy65    Proxy65    `toml:"proxy65"`    // see proxy65.go
	Contact    Contact    `toml:"contact"`    // see contact.go
	PEP        PEP        `toml:"pep"`        // see pep.go
	Register   Register   `toml:"register"`   // see register.go
	Archive    Archive    `toml:"archive"`    // see archive.go

	// ExternalServices are the [[external_services]] tables, see
	// extdisco.go.
	ExternalServices []ExternalService `toml:"external_services"`
}

// Server is the [server] section.
type Server struct {
	// Domains are the served domains (virtual hosts), normalized and
	// without duplicates; at least one.
	Domains []string `toml:"domains"`
	// Admins are the server administrators, bare JIDs of accounts of
	// Domains (normalized, without duplicates), who may run the
	// administrative ad-hoc commands.
	Admins []string `toml:"admins"`
}

// Storage is the [storage] section.
type Storage struct {
	// SQLite is the absolute path of the SQLite database file.
	SQLite string `toml:"sqlite"`
}

// TLS is the [tls] section. Cert and Key are both set or both empty; when
// empty a self-signed certificate is generated and kept in the data
// directory.
type TLS struct {
	Cert string `toml:"cert"` // PEM certificate chain file, absolute
	Key  string `toml:"key"`  // PEM private key file, absolute
	CA   string `toml:"ca"`   // extra trusted roots (PEM), absolute; may be empty
}

// C2S is the [c2s] section: client-to-server streams.
type C2S struct {
	// Listen is the STARTTLS listener address (host:port).
	Listen string `toml:"listen"`
	// DirectTLSListen is the XEP-0368 direct TLS listener address; empty
	// disables it.
	DirectTLSListen string `toml:"direct_tls_listen"`
	// MaxStanzaSize is the largest stanza accepted, in bytes.
	MaxStanzaSize int `toml:"max_stanza_size"`
	// AuthTimeout is how long a stream may stay unauthenticated before it
	// is closed.
	AuthTimeout Duration `toml:"auth_timeout"`
	// LoginFailureDelay is the base delay imposed after a failed login;
	// it grows with repeated failures up to LoginFailureMaxDelay.
	LoginFailureDelay Duration `toml:"login_failure_delay"`
	// LoginFailureMaxDelay caps the delay after repeated failed logins.
	LoginFailureMaxDelay Duration `toml:"login_failure_max_delay"`
	// ResumeTimeout is how long a session with stream management
	// (XEP-0198) waits for its client to resume it after the connection
	// broke; 0 offers no resumption.
	ResumeTimeout Duration `toml:"resume_timeout"`
	// MaxUnacked is how many stanzas a client with stream management may
	// leave unacknowledged before its stream is closed.
	MaxUnacked int `toml:"max_unacked"`
	// FastTokenLifetime is how long a FAST token (XEP-0484), which a
	// client logs in with instead of its password, works after it was
	// issued; 0 offers no FAST logins.
	FastTokenLifetime Duration `toml:"fast_token_lifetime"`
}

// S2S is the [s2s] section: server-to-server streams (federation).
type S2S struct {
	// Listen is the STARTTLS listener address; empty disables federation.
	Listen string `toml:"listen"`
	// DirectTLSListen is the XEP-0368 direct TLS listener address for
	// incoming streams; empty disables it. It requires Listen.
	DirectTLSListen string `toml:"direct_tls_listen"`
	// SecureAuth requires peers to present a valid certificate (no
	// dialback fallback).
	SecureAuth bool `toml:"secure_auth"`
	// Allow lists the only partner domains allowed to federate; empty
	// means open federation. An entry "*.example.com" matches the
	// subdomains of example.com.
	Allow []string `toml:"allow"`
	// Deny lists partner domains refused federation, with the same
	// wildcard as Allow; it wins over Allow.
	Deny []string `toml:"deny"`
	// ConnectTimeout bounds setting up an outgoing link: resolving,
	// connecting, TLS and authentication.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// IdleTimeout closes a link that carried no stanza in either
	// direction for this long.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxStanzaSize is the largest stanza accepted from a peer, in bytes.
	MaxStanzaSize int `toml:"max_stanza_size"`
	// Hosts maps partner domains (normalized) to the host:port to connect
	// to, overriding DNS; the [s2s.hosts] table.
	Hosts map[string]string `toml:"hosts"`
}

// MUC is the [muc] section: the multi-user chat service (XEP-0045).
type MUC struct {
	// Domain is the service's domain; empty disables the service.
	Domain string `toml:"domain"`
	// Create says who may create rooms: "local" (users of the served
	// domains), "admins" (only Admins) or "anyone" (also users of
	// federated servers). Admins may always create rooms.
	Create string `toml:"create"`
	// Admins are bare JIDs that own every room and may always create
	// rooms; normalized, without duplicates.
	Admins []string `toml:"admins"`
	// LockNewRooms keeps a new room locked, refusing everyone but its
	// creator, until the creator accepts the default configuration or
	// submits one (XEP-0045 §10.1). Rooms joined by clients that do not
	// signal MUC support are never locked, since they cannot configure.
	LockNewRooms bool `toml:"lock_new_rooms"`
	// MaxRoomsPerUser bounds how many rooms one user may own by creating
	// them; 0 means no limit. Admins have none.
	MaxRoomsPerUser int `toml:"max_rooms_per_user"`
	// MaxOccupants is the default and the largest occupant limit of a
	// room.
	MaxOccupants int `toml:"max_occupants"`
	// HistoryLength is how many recent messages a room replays to joining
	// occupants at most (each room may lower it).
	HistoryLength int `toml:"history_length"`
	// DefaultRoom holds the configuration of new rooms.
	DefaultRoom MUCRoomDefaults `toml:"default_room"`
}

// MUCRoomDefaults is the [muc.default_room] section: the configuration a
// new room starts with; its owner may change it.
type MUCRoomDefaults struct {
	// Public rooms are listed in the service's disco#items.
	Public bool `toml:"public"`
	// Persistent rooms stay when their last occupant leaves, and survive
	// restarts.
	Persistent bool `toml:"persistent"`
	// MembersOnly rooms admit only members, admins and owners.
	MembersOnly bool `toml:"members_only"`
	// Moderated rooms give voice only to members and above; others join
	// as visitors.
	Moderated bool `toml:"moderated"`
	// Anonymity is "semi" (only moderators see occupants' real JIDs) or
	// "non" (every occupant sees them).
	Anonymity string `toml:"anonymity"`
	// History replays recent messages to joining occupants.
	History bool `toml:"history"`
	// Logging stores the messages of persistent rooms in the database,
	// so their history survives restarts.
	Logging bool `toml:"logging"`
}

// MaxMUCHistoryLength is the largest accepted muc.history_length.
const MaxMUCHistoryLength = 10000

// Log is the [log] section.
type Log struct {
	// Level is one of "debug", "info", "warn" or "error".
	Level string `toml:"level"`
}

// Debug is the [debug] section: diagnostics for operators.
type Debug struct {
	// PprofListen is a loopback host:port serving Go's net/http/pprof
	// profiles (CPU, heap, goroutines); empty disables it.
	PprofListen string `toml:"pprof_listen"`
}

// Duration is a time.Duration written in TOML as a string such as "30s"
// or "1m30s".
type Duration struct {
	time.Duration
}

// UnmarshalText parses a duration string such as "30s".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a form such as \"30s\", \"1m\", \"90d\" or \"7y\")", text)
	}
	d.Duration = v
	return nil
}

// parseDuration reads a Go duration, or a whole number of days ("90d")
// or years of 365 days ("7y") for retention periods.
func parseDuration(s string) (time.Duration, error) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'y') {
		days, err := strconv.Atoi(s[:n-1])
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		if s[n-1] == 'y' {
			days *= 365
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// MarshalText formats the duration as a string such as "30s".
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// Default returns a configuration holding every default value. It serves no
// domain, so it does not validate until Server.Domains is set; relative
// paths in it are not resolved.
func Default() *Config {
	return &Config{
		Storage: Storage{SQLite: "data/parley.db"},
		C2S: C2S{
			Listen:               "127.0.0.1:5222",
			MaxStanzaSize:        262144,
			AuthTimeout:          Duration{30 * time.Second},
			LoginFailureDelay:    Duration{time.Second},
			LoginFailureMaxDelay: Duration{30 * time.Second},
			ResumeTimeout:        Duration{5 * time.Minute},
			MaxUnacked:           10000,
			FastTokenLifetime:    Duration{21 * 24 * time.Hour},
		},
		S2S: S2S{
			ConnectTimeout: Duration{30 * time.Second},
			IdleTimeout:    Duration{10 * time.Minute},
			MaxStanzaSize:  262144,
		},
		Components: defaultComponents(),
		HTTP:       defaultHTTP(),
		Upload:     defaultUpload(),
		MAM:        defaultMAM(),
		Proxy65:    defaultProxy65(),
		PEP:        defaultPEP(),
		Register:   defaultRegister(),
		Archive:    defaultArchive(),
		MUC: MUC{
			Create:          "local",
			LockNewRooms:    true,
			MaxRoomsPerUser: 50,
			MaxOccupants:    200,
			HistoryLength:   20,
			DefaultRoom: MUCRoomDefaults{
				Public:    true,
				Anonymity: "semi",
				History:   true,
				Logging:   true,
			},
		},
		Log: Log{Level: "info"},
	}
}

// DataDir returns the directory holding the SQLite database, where other
// generated state such as a self-signed certificate is kept too.
func (c *Config) DataDir() string {
	return filepath.Dir(c.Storage.SQLite)
}

// Load reads, decodes and validates the configuration file at path.
// Relative paths in the file are resolved against the file's directory.
// Every error is one line starting with path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			// The path is the file name already; don't repeat it.
			return nil, fmt.Errorf("%s: cannot read configuration: %w", path, pe.Err)
		}
		return nil, fmt.Errorf("%s: cannot read configuration: %w", path, err)
	}

	cfg := Default()
	if err := decode(string(data), cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Path = abs
	cfg.resolvePaths(filepath.Dir(abs))
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// decode parses data into cfg, reporting syntax errors, unknown keys and
// type mismatches as one-line errors naming the key.
func decode(data string, cfg *Config) error {
	var raw map[string]any
	md, err := toml.Decode(data, &raw)
	if err != nil {
		return syntaxError(err)
	}
	if err := checkKeys(md, raw, cfg); err != nil {
		return err
	}
	md, err = toml.Decode(data, cfg)
	if err != nil {
		// checkKeys has validated every key and type, so this is not
		// expected; still report it on one line.
		return syntaxError(err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return fmt.Errorf("unknown key %q", undecoded[0].String())
	}
	return nil
}

// syntaxError turns a TOML parse error into one line.
func syntaxError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		if pe.LastKey != "" {
			return fmt.Errorf("line %d (after key %q): %s", pe.Position.Line, pe.LastKey, pe.Message)
		}
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

// resolvePaths makes the file paths in c absolute, relative to dir.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{&c.Storage.SQLite, &c.TLS.Cert, &c.TLS.Key, &c.TLS.CA, &c.Upload.Dir, &c.HTTP.WebClient, &c.Archive.Dir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
