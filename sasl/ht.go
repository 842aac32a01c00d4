package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"unicode/utf8"
)

// Hashed Token mechanisms (draft-schmaus-kitten-sasl-ht), the mechanisms
// of Fast Authentication Streamlining Tokens (XEP-0484): one message
// each way, an HMAC keyed with a token the server issued earlier.
const (
	MechHTNone     = "HT-SHA-256-NONE" // no channel binding
	MechHTEndpoint = "HT-SHA-256-ENDP" // tls-server-end-point
	MechHTExporter = "HT-SHA-256-EXPR" // tls-exporter
)

// Labels of the two HMACs of an HT exchange.
const (
	htInitiator = "Initiator"
	htResponder = "Responder"
)

// tokenSize is the random bytes of a token. Its base64 form is longer
// than SHA-256's block size (64 bytes), so that HMAC keyed with the token
// is HMAC keyed with the token's SHA-256 digest (RFC 2104 §2): the
// server keeps only that digest (TokenDigest) and still checks proofs.
const tokenSize = 60

// HTMechanisms lists the HT mechanisms a connection with channel bindings
// cb supports, those with channel binding first.
func HTMechanisms(cb map[string][]byte) []string {
	var m []string
	if len(cb[cbTLSExporter]) > 0 {
		m = append(m, MechHTExporter)
	}
	if len(cb[cbTLSServerEndPoint]) > 0 {
		m = append(m, MechHTEndpoint)
	}
	return append(m, MechHTNone)
}

// IsHT reports whether mech is an HT mechanism parley knows.
func IsHT(mech string) bool {
	return mech == MechHTNone || mech == MechHTEndpoint || mech == MechHTExporter
}

// htBinding returns the channel-binding type of an HT mechanism; "" for
// none.
func htBinding(mech string) string {
	switch mech {
	case MechHTEndpoint:
		return cbTLSServerEndPoint
	case MechHTExporter:
		return cbTLSExporter
	}
	return ""
}

// NewToken returns a fresh random token to hand to a client, and the
// digest to store in its place.
func NewToken() (token string, digest []byte) {
	b := make([]byte, tokenSize)
	_, _ = rand.Read(b) // never fails
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, TokenDigest(token)
}

// TokenDigest returns the SHA-256 digest of token, what the server
// stores. For tokens longer than 64 bytes (as NewToken makes), HMAC keyed
// with the digest equals HMAC keyed with the token.
func TokenDigest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// HTKeys returns the digests of the tokens user may log in with on this
// exchange's mechanism, in the order to try them; none for an unknown
// user.
type HTKeys func(ctx context.Context, user string) ([][]byte, error)

// HTExchange is the server side of an HT exchange: the client's single
// message "authcid NUL HMAC(token, "Initiator" || cb-data)" is checked
// against the stored token digests, and the answer on success is
// HMAC(token, "Responder" || cb-data). It is not safe for concurrent use.
type HTExchange struct {
	domain  string
	cbData  []byte
	keys    HTKeys
	done    bool
	user    string
	matched int
}

// NewHTExchange starts an HT exchange for users of domain on a connection
// with channel bindings cb. An unknown mechanism, or one whose channel
// binding the connection lacks, yields a *Failure "invalid-mechanism".
func (a *Authenticator) NewHTExchange(mech, domain string, cb map[string][]byte, keys HTKeys) (*HTExchange, error) {
	if !IsHT(mech) {
		return nil, fail(condInvalidMechanism, "unsupported mechanism")
	}
	e := &HTExchange{domain: domain, keys: keys, matched: -1}
	if typ := htBinding(mech); typ != "" {
		if len(cb[typ]) == 0 {
			return nil, fail(condInvalidMechanism, mech+" needs "+typ+" channel binding")
		}
		e.cbData = cb[typ]
	}
	return e, nil
}

// User implements Exchange.
func (e *HTExchange) User() string {
	if e.matched < 0 {
		return ""
	}
	return e.user
}

// Matched returns the index, in what HTKeys returned, of the token the
// client proved it holds; -1 before success.
func (e *HTExchange) Matched() int { return e.matched }

// Step implements Exchange: HT succeeds or fails on the first message.
func (e *HTExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, fail(condMalformedRequest, "exchange already finished")
	}
	e.done = true
	if len(in) > maxMessageSize {
		return nil, false, fail(condMalformedRequest, "message too long")
	}
	name, proof, ok := bytes.Cut(in, []byte{0})
	if !ok || len(name) == 0 || !utf8.Valid(name) {
		return nil, false, fail(condMalformedRequest, "expected authcid NUL token hash")
	}
	if len(proof) != sha256.Size {
		return nil, false, fail(condMalformedRequest, "token hash has the wrong length")
	}
	user, err := splitUser(string(name), e.domain)
	if err != nil {
		return nil, false, rejected()
	}
	keys, err := e.keys(ctx, user)
	if err != nil {
		return nil, false, &Failure{Condition: condTemporaryAuthFailed, Text: "token lookup failed",
			err: fmt.Errorf("load tokens of %s: %w", user, err)}
	}
	matched := -1
	for i, k := range keys {
		// Every stored key is tried, so that the time taken does not
		// tell which one matched.
		if subtle.ConstantTimeCompare(htHMAC(k, htInitiator, e.cbData), proof) == 1 && matched < 0 {
			matched = i
		}
	}
	if matched < 0 {
		return nil, false, rejected()
	}
	e.user, e.matched = user, matched
	return htHMAC(keys[matched], htResponder, e.cbData), true, nil
}

// htHMAC computes HMAC-SHA-256(key, label || cbData).
func htHMAC(key []byte, label string, cbData []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(cbData)
	return m.Sum(nil)
}
