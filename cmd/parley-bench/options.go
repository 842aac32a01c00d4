package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scenarioNames lists the names accepted as the positional argument.
const scenarioNames = "login, idle, chat, muc, presence, pep, resume, reconnect"

// Transports (-transport).
const (
	transportTCP       = "tcp"
	transportWebSocket = "websocket"
)

// options are the parsed command line.
type options struct {
	scenario string

	addr, domain, server string
	transport            string
	wsURL                string
	wsAddr               string // host:port of wsURL
	pid                  int
	userFormat, password string
	mech                 string
	sources              string
	procs                int
	register             bool
	timeout              time.Duration

	clients int
	logins  int
	users   int
	conns   int

	pairs            int
	window           string // an int (chat, muc) or a duration (presence)
	windowN          int
	windowD          time.Duration
	duration, warmup time.Duration
	size             int
	rate             float64
	carbons          bool // chat: carbons on, and a second session per user that gets the copies
	sm               bool // chat: stream management on every session

	mucDomain string
	roomSize  int
	rooms     int
	senders   int

	contacts int

	publishers int // pep: accounts that publish
	quiet      int // pep: resources per contact whose capabilities lack +notify
	firstUser  int // pep: number of the first account used

	rounds    int  // reconnect: rounds of the three kinds, alternating
	tlsResume bool // resume TLS sessions (tickets) across connections
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

// parseOptions parses args: flags, then the scenario name. The scenario
// may also come first, followed by the flags.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("parley-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: parley-bench [flags] SCENARIO (%s)\n", scenarioNames)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5222", "c2s STARTTLS `host:port` of the server under test")
	fs.StringVar(&o.transport, "transport", transportTCP, "client transport: tcp (STARTTLS on -addr) or websocket (RFC 7395 at -ws-url)")
	fs.StringVar(&o.wsURL, "ws-url", "ws://127.0.0.1:5280/xmpp-websocket", "XMPP over WebSocket endpoint, a ws:// or wss:// `URL`, for -transport websocket")
	fs.StringVar(&o.domain, "domain", "bench.test", "XMPP domain")
	fs.StringVar(&o.server, "server", "", "label copied into the output")
	fs.IntVar(&o.pid, "pid", 0, "server process id for CPU and RSS figures")
	fs.StringVar(&o.userFormat, "user-format", "user%d", "account name format, filled with 1..N")
	fs.StringVar(&o.password, "password", "bench-pw", "password of every account")
	fs.StringVar(&o.mech, "mech", "SCRAM-SHA-1", "SASL mechanism: SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN")
	fs.StringVar(&o.sources, "sources", "", "client source address range `A-B` (default 127.0.0.1 only)")
	fs.IntVar(&o.procs, "procs", 1, "GOMAXPROCS of the generator")
	fs.BoolVar(&o.register, "register", false, "create the accounts first with in-band registration (XEP-0077)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "overall bound of the run")

	fs.IntVar(&o.clients, "clients", 20, "concurrent login workers (also bounds concurrent setup logins)")
	fs.IntVar(&o.logins, "logins", 2000, "login: total logins; reconnect: logins of each kind")
	fs.IntVar(&o.users, "users", 1000, "login, idle, presence: accounts used")
	fs.IntVar(&o.conns, "conns", 1000, "idle: connections held; resume: sessions cut and resumed at once")

	fs.IntVar(&o.pairs, "pairs", 50, "chat: sender/receiver pairs")
	fs.StringVar(&o.window, "window", "", "chat, muc, pep: outstanding messages (pep: publishes) per sender (default 10); presence: login spread (default 2s)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "chat, muc, pep: measured time")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "chat, muc, pep: unmeasured time before it")
	fs.IntVar(&o.size, "size", 100, "chat, muc: body bytes; pep: bytes of the text in each item")
	fs.Float64Var(&o.rate, "rate", 0, "chat, muc: total target messages/s; pep: publishes/s; paced (0: closed loop)")
	fs.BoolVar(&o.carbons, "carbons", false, "chat: every session enables message carbons (XEP-0280), and each user has a second session that receives the copies")
	fs.BoolVar(&o.sm, "sm", false, "chat: every session enables stream management (XEP-0198), acks the server's requests, and senders request an ack with each write")

	fs.StringVar(&o.mucDomain, "muc-domain", "", "muc: group chat service (default conference.<domain>)")
	fs.IntVar(&o.roomSize, "room-size", 10, "muc: occupants per room")
	fs.IntVar(&o.rooms, "rooms", 1, "muc: rooms")
	fs.IntVar(&o.senders, "senders", 1, "muc: senders per room")

	fs.IntVar(&o.contacts, "contacts", 0, "presence: contacts per user (default 20); pep: contacts of every publisher (default 100)")
	fs.IntVar(&o.publishers, "publishers", 10, "pep: publishing accounts, all with the same contacts")
	fs.IntVar(&o.quiet, "quiet-resources", 0, "pep: further resources per contact whose capabilities lack the node's +notify")
	fs.IntVar(&o.firstUser, "first-user", 1, "pep: the publishers are the accounts from this number on, their contacts the ones after them")
	fs.IntVar(&o.rounds, "rounds", 5, "reconnect: rounds, each with logins/rounds logins of every kind in turn")
	fs.BoolVar(&o.tlsResume, "tls-resume", false, "resume TLS sessions with tickets from earlier connections, as reconnecting clients do")

	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.scenario, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	rest := fs.Args()
	if o.scenario == "" && len(rest) > 0 {
		o.scenario, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return nil, usagef("unexpected arguments %q", rest)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

// check validates values and fills scenario-dependent defaults.
func (o *options) check() error {
	known := slices.Contains(strings.Split(scenarioNames, ", "), o.scenario)
	switch {
	case o.scenario == "":
		return usagef("no scenario given (%s)", scenarioNames)
	case !known:
		return usagef("unknown scenario %q (%s)", o.scenario, scenarioNames)
	case !strings.Contains(o.userFormat, "%d"):
		return usagef("-user-format %q has no %%d", o.userFormat)
	case o.mech != "PLAIN" && !isSCRAM(o.mech):
		return usagef("-mech %q: use SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN", o.mech)
	case o.procs < 1 || o.clients < 1 || o.timeout <= 0:
		return usagef("-procs, -clients and -timeout must be positive")
	case o.transport != transportTCP && o.transport != transportWebSocket:
		return usagef("-transport %q: use tcp or websocket", o.transport)
	}
	if o.transport == transportWebSocket {
		a, err := wsHostPort(o.wsURL)
		if err != nil {
			return usagef("-ws-url %q: %v", o.wsURL, err)
		}
		o.wsAddr = a
	}
	if o.mucDomain == "" {
		o.mucDomain = "conference." + o.domain
	}
	switch o.scenario {
	case "login", "reconnect":
		if o.logins < 1 || o.users < 1 {
			return usagef("-logins and -users must be positive")
		}
		if o.scenario == "reconnect" && !isSCRAM(o.mech) {
			return usagef("reconnect compares SCRAM with FAST: -mech must be SCRAM-SHA-1 or SCRAM-SHA-256")
		}
		if o.scenario == "reconnect" && (o.rounds < 1 || o.rounds > o.logins) {
			return usagef("-rounds must be between 1 and -logins")
		}
	case "idle", "resume":
		if o.scenario == "resume" && o.conns > o.users {
			return usagef("resume: -conns must not exceed -users (one session per account)")
		}
		if o.conns < 1 || o.users < 1 {
			return usagef("-conns and -users must be positive")
		}
	case "chat", "muc", "pep":
		n, err := windowCount(o.window)
		if err != nil {
			return err
		}
		o.windowN = n
		switch {
		case o.duration <= 0 || o.warmup < 0 || o.size < 0 || o.rate < 0:
			return usagef("-duration must be positive; -warmup, -size and -rate not negative")
		case o.scenario == "chat" && o.pairs < 1:
			return usagef("-pairs must be positive")
		case o.scenario == "muc" && (o.rooms < 1 || o.roomSize < 1 || o.senders < 1 || o.senders > o.roomSize):
			return usagef("-rooms and -room-size must be positive, -senders between 1 and -room-size")
		}
		if o.scenario == "pep" {
			if o.contacts == 0 {
				o.contacts = 100
			}
			if o.publishers < 1 || o.contacts < 1 || o.quiet < 0 || o.firstUser < 1 {
				return usagef("pep needs positive -publishers, -contacts and -first-user, and -quiet-resources not negative")
			}
		}
	case "presence":
		if o.contacts == 0 {
			o.contacts = 20
		}
		d, err := windowDuration(o.window)
		if err != nil {
			return err
		}
		o.windowD = d
		if o.users < 2 || o.contacts < 2 || o.contacts/2*2 >= o.users {
			return usagef("presence needs -users >= 2 and 2 <= -contacts < -users")
		}
	}
	return nil
}

func windowCount(s string) (int, error) {
	if s == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usagef("-window %q: want a positive number of messages", s)
	}
	return n, nil
}

func windowDuration(s string) (time.Duration, error) {
	if s == "" {
		return 2 * time.Second, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usagef("-window %q: want a duration such as 2s", s)
	}
	return d, nil
}

func isSCRAM(mech string) bool {
	_, ok := scramHash(mech)
	return ok
}

// user returns the account name of user i (from 1).
func (o *options) user(i int) string { return fmt.Sprintf(o.userFormat, i) }
