package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/text/secure/precis"
	"mellium.im/xmpp/jid"

	"parley/storage"
)

// DefaultIterations is the PBKDF2 iteration count for new credentials, and
// the minimum NewCredentials accepts.
const DefaultIterations = 4096

const (
	saltSize   = 16
	hashSHA1   = "SHA-1"
	hashSHA256 = "SHA-256"
)

// hashFunc returns the hash function for a credential hash name.
func hashFunc(name string) (func() hash.Hash, bool) {
	switch name {
	case hashSHA1:
		return sha1.New, true
	case hashSHA256:
		return sha256.New, true
	}
	return nil, false
}

// NewCredentials derives SCRAM credentials for "SHA-1" and "SHA-256" from
// password, each with its own random 16-byte salt; iterations below
// DefaultIterations are raised to it. The password is normalized with the
// PRECIS OpaqueString profile (the successor of SASLprep) first. Only the
// StoredKey and ServerKey are kept, never the password or SaltedPassword.
func NewCredentials(password string, iterations int) ([]storage.Credential, error) {
	iterations = max(iterations, DefaultIterations)
	pw, err := normalizePassword(password)
	if err != nil {
		return nil, fmt.Errorf("sasl: new credentials: %w", err)
	}
	var creds []storage.Credential
	for _, name := range []string{hashSHA1, hashSHA256} {
		salt := make([]byte, saltSize)
		// crypto/rand.Read never fails (it crashes the program instead).
		_, _ = rand.Read(salt)
		c, err := deriveCredential(name, pw, salt, iterations)
		if err != nil {
			return nil, fmt.Errorf("sasl: new %s credential: %w", name, err)
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// deriveCredential computes the SCRAM credential for the hash name from the
// normalized password (RFC 5802 §3).
func deriveCredential(name, password string, salt []byte, iterations int) (storage.Credential, error) {
	h, ok := hashFunc(name)
	if !ok {
		return storage.Credential{}, fmt.Errorf("unsupported hash %q", name)
	}
	salted, err := saltedPassword(h, password, salt, iterations)
	if err != nil {
		return storage.Credential{}, err
	}
	clientKey := hmacSum(h, salted, clientKeyLabel)
	c := storage.Credential{
		Hash:       name,
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  hashSum(h, clientKey),
		ServerKey:  hmacSum(h, salted, serverKeyLabel),
	}
	clear(salted)
	clear(clientKey)
	return c, nil
}

// normalizePassword applies the PRECIS OpaqueString profile (RFC 8265).
func normalizePassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	pw, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", fmt.Errorf("normalize password: %w", err)
	}
	return pw, nil
}

// normalizeUser returns the normalized bare JID "local@domain".
func normalizeUser(local, domain string) (string, error) {
	if local == "" {
		return "", errors.New("empty username")
	}
	j, err := jid.New(local, domain, "")
	if err != nil {
		return "", fmt.Errorf("normalize username: %w", err)
	}
	return j.Bare().String(), nil
}

// normalizeDomain returns the normalized domainpart.
func normalizeDomain(domain string) (string, error) {
	j, err := jid.New("", domain, "")
	if err != nil {
		return "", fmt.Errorf("normalize domain: %w", err)
	}
	return j.Domainpart(), nil
}

// Key-derivation labels (RFC 5802 §3).
const (
	clientKeyLabel = "Client Key"
	serverKeyLabel = "Server Key"
)

// saltedPassword computes Hi(password, salt, i) (RFC 5802 §2.2).
func saltedPassword(h func() hash.Hash, password string, salt []byte, iterations int) ([]byte, error) {
	k, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return nil, fmt.Errorf("pbkdf2: %w", err)
	}
	return k, nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func hashSum(h func() hash.Hash, msg []byte) []byte {
	d := h()
	d.Write(msg)
	return d.Sum(nil)
}

// validCredential reports whether c is usable with hash h.
func validCredential(c storage.Credential, h func() hash.Hash) error {
	n := h().Size()
	switch {
	case len(c.Salt) == 0:
		return errors.New("stored credential has an empty salt")
	case c.Iterations < 1:
		return errors.New("stored credential has an invalid iteration count")
	case len(c.StoredKey) != n || len(c.ServerKey) != n:
		return errors.New("stored credential has keys of the wrong size")
	}
	return nil
}
