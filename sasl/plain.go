package sasl

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode/utf8"

	"parley/storage"
)

// plain states.
const (
	plainStart = iota
	plainChallenged
	plainDone
)

// plainExchange is the server side of PLAIN (RFC 4616), verified against
// the stored SCRAM keys.
type plainExchange struct {
	auth          *Authenticator
	domain        string
	creds         CredentialSource
	state         int
	authenticated string
}

// User implements Exchange.
func (p *plainExchange) User() string { return p.authenticated }

// Step implements Exchange.
func (p *plainExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch {
	case p.state == plainDone:
		return nil, false, fail(condMalformedRequest, "exchange already finished")
	case len(in) == 0 && p.state == plainStart:
		// No initial response: send an empty challenge (RFC 6120 §6.4.2).
		p.state = plainChallenged
		return []byte{}, false, nil
	}
	p.state = plainDone
	user, err := p.verify(ctx, in)
	if err != nil {
		return nil, false, err
	}
	p.authenticated = user
	return nil, true, nil
}

// verify checks message = [authzid] NUL authcid NUL passwd and returns the
// authenticated bare JID.
func (p *plainExchange) verify(ctx context.Context, in []byte) (string, *Failure) {
	if len(in) > maxMessageSize {
		return "", fail(condMalformedRequest, "message too long")
	}
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", fail(condMalformedRequest, "expected authzid NUL authcid NUL password")
	}
	if !utf8.Valid(in) {
		return "", fail(condMalformedRequest, "message is not valid UTF-8")
	}
	authzid, authcid, password := string(parts[0]), string(parts[1]), string(parts[2])
	user, err := splitUser(authcid, p.domain)
	if err != nil {
		return "", fail(condNotAuthorized, "")
	}
	pw, err := normalizePassword(password)
	if err != nil {
		return "", fail(condNotAuthorized, "")
	}

	cred, unknown, lerr := p.lookup(ctx, user)
	if lerr != nil {
		return "", lerr
	}
	h, ok := hashFunc(cred.Hash)
	if !ok {
		return "", &Failure{Condition: condTemporaryAuthFailed, Text: "credential lookup failed",
			err: fmt.Errorf("credential of %s has unknown hash %q", user, cred.Hash)}
	}
	if err := validCredential(cred, h); err != nil {
		return "", &Failure{Condition: condTemporaryAuthFailed, Text: "credential lookup failed",
			err: fmt.Errorf("%s credential of %s: %w", cred.Hash, user, err)}
	}
	// Unknown users go through the same derivation, so that they cost as
	// much time as a wrong password.
	salted, err := saltedPassword(h, pw, cred.Salt, cred.Iterations)
	if err != nil {
		return "", &Failure{Condition: condTemporaryAuthFailed, Text: "key derivation failed",
			err: fmt.Errorf("derive %s key for %s: %w", cred.Hash, user, err)}
	}
	clientKey := hmacSum(h, salted, clientKeyLabel)
	match := subtle.ConstantTimeCompare(hashSum(h, clientKey), cred.StoredKey) == 1
	clear(salted)
	clear(clientKey)
	if !match || unknown {
		return "", rejected()
	}
	if authzid != "" {
		if f := checkAuthzid(authzid, user); f != nil {
			return "", f
		}
	}
	return user, nil
}

// lookup returns user's SHA-256 credential, else the SHA-1 one, else a fake
// credential with unknown == true.
func (p *plainExchange) lookup(ctx context.Context, user string) (cred storage.Credential, unknown bool, f *Failure) {
	for _, name := range []string{hashSHA256, hashSHA1} {
		c, err := p.creds.Credential(ctx, user, name)
		switch {
		case err == nil:
			c.Hash = name // the hash it was looked up by
			return c, false, nil
		case !errors.Is(err, storage.ErrNotFound):
			return cred, false, &Failure{Condition: condTemporaryAuthFailed, Text: "credential lookup failed",
				err: fmt.Errorf("load %s credential of %s: %w", name, user, err)}
		}
	}
	h, _ := hashFunc(hashSHA256)
	return p.auth.fakeCredential(h, hashSHA256, user), true, nil
}
