// Package sasl implements parley's server side of SASL authentication for
// client logins (RFC 6120 §6): SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS
// channel-binding variants (RFC 5802, RFC 7677, RFC 9266, RFC 5929) with
// downgrade protection (XEP-0474), PLAIN (RFC 4616), and the Hashed Token
// mechanisms of FAST logins (XEP-0484). Passwords are only ever stored as
// salted SCRAM keys (see NewCredentials); PLAIN logins are verified
// against those keys, and tokens are stored as digests (see NewToken).
package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"parley/storage"
)

// Mechanism names.
const (
	mechPlain          = "PLAIN"
	mechSHA1           = "SCRAM-SHA-1"
	mechSHA1Plus       = "SCRAM-SHA-1-PLUS"
	mechSHA256         = "SCRAM-SHA-256"
	mechSHA256Plus     = "SCRAM-SHA-256-PLUS"
	maxMessageSize     = 8192 // bytes; longer client messages are malformed
	fakeSaltSecretSize = 32
)

// SASL failure conditions (RFC 6120 §6.5).
const (
	condIncorrectEncoding   = "incorrect-encoding"
	condInvalidAuthzid      = "invalid-authzid"
	condInvalidMechanism    = "invalid-mechanism"
	condMalformedRequest    = "malformed-request"
	condNotAuthorized       = "not-authorized"
	condTemporaryAuthFailed = "temporary-auth-failure"
)

// CredentialSource is what authentication needs from storage.
type CredentialSource interface {
	// Credential returns user's credential for hash ("SHA-1" or "SHA-256");
	// user is the bare JID "local@domain". storage.ErrNotFound means the
	// account or the credential does not exist.
	Credential(ctx context.Context, user, hash string) (storage.Credential, error)
}

// Exchange is one server-side authentication exchange. It is not safe for
// concurrent use.
type Exchange interface {
	// Step consumes the client's next message (already base64-decoded; the
	// initial response may be empty) and returns the server's next message.
	// done == true with err == nil means authentication succeeded, and out
	// is then the additional success data (SCRAM server-final "v=...") to
	// send in <success/>. A non-nil err is a *Failure; the exchange is then
	// over and every later Step fails.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// User returns the authenticated bare JID ("local@domain") after
	// success, and "" before.
	User() string
}

// Failure is a SASL failure (RFC 6120 §6.5). Condition is one of
// "aborted", "account-disabled", "credentials-expired",
// "encryption-required", "incorrect-encoding", "invalid-authzid",
// "invalid-mechanism", "malformed-request", "mechanism-too-weak",
// "not-authorized", "temporary-auth-failure". Text is a human-readable
// description that may be sent to the client; it never contains secrets.
type Failure struct {
	Condition, Text string

	err error // internal cause (e.g. a storage error), for logs only
	// badCredentials marks a failure of the password or proof check
	// itself, as opposed to a protocol or channel-binding mismatch.
	badCredentials bool
	// unsupportedBinding marks a -PLUS attempt with a channel-binding
	// type the server does not support.
	unsupportedBinding bool
}

// UnsupportedChannelBinding reports whether the client asked for a
// channel-binding type the server does not support. Such a client can
// bind, just not with the server's types; see ClientCannotBind.
func (f *Failure) UnsupportedChannelBinding() bool { return f.unsupportedBinding }

// An Option adjusts one exchange.
type Option func(*options)

type options struct {
	clientCannotBind bool
	// ssdp asks for the XEP-0474 attribute over ssdpMechs and ssdpCB.
	ssdp      bool
	ssdpMechs []string
	ssdpCB    []string
}

// ClientCannotBind says the client already tried, on this stream, a -PLUS
// mechanism with a channel-binding type the server does not support (as
// Debian's slixmpp 1.8.3 does with tls-unique). Its GS2 "y" flag on a later
// SCRAM attempt then means that it supports channel binding but not with
// any type the server offers, not that someone removed the -PLUS
// mechanisms from the offer, so it is accepted (RFC 5802 §6). Without
// this option "y" is refused while the server offers channel binding.
func ClientCannotBind() Option { return func(o *options) { o.clientCannotBind = true } }

// CredentialsRejected reports whether the failure is a wrong password (or
// unknown user) rather than a protocol mismatch. Only such failures count
// towards slowing down repeated login attempts: a client falling back from
// one mechanism to the next is not guessing passwords.
func (f *Failure) CredentialsRejected() bool { return f.badCredentials }

func rejected() *Failure {
	return &Failure{Condition: condNotAuthorized, badCredentials: true}
}

// Error implements error. It includes the internal cause, if any, which is
// meant for logs and must not be sent to the client.
func (f *Failure) Error() string {
	s := "sasl: " + f.Condition
	if f.Text != "" {
		s += ": " + f.Text
	}
	if f.err != nil {
		s += ": " + f.err.Error()
	}
	return s
}

// Unwrap returns the internal cause of the failure, if any.
func (f *Failure) Unwrap() error { return f.err }

func fail(cond, text string) *Failure { return &Failure{Condition: cond, Text: text} }

// Mechanisms lists, strongest first, the mechanisms to offer on a stream:
// SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (only if len(cb) > 0),
// SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN. Nothing is offered when !tlsActive,
// since TLS is required before authentication.
func Mechanisms(cb map[string][]byte, tlsActive bool) []string {
	if !tlsActive {
		return nil
	}
	var m []string
	if hasChannelBinding(cb) {
		m = append(m, mechSHA256Plus, mechSHA1Plus)
	}
	return append(m, mechSHA256, mechSHA1, mechPlain)
}

// hasChannelBinding reports whether cb holds at least one usable binding.
func hasChannelBinding(cb map[string][]byte) bool {
	for _, v := range cb {
		if len(v) > 0 {
			return true
		}
	}
	return false
}

// Authenticator creates exchanges. It holds a random secret from which the
// fake salts answered for unknown users are derived, so that repeated
// attempts for the same unknown user see the same salt, as they would for a
// real account. Use one Authenticator for the lifetime of the server. It is
// safe for concurrent use.
type Authenticator struct {
	secret []byte
}

// NewAuthenticator returns an Authenticator with a fresh random secret.
func NewAuthenticator() *Authenticator {
	secret := make([]byte, fakeSaltSecretSize)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(secret)
	return &Authenticator{secret: secret}
}

// NewExchange starts an exchange for mechanism mech for users of domain,
// like the package-level NewExchange, but with a stable fake-salt secret.
func (a *Authenticator) NewExchange(mech, domain string, creds CredentialSource, cb map[string][]byte, opts ...Option) (Exchange, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if creds == nil {
		return nil, fmt.Errorf("sasl: new %s exchange: nil credential source", mech)
	}
	switch mech {
	case mechPlain:
		return &plainExchange{auth: a, domain: domain, creds: creds}, nil
	case mechSHA1, mechSHA256:
		s := newSCRAM(a, mech, domain, creds, cb, false)
		s.clientCannotBind = o.clientCannotBind
		s.setDowngradeProtection(o)
		return s, nil
	case mechSHA1Plus, mechSHA256Plus:
		if !hasChannelBinding(cb) {
			return nil, fail(condInvalidMechanism, mech+" is not offered without channel binding")
		}
		s := newSCRAM(a, mech, domain, creds, cb, true)
		s.setDowngradeProtection(o)
		return s, nil
	}
	return nil, fail(condInvalidMechanism, "unsupported mechanism")
}

// NewExchange starts an exchange for mechanism mech for users of domain. cb
// is the connection's channel bindings (may be nil); an unknown mechanism,
// or a -PLUS mechanism without channel bindings, yields a *Failure with
// Condition "invalid-mechanism". PLAIN is accepted here; offering it only
// over TLS is up to the caller (see Mechanisms).
//
// Every call uses a fresh fake-salt secret, so the fake salt shown for an
// unknown user differs between calls; servers should create one
// Authenticator and use its NewExchange method instead.
func NewExchange(mech, domain string, creds CredentialSource, cb map[string][]byte, opts ...Option) (Exchange, error) {
	return NewAuthenticator().NewExchange(mech, domain, creds, cb, opts...)
}

// fakeSalt derives the deterministic salt shown for the unknown user.
func (a *Authenticator) fakeSalt(hashName, user string) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("parley fake salt\x00" + hashName + "\x00" + user))
	return m.Sum(nil)[:saltSize]
}

// splitUser normalizes a login name (a localpart, or a bare JID of domain)
// to the bare JID "local@domain".
func splitUser(name, domain string) (string, error) {
	local := name
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		d, err := normalizeDomain(name[i+1:])
		if err != nil {
			return "", err
		}
		want, err := normalizeDomain(domain)
		if err != nil {
			return "", err
		}
		if d != want {
			return "", errors.New("user of a foreign domain")
		}
		local = name[:i]
	}
	return normalizeUser(local, domain)
}
