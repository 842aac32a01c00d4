package sasl

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"parley/storage"
)

const serverNonceSize = 24 // random bytes appended to the client nonce

// scram states.
const (
	scramStart = iota
	scramFirstSent
	scramDone
)

// scramExchange is the server side of SCRAM (RFC 5802).
type scramExchange struct {
	auth     *Authenticator
	hashName string
	h        func() hash.Hash
	plus     bool
	domain   string
	creds    CredentialSource
	cb       map[string][]byte
	// clientCannotBind accepts the "y" flag: see ClientCannotBind.
	clientCannotBind bool
	// ssdp is the XEP-0474 attribute value for server-first; "" for none.
	ssdp string

	state           int
	challenged      bool // the empty challenge was sent
	gs2Header       string
	cbData          []byte // channel-binding data for the p= type
	authzid         string
	clientFirstBare string
	serverFirst     string
	nonce           string
	user            string // normalized bare JID being authenticated
	unknown         bool   // no credential: the attempt must fail
	cred            storage.Credential
	authenticated   string // set on success
}

func newSCRAM(a *Authenticator, mech, domain string, creds CredentialSource, cb map[string][]byte, plus bool) *scramExchange {
	name := hashSHA1
	if strings.HasPrefix(mech, mechSHA256) {
		name = hashSHA256
	}
	h, _ := hashFunc(name)
	return &scramExchange{auth: a, hashName: name, h: h, plus: plus, domain: domain, creds: creds, cb: cb}
}

// setDowngradeProtection computes the XEP-0474 attribute o asks for.
func (s *scramExchange) setDowngradeProtection(o options) {
	if o.ssdp {
		s.ssdp = downgradeHash(s.h, o.ssdpMechs, o.ssdpCB)
	}
}

// User implements Exchange.
func (s *scramExchange) User() string { return s.authenticated }

// Step implements Exchange.
func (s *scramExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if len(in) > maxMessageSize {
		s.state = scramDone
		return nil, false, fail(condMalformedRequest, "message too long")
	}
	switch s.state {
	case scramStart:
		if len(in) == 0 {
			// No initial response: send an empty challenge (RFC 6120 §6.4.2)
			// and wait for the client-first-message.
			if s.challenged {
				return nil, false, s.abort(fail(condMalformedRequest, "empty client-first-message"))
			}
			s.challenged = true
			return []byte{}, false, nil
		}
		out, err := s.clientFirst(ctx, in)
		if err != nil {
			return nil, false, s.abort(err)
		}
		s.state = scramFirstSent
		return out, false, nil
	case scramFirstSent:
		out, err := s.clientFinal(in)
		if err != nil {
			return nil, false, s.abort(err)
		}
		s.state = scramDone
		return out, true, nil
	}
	return nil, false, fail(condMalformedRequest, "exchange already finished")
}

func (s *scramExchange) abort(err *Failure) error {
	s.state = scramDone
	s.authenticated = ""
	return err
}

// clientFirst handles the client-first-message and returns the
// server-first-message (RFC 5802 §7).
func (s *scramExchange) clientFirst(ctx context.Context, in []byte) ([]byte, *Failure) {
	if !utf8.Valid(in) || bytes.IndexByte(in, 0) >= 0 {
		return nil, fail(condMalformedRequest, "client-first-message is not valid UTF-8")
	}
	msg := string(in)
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, fail(condMalformedRequest, "missing GS2 header")
	}
	az, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, fail(condMalformedRequest, "missing GS2 header")
	}
	s.gs2Header = msg[:len(msg)-len(bare)]
	if az != "" {
		v, ok := strings.CutPrefix(az, "a=")
		if !ok {
			return nil, fail(condMalformedRequest, "invalid authzid attribute")
		}
		name, err := decodeSaslname(v)
		if err != nil {
			return nil, fail(condMalformedRequest, "invalid authzid")
		}
		s.authzid = name
	}
	if f := s.checkCBFlag(flag); f != nil {
		return nil, f
	}

	// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, fail(condMalformedRequest, "client-first-message too short")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, fail(condMalformedRequest, "mandatory extensions are not supported")
	}
	v, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return nil, fail(condMalformedRequest, "missing username")
	}
	username, err := decodeSaslname(v)
	if err != nil {
		return nil, fail(condMalformedRequest, "invalid username encoding")
	}
	cnonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(cnonce) {
		return nil, fail(condMalformedRequest, "missing or invalid nonce")
	}
	if !validExtensions(attrs[2:]) {
		return nil, fail(condMalformedRequest, "invalid extension attribute")
	}
	s.clientFirstBare = bare

	s.user, err = splitUser(username, s.domain)
	if err != nil {
		return nil, fail(condNotAuthorized, "")
	}
	if f := s.lookup(ctx); f != nil {
		return nil, f
	}

	rnd := make([]byte, serverNonceSize)
	_, _ = rand.Read(rnd) // never fails
	s.nonce = cnonce + base64.StdEncoding.EncodeToString(rnd)
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) +
		",i=" + strconv.Itoa(s.cred.Iterations)
	if s.ssdp != "" {
		s.serverFirst += ",h=" + s.ssdp
	}
	return []byte(s.serverFirst), nil
}

// checkCBFlag applies the GS2 channel-binding rules (RFC 5802 §6).
func (s *scramExchange) checkCBFlag(flag string) *Failure {
	switch {
	case flag == "n":
		if s.plus {
			return fail(condMalformedRequest, "-PLUS mechanism requires channel binding")
		}
	case flag == "y":
		if s.plus {
			return fail(condMalformedRequest, "-PLUS mechanism requires channel binding")
		}
		if hasChannelBinding(s.cb) && !s.clientCannotBind {
			// The client supports channel binding and believes we do not:
			// someone removed the -PLUS mechanisms from the offer.
			return fail(condNotAuthorized, "channel binding downgrade detected")
		}
	case strings.HasPrefix(flag, "p="):
		if !s.plus {
			return fail(condMalformedRequest, "channel binding requires a -PLUS mechanism")
		}
		typ := flag[2:]
		if !validCBName(typ) {
			return fail(condMalformedRequest, "invalid channel-binding type")
		}
		data := s.cb[typ]
		if len(data) == 0 {
			f := fail(condNotAuthorized, "unsupported channel-binding type "+typ)
			f.unsupportedBinding = true
			return f
		}
		s.cbData = data
	default:
		return fail(condMalformedRequest, "invalid GS2 channel-binding flag")
	}
	return nil
}

// lookup loads the credential for s.user or prepares a fake one.
func (s *scramExchange) lookup(ctx context.Context) *Failure {
	cred, err := s.creds.Credential(ctx, s.user, s.hashName)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.unknown = true
		s.cred = s.auth.fakeCredential(s.h, s.hashName, s.user)
		return nil
	case err != nil:
		return &Failure{Condition: condTemporaryAuthFailed, Text: "credential lookup failed",
			err: fmt.Errorf("load %s credential of %s: %w", s.hashName, s.user, err)}
	}
	if err := validCredential(cred, s.h); err != nil {
		return &Failure{Condition: condTemporaryAuthFailed, Text: "credential lookup failed",
			err: fmt.Errorf("%s credential of %s: %w", s.hashName, s.user, err)}
	}
	s.cred = cred
	return nil
}

// fakeCredential is what an unknown user appears to have: a salt that is
// stable for the Authenticator's lifetime, the default iteration count, and
// keys nobody knows.
func (a *Authenticator) fakeCredential(h func() hash.Hash, hashName, user string) storage.Credential {
	salt := a.fakeSalt(hashName, user)
	key := hmacSum(h, a.secret, "parley fake key\x00"+hashName+"\x00"+user)
	return storage.Credential{
		Hash:       hashName,
		Salt:       salt,
		Iterations: DefaultIterations,
		StoredKey:  hashSum(h, key),
		ServerKey:  key,
	}
}

// clientFinal verifies the client-final-message and returns the
// server-final-message.
func (s *scramExchange) clientFinal(in []byte) ([]byte, *Failure) {
	if !utf8.Valid(in) || bytes.IndexByte(in, 0) >= 0 {
		return nil, fail(condMalformedRequest, "client-final-message is not valid UTF-8")
	}
	msg := string(in)
	// client-final-message = channel-binding "," nonce ["," extensions] "," proof
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 {
		return nil, fail(condMalformedRequest, "client-final-message too short")
	}
	cbAttr, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return nil, fail(condMalformedRequest, "missing channel binding attribute")
	}
	gotCB, err := decodeBase64(cbAttr)
	if err != nil || len(gotCB) == 0 {
		return nil, fail(condIncorrectEncoding, "invalid channel binding encoding")
	}
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return nil, fail(condMalformedRequest, "missing or invalid nonce")
	}
	last := attrs[len(attrs)-1]
	proofAttr, ok := strings.CutPrefix(last, "p=")
	if !ok {
		return nil, fail(condMalformedRequest, "missing proof")
	}
	if !validExtensions(attrs[2 : len(attrs)-1]) {
		return nil, fail(condMalformedRequest, "invalid extension attribute")
	}
	proof, err := decodeBase64(proofAttr)
	if err != nil {
		return nil, fail(condIncorrectEncoding, "invalid proof encoding")
	}
	if len(proof) != s.h().Size() {
		return nil, fail(condMalformedRequest, "proof has the wrong length")
	}
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(s.nonce)) != 1 {
		return nil, fail(condNotAuthorized, "nonce mismatch")
	}
	wantCB := append([]byte(s.gs2Header), s.cbData...)
	if subtle.ConstantTimeCompare(gotCB, wantCB) != 1 {
		return nil, fail(condNotAuthorized, "channel binding mismatch")
	}

	withoutProof := msg[:len(msg)-len(last)-1]
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	clientSig := hmacSum(s.h, s.cred.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	subtle.XORBytes(clientKey, proof, clientSig)
	ok = subtle.ConstantTimeCompare(hashSum(s.h, clientKey), s.cred.StoredKey) == 1
	clear(clientKey)
	if !ok || s.unknown {
		return nil, rejected()
	}
	if f := checkAuthzid(s.authzid, s.user); f != nil {
		return nil, f
	}
	s.authenticated = s.user
	serverSig := hmacSum(s.h, s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}

// decodeBase64 decodes padded standard base64, rejecting non-canonical input.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.Strict().DecodeString(s)
}

// checkAuthzid accepts an empty authzid or one naming user itself.
func checkAuthzid(authzid, user string) *Failure {
	if authzid == "" {
		return nil
	}
	j, err := jid.Parse(authzid)
	if err != nil || j.Resourcepart() != "" || j.Bare().String() != user {
		return fail(condInvalidAuthzid, "authorization identity must be empty or the authenticated bare JID")
	}
	return nil
}

// decodeSaslname decodes a SCRAM saslname ("=2C" is ',', "=3D" is '='),
// rejecting empty names, NUL and any other '=' escape.
func decodeSaslname(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty saslname")
	}
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("invalid saslname escape")
		}
		i += 2
	}
	return b.String(), nil
}

// validNonce reports whether s is a non-empty run of printable ASCII
// characters other than ','.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validCBName reports whether s matches cb-name = 1*(ALPHA / DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validExtensions reports whether every attribute is attr-val = ALPHA "=" value,
// other than the reserved 'm'. Valid extensions are ignored.
func validExtensions(attrs []string) bool {
	for _, a := range attrs {
		if len(a) < 3 || a[1] != '=' || a[0] == 'm' ||
			!(a[0] >= 'a' && a[0] <= 'z' || a[0] >= 'A' && a[0] <= 'Z') {
			return false
		}
	}
	return true
}
