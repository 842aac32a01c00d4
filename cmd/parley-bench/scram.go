package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// scramKeys are the keys derived from a salted password (RFC 5802 §3).
type scramKeys struct {
	clientKey, storedKey, serverKey []byte
}

type scramCacheKey struct {
	mech, password, salt string
	iterations           int
}

// scramCache remembers derived keys per (mechanism, password, salt,
// iterations), so logging in again with the same account costs no PBKDF2,
// as in clients that store the salted password.
type scramCache struct {
	mu sync.Mutex
	m  map[scramCacheKey]scramKeys
}

func newSCRAMCache() *scramCache {
	return &scramCache{m: make(map[scramCacheKey]scramKeys)}
}

func (c *scramCache) keys(mech string, h func() hash.Hash, password string, salt []byte, iterations int) (scramKeys, error) {
	k := scramCacheKey{mech, password, string(salt), iterations}
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return scramKeys{}, fmt.Errorf("PBKDF2: %w", err)
	}
	v.clientKey = hmacSum(h, salted, "Client Key")
	v.serverKey = hmacSum(h, salted, "Server Key")
	sh := h()
	sh.Write(v.clientKey)
	v.storedKey = sh.Sum(nil)
	c.mu.Lock()
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramHash returns the hash of a SCRAM mechanism name.
func scramHash(mech string) (func() hash.Hash, bool) {
	switch mech {
	case "SCRAM-SHA-1":
		return sha1.New, true
	case "SCRAM-SHA-256":
		return sha256.New, true
	}
	return nil, false
}

// scramClient runs the client side of one SCRAM exchange without channel
// binding (gs2 header "n,,"). Passwords are used as given (no SASLprep),
// which is exact for ASCII passwords.
type scramClient struct {
	mech      string
	h         func() hash.Hash
	user      string
	password  string
	nonce     string
	cache     *scramCache
	firstBare string
	serverSig []byte
}

// newSCRAMClient starts an exchange; nonce "" picks a random one.
func newSCRAMClient(mech, user, password, nonce string, cache *scramCache) (*scramClient, error) {
	h, ok := scramHash(mech)
	if !ok {
		return nil, fmt.Errorf("unsupported SCRAM mechanism %q", mech)
	}
	if nonce == "" {
		b := make([]byte, 18)
		rand.Read(b)
		nonce = base64.RawStdEncoding.EncodeToString(b)
	}
	u := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
	return &scramClient{mech: mech, h: h, user: u, password: password, nonce: nonce, cache: cache}, nil
}

// first returns the client-first-message.
func (c *scramClient) first() []byte {
	c.firstBare = "n=" + c.user + ",r=" + c.nonce
	return []byte("n,," + c.firstBare)
}

// final answers the server-first-message with the client-final-message.
func (c *scramClient) final(serverFirst []byte) ([]byte, error) {
	var nonce, salt string
	iterations := 0
	for _, f := range bytes.Split(serverFirst, []byte(",")) {
		if len(f) < 2 || f[1] != '=' {
			return nil, fmt.Errorf("malformed server-first-message %q", serverFirst)
		}
		v := string(f[2:])
		switch f[0] {
		case 'r':
			nonce = v
		case 's':
			salt = v
		case 'i':
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad iteration count %q", v)
			}
			iterations = n
		case 'm':
			return nil, errors.New("server requires an unsupported SCRAM extension")
		}
	}
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return nil, errors.New("server nonce does not extend the client nonce")
	}
	rawSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || len(rawSalt) == 0 || iterations == 0 {
		return nil, fmt.Errorf("bad salt or iteration count in %q", serverFirst)
	}
	k, err := c.cache.keys(c.mech, c.h, c.password, rawSalt, iterations)
	if err != nil {
		return nil, err
	}
	withoutProof := "c=biws,r=" + nonce
	authMessage := c.firstBare + "," + string(serverFirst) + "," + withoutProof
	sig := hmacSum(c.h, k.storedKey, authMessage)
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, k.clientKey, sig)
	c.serverSig = hmacSum(c.h, k.serverKey, authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verify checks the server-final-message.
func (c *scramClient) verify(serverFinal []byte) error {
	s := string(serverFinal)
	if e, ok := strings.CutPrefix(s, "e="); ok {
		return fmt.Errorf("server reported SCRAM error %q", e)
	}
	v, ok := strings.CutPrefix(s, "v=")
	if !ok {
		return fmt.Errorf("malformed server-final-message %q", s)
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	sig, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !hmac.Equal(sig, c.serverSig) {
		return errors.New("server signature does not verify")
	}
	return nil
}
