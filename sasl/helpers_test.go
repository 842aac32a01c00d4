package sasl

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/storage"
)

const testDomain = "example.com"

// memStore is an in-memory CredentialSource.
type memStore struct {
	mu    sync.Mutex
	creds map[string]map[string]storage.Credential
	err   error // returned by every lookup when set
}

func newMemStore() *memStore {
	return &memStore{creds: make(map[string]map[string]storage.Credential)}
}

func (m *memStore) Credential(_ context.Context, user, hash string) (storage.Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return storage.Credential{}, m.err
	}
	c, ok := m.creds[user][hash]
	if !ok {
		return storage.Credential{}, fmt.Errorf("memstore: %s/%s: %w", user, hash, storage.ErrNotFound)
	}
	return c, nil
}

func (m *memStore) put(user string, creds ...storage.Credential) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.creds[user] == nil {
		m.creds[user] = make(map[string]storage.Credential)
	}
	for _, c := range creds {
		m.creds[user][c.Hash] = c
	}
}

// addUser stores fresh credentials for user.
func (m *memStore) addUser(tb testing.TB, user, password string) {
	tb.Helper()
	creds, err := NewCredentials(password, DefaultIterations)
	if err != nil {
		tb.Fatalf("NewCredentials: %v", err)
	}
	m.put(user, creds...)
}

// testStore returns a store with juliet@example.com / "r0m30myr0m30".
func testStore(tb testing.TB) *memStore {
	m := newMemStore()
	m.addUser(tb, "juliet@"+testDomain, "r0m30myr0m30")
	return m
}

// runClient drives a full exchange between the server exchange ex and the
// mellium client c. It returns the server's error, or the client's error
// (for instance a wrong server signature).
func runClient(ctx context.Context, ex Exchange, c *msasl.Negotiator) (serverErr, clientErr error) {
	_, resp, err := c.Step(nil)
	if err != nil {
		return nil, fmt.Errorf("client start: %w", err)
	}
	for range 10 {
		out, done, err := ex.Step(ctx, resp)
		if err != nil {
			return err, nil
		}
		if done {
			if len(out) > 0 {
				if _, _, err := c.Step(out); err != nil {
					return nil, fmt.Errorf("client final: %w", err)
				}
			}
			return nil, nil
		}
		if _, resp, err = c.Step(out); err != nil {
			return nil, fmt.Errorf("client step: %w", err)
		}
	}
	return nil, errors.New("too many steps")
}

// condition returns the Failure condition of err, "" for nil.
func condition(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	return f.Condition
}

func creds(user, pass, authzid string) msasl.Option {
	return msasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(pass), []byte(authzid)
	})
}

// tlsPair is both ends of a completed TLS handshake.
type tlsPair struct {
	client, server tls.ConnectionState
	leaf           *x509.Certificate
}

// newTLSPair handshakes over net.Pipe with a self-signed ECDSA certificate
// at exactly TLS version v.
func newTLSPair(tb testing.TB, v uint16) tlsPair {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: testDomain},
		DNSNames:              []string{testDomain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)

	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	srv := tls.Server(c1, &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   v, MaxVersion: v,
	})
	cli := tls.Client(c2, &tls.Config{RootCAs: pool, ServerName: testDomain, MinVersion: v, MaxVersion: v})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		tb.Fatalf("server handshake: %v", err)
	}
	p := tlsPair{client: cli.ConnectionState(), server: srv.ConnectionState(), leaf: leaf}
	if p.client.Version != v || p.server.Version != v {
		tb.Fatalf("negotiated %x, want %x", p.client.Version, v)
	}
	return p
}

// serverCB returns the server-side channel bindings of p.
func (p tlsPair) serverCB() map[string][]byte { return ChannelBindings(&p.server, p.leaf) }

// clientCB computes channel-binding data the way a client does, from its
// own view of the connection.
func (p tlsPair) clientCB(tb testing.TB, typ string) []byte {
	tb.Helper()
	switch typ {
	case cbTLSExporter:
		b, err := p.client.ExportKeyingMaterial(exporterLabel, nil, exporterLength)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	case cbTLSServerEndPoint:
		sum := sha256.Sum256(p.client.PeerCertificates[0].Raw) // ECDSA-SHA256 cert
		return sum[:]
	}
	tb.Fatalf("unknown channel binding type %q", typ)
	return nil
}

// rawClient is a minimal, independent SCRAM client used to craft messages
// mellium cannot produce (tls-server-end-point, tampering, malformations).
type rawClient struct {
	h          func() hash.Hash
	user, pass string
	gs2        string // GS2 header, e.g. "n,," or "p=tls-server-end-point,,"
	cbData     []byte // appended to gs2 in c=
	cnonce     string

	bare      string
	serverSig []byte
}

func (c *rawClient) first() []byte {
	if c.cnonce == "" {
		c.cnonce = "fyko+d2lbbFgONRv9qkxdawL"
	}
	u := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(c.user)
	c.bare = "n=" + u + ",r=" + c.cnonce
	return []byte(c.gs2 + c.bare)
}

// final builds the client-final-message for serverFirst. mutate, if not nil,
// may change the message without proof before it is signed.
func (c *rawClient) final(tb testing.TB, serverFirst []byte, mutate func(string) string) []byte {
	tb.Helper()
	var nonce, salt string
	iter := 0
	for _, a := range strings.Split(string(serverFirst), ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			salt = a[2:]
		case strings.HasPrefix(a, "i="):
			iter, _ = strconv.Atoi(a[2:])
		}
	}
	if !strings.HasPrefix(nonce, c.cnonce) || len(nonce) <= len(c.cnonce) {
		tb.Fatalf("server nonce %q does not extend client nonce", nonce)
	}
	s, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || iter < DefaultIterations {
		tb.Fatalf("bad server-first %q", serverFirst)
	}
	cbind := base64.StdEncoding.EncodeToString(append([]byte(c.gs2), c.cbData...))
	without := "c=" + cbind + ",r=" + nonce
	if mutate != nil {
		without = mutate(without)
	}
	sp, err := pbkdf2.Key(c.h, c.pass, s, iter, c.h().Size())
	if err != nil {
		tb.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(c.h, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	authMsg := c.bare + "," + string(serverFirst) + "," + without
	clientKey := mac(sp, "Client Key")
	d := c.h()
	d.Write(clientKey)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, mac(d.Sum(nil), authMsg))
	c.serverSig = mac(mac(sp, "Server Key"), authMsg)
	return []byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

// verify checks the server-final-message.
func (c *rawClient) verify(tb testing.TB, serverFinal []byte) {
	tb.Helper()
	if want := "v=" + base64.StdEncoding.EncodeToString(c.serverSig); string(serverFinal) != want {
		tb.Fatalf("server-final %q, want %q", serverFinal, want)
	}
}

func storageCredential(hash string, salt []byte, iter int, storedKey, serverKey []byte) storage.Credential {
	return storage.Credential{Hash: hash, Salt: salt, Iterations: iter, StoredKey: storedKey, ServerKey: serverKey}
}
