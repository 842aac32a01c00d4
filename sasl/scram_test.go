package sasl

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	msasl "mellium.im/sasl"
)

func TestSCRAMMellium(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	tls13 := newTLSPair(t, tls.VersionTLS13)
	const user, pass = "juliet", "r0m30myr0m30"

	tests := []struct {
		name    string
		mech    msasl.Mechanism
		tls     bool // run over the TLS 1.3 pair, offering its channel bindings
		user    string
		pass    string
		authzid string
		want    string // expected failure condition, "" for success
	}{
		{name: "SHA-1", mech: msasl.ScramSha1, user: user, pass: pass},
		{name: "SHA-256", mech: msasl.ScramSha256, user: user, pass: pass},
		{name: "SHA-1 over TLS", mech: msasl.ScramSha1, tls: true, user: user, pass: pass},
		{name: "SHA-256 over TLS", mech: msasl.ScramSha256, tls: true, user: user, pass: pass},
		{name: "SHA-1-PLUS tls-exporter", mech: msasl.ScramSha1Plus, tls: true, user: user, pass: pass},
		{name: "SHA-256-PLUS tls-exporter", mech: msasl.ScramSha256Plus, tls: true, user: user, pass: pass},
		{name: "bare JID username", mech: msasl.ScramSha256, user: "juliet@example.com", pass: pass},
		{name: "username case-mapped", mech: msasl.ScramSha256, user: "Juliet@Example.COM", pass: pass},
		{name: "authzid is own JID", mech: msasl.ScramSha1, user: user, pass: pass, authzid: "juliet@example.com"},
		{name: "authzid of another user", mech: msasl.ScramSha256, user: user, pass: pass, authzid: "romeo@example.com", want: "invalid-authzid"},
		{name: "authzid full JID", mech: msasl.ScramSha256, user: user, pass: pass, authzid: "juliet@example.com/balcony", want: "invalid-authzid"},
		{name: "wrong password", mech: msasl.ScramSha256, user: user, pass: "wrong", want: "not-authorized"},
		{name: "wrong password PLUS", mech: msasl.ScramSha256Plus, tls: true, user: user, pass: "wrong", want: "not-authorized"},
		{name: "unknown user", mech: msasl.ScramSha256, user: "romeo", pass: pass, want: "not-authorized"},
		{name: "unknown user SHA-1", mech: msasl.ScramSha1, user: "romeo", pass: pass, want: "not-authorized"},
		{name: "foreign domain", mech: msasl.ScramSha1, user: "juliet@example.net", pass: pass, want: "not-authorized"},
		{name: "invalid localpart", mech: msasl.ScramSha1, user: "jul iet", pass: pass, want: "not-authorized"},
		{name: "wrong password with bad authzid", mech: msasl.ScramSha1, user: user, pass: "x", authzid: "romeo@example.com", want: "not-authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cb map[string][]byte
			opts := []msasl.Option{creds(tc.user, tc.pass, tc.authzid)}
			if tc.tls {
				cb = tls13.serverCB()
				opts = append(opts, msasl.TLSState(tls13.client), msasl.RemoteMechanisms(Mechanisms(cb, true)...))
			}
			ex, err := NewExchange(tc.mech.Name, testDomain, store, cb)
			if err != nil {
				t.Fatalf("NewExchange: %v", err)
			}
			serr, cerr := runClient(ctx, ex, msasl.NewClient(tc.mech, opts...))
			if cerr != nil {
				t.Fatalf("client: %v", cerr)
			}
			if got := condition(t, serr); got != tc.want {
				t.Fatalf("condition = %q (%v), want %q", got, serr, tc.want)
			}
			wantUser := ""
			if tc.want == "" {
				wantUser = "juliet@example.com"
			}
			if got := ex.User(); got != wantUser {
				t.Errorf("User() = %q, want %q", got, wantUser)
			}
			if serr != nil && strings.Contains(serr.Error(), tc.pass) {
				t.Errorf("error %q contains the password", serr)
			}
		})
	}
}

// TestSCRAMMelliumTLS12 checks that mellium's TLS 1.2 choice, tls-unique,
// is refused: tls-unique is not offered (RFC 9266 deprecates it for
// TLS 1.3, and parley offers tls-server-end-point instead).
func TestSCRAMMelliumTLS12(t *testing.T) {
	p := newTLSPair(t, tls.VersionTLS12)
	cb := p.serverCB()
	if _, ok := cb[cbTLSExporter]; ok {
		t.Fatal("tls-exporter offered on TLS 1.2")
	}
	ex, err := NewExchange("SCRAM-SHA-256-PLUS", testDomain, testStore(t), cb)
	if err != nil {
		t.Fatal(err)
	}
	c := msasl.NewClient(msasl.ScramSha256Plus, creds("juliet", "r0m30myr0m30", ""),
		msasl.TLSState(p.client), msasl.RemoteMechanisms(Mechanisms(cb, true)...))
	serr, cerr := runClient(context.Background(), ex, c)
	if cerr != nil {
		t.Fatal(cerr)
	}
	if got := condition(t, serr); got != "not-authorized" {
		t.Fatalf("condition = %q, want not-authorized", got)
	}
}

// TestDowngrade: a client that supports channel binding but saw no -PLUS
// mechanism sends "y,,"; if the server does offer -PLUS, the offer was
// tampered with.
func TestDowngrade(t *testing.T) {
	p := newTLSPair(t, tls.VersionTLS13)
	for _, tc := range []struct {
		name string
		cb   map[string][]byte
		opts []Option
		want string
	}{
		{"server offers PLUS", p.serverCB(), nil, "not-authorized"},
		{"server has no channel binding", nil, nil, ""},
		// The client tried -PLUS with a type the server lacks: its y
		// is no downgrade.
		{"client cannot bind with the server's types", p.serverCB(), []Option{ClientCannotBind()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewExchange("SCRAM-SHA-256", testDomain, testStore(t), tc.cb, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			// Without RemoteMechanisms, mellium's -PLUS client sends "y,,".
			c := msasl.NewClient(msasl.ScramSha256Plus, creds("juliet", "r0m30myr0m30", ""), msasl.TLSState(p.client))
			serr, cerr := runClient(context.Background(), ex, c)
			if cerr != nil {
				t.Fatal(cerr)
			}
			if got := condition(t, serr); got != tc.want {
				t.Fatalf("condition = %q (%v), want %q", got, serr, tc.want)
			}
		})
	}
}

// TestUnsupportedBindingType checks that a -PLUS attempt with a type the
// server lacks is told apart from other failures, and is not counted as a
// password guess.
func TestUnsupportedBindingType(t *testing.T) {
	p := newTLSPair(t, tls.VersionTLS13)
	for _, typ := range []string{"tls-unique", "tls-exporter"} {
		ex, err := NewExchange("SCRAM-SHA-256-PLUS", testDomain, testStore(t), p.serverCB())
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ex.Step(context.Background(), []byte("p="+typ+",,n=juliet,r=abcdefgh"))
		var f *Failure
		unsupported := errors.As(err, &f) && f.UnsupportedChannelBinding()
		if want := typ == "tls-unique"; unsupported != want {
			t.Errorf("%s: unsupported binding = %v (%v), want %v", typ, unsupported, err, want)
		}
		if f != nil && f.CredentialsRejected() {
			t.Errorf("%s: counted as a password guess", typ)
		}
	}
}

// TestChannelBindingRaw exercises both binding types, including
// tls-server-end-point, with the independent raw client.
func TestChannelBindingRaw(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	pairs := map[string]tlsPair{
		"TLS1.2": newTLSPair(t, tls.VersionTLS12),
		"TLS1.3": newTLSPair(t, tls.VersionTLS13),
	}
	tests := []struct {
		name    string
		tls     string
		mech    string
		typ     string // channel-binding type the client picks
		gs2     string // overrides "p=<typ>,,"
		tamper  func([]byte) []byte
		mutate  func(string) string
		want    string
		wantErr string // condition after client-first, if it fails there
	}{
		{name: "end-point TLS1.2 SHA-256", tls: "TLS1.2", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSServerEndPoint},
		{name: "end-point TLS1.2 SHA-1", tls: "TLS1.2", mech: "SCRAM-SHA-1-PLUS", typ: cbTLSServerEndPoint},
		{name: "end-point TLS1.3", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSServerEndPoint},
		{name: "exporter TLS1.3", tls: "TLS1.3", mech: "SCRAM-SHA-1-PLUS", typ: cbTLSExporter},
		{name: "authzid in gs2 header", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, gs2: "p=tls-exporter,a=juliet@example.com,"},
		{name: "exporter on TLS1.2", tls: "TLS1.2", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, wantErr: "not-authorized"},
		{name: "tls-unique", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, gs2: "p=tls-unique,,", wantErr: "not-authorized"},
		{name: "p= on non-PLUS", tls: "TLS1.3", mech: "SCRAM-SHA-256", typ: cbTLSExporter, wantErr: "malformed-request"},
		{name: "n on PLUS", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, gs2: "n,,", wantErr: "malformed-request"},
		{name: "y on PLUS", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, gs2: "y,,", wantErr: "malformed-request"},
		{name: "invalid cb-name", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter, gs2: "p=tls_exporter,,", wantErr: "malformed-request"},
		{
			name: "tampered exporter data", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter,
			tamper: func(b []byte) []byte { b[0] ^= 1; return b }, want: "not-authorized",
		},
		{
			name: "tampered end-point data", tls: "TLS1.2", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSServerEndPoint,
			tamper: func(b []byte) []byte { return b[:len(b)-1] }, want: "not-authorized",
		},
		{
			name: "data of the other type", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSServerEndPoint,
			tamper: func([]byte) []byte { return pairs["TLS1.3"].clientCB(t, cbTLSExporter) }, want: "not-authorized",
		},
		{
			name: "c= without data", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter,
			tamper: func([]byte) []byte { return nil }, want: "not-authorized",
		},
		{
			name: "c= claims n,, on PLUS", tls: "TLS1.3", mech: "SCRAM-SHA-256-PLUS", typ: cbTLSExporter,
			mutate: func(s string) string { return "c=biws" + s[strings.Index(s, ",r="):] }, want: "not-authorized",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pairs[tc.tls]
			h := sha256.New
			if strings.HasPrefix(tc.mech, "SCRAM-SHA-1") {
				h = sha1.New
			}
			gs2 := tc.gs2
			if gs2 == "" {
				gs2 = "p=" + tc.typ + ",,"
			}
			data := p.clientCB(t, tc.typ)
			if tc.tamper != nil {
				data = tc.tamper(append([]byte(nil), data...))
			}
			c := &rawClient{h: h, user: "juliet", pass: "r0m30myr0m30", gs2: gs2, cbData: data}
			ex, err := NewExchange(tc.mech, testDomain, store, p.serverCB())
			if err != nil {
				t.Fatal(err)
			}
			sf, _, err := ex.Step(ctx, c.first())
			if got := condition(t, err); got != tc.wantErr {
				t.Fatalf("client-first: condition %q (%v), want %q", got, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			out, done, err := ex.Step(ctx, c.final(t, sf, tc.mutate))
			if got := condition(t, err); got != tc.want {
				t.Fatalf("client-final: condition %q (%v), want %q", got, err, tc.want)
			}
			if err != nil {
				return
			}
			if !done {
				t.Fatal("not done after client-final")
			}
			c.verify(t, out)
			if ex.User() != "juliet@example.com" {
				t.Errorf("User() = %q", ex.User())
			}
		})
	}
}

func TestSCRAMMalformedClientFirst(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	tests := []struct {
		name, msg, want string
	}{
		{"no gs2 header", "n=juliet,r=abc", "malformed-request"},
		{"only flag", "n,", "malformed-request"},
		{"bad flag", "x,,n=juliet,r=abc", "malformed-request"},
		{"bad authzid attr", "n,b=juliet,n=juliet,r=abc", "malformed-request"},
		{"empty authzid value", "n,a=,n=juliet,r=abc", "malformed-request"},
		{"missing nonce", "n,,n=juliet", "malformed-request"},
		{"empty nonce", "n,,n=juliet,r=", "malformed-request"},
		{"nonce with space", "n,,n=juliet,r=a b", "malformed-request"},
		{"nonce non-ASCII", "n,,n=juliet,r=ä", "malformed-request"},
		{"swapped attributes", "n,,r=abc,n=juliet", "malformed-request"},
		{"empty username", "n,,n=,r=abc", "malformed-request"},
		{"bad escape", "n,,n=jul=2Diet,r=abc", "malformed-request"},
		{"lowercase escape", "n,,n=jul=2ciet,r=abc", "malformed-request"},
		{"truncated escape", "n,,n=juliet=3,r=abc", "malformed-request"},
		{"reserved m", "n,,m=foo,n=juliet,r=abc", "malformed-request"},
		{"extension m", "n,,n=juliet,r=abc,m=foo", "malformed-request"},
		{"bad extension", "n,,n=juliet,r=abc,=foo", "malformed-request"},
		{"NUL", "n,,n=jul\x00iet,r=abc", "malformed-request"},
		{"invalid UTF-8", "n,,n=jul\xffiet,r=abc", "malformed-request"},
		{"p= on non-PLUS", "p=tls-exporter,,n=juliet,r=abc", "malformed-request"},
		{"too long", "n,,n=juliet,r=" + strings.Repeat("a", maxMessageSize), "malformed-request"},
		{"escaped comma in name", "n,,n=jul=2Ciet,r=abc", ""},
		{"invalid localpart", "n,,n=jul iet,r=abc", "not-authorized"},
		{"foreign domain", "n,,n=juliet@example.net,r=abc", "not-authorized"},
		{"full JID username", "n,,n=juliet@example.com/x,r=abc", "not-authorized"},
		{"ok with extension", "n,,n=juliet,r=abc,x=ext", ""},
		{"escaped equals unknown user", "n,,n=a=3Db,r=abc", ""}, // valid syntax: fake server-first
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewExchange("SCRAM-SHA-1", testDomain, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ex.Step(ctx, []byte(tc.msg))
			if got := condition(t, err); got != tc.want {
				t.Fatalf("condition = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestSCRAMMalformedClientFinal(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	valid := func(s string) string { return s }
	tests := []struct {
		name   string
		mutate func(string) string     // changes the message before signing
		final  func(msg string) string // changes the signed message
		want   string
	}{
		{name: "valid", mutate: valid, want: ""},
		{name: "extension", mutate: func(s string) string { return s + ",x=1" }, want: ""},
		{name: "wrong nonce", mutate: func(s string) string { return s + "x" }, want: "not-authorized"},
		{name: "client nonce only", mutate: func(s string) string {
			return s[:strings.Index(s, ",r=")] + ",r=fyko+d2lbbFgONRv9qkxdawL"
		}, want: "not-authorized"},
		{name: "y,, in c= after n,,", mutate: func(s string) string { return "c=eSws" + s[strings.Index(s, ",r="):] }, want: "not-authorized"},
		{name: "c= not base64", mutate: func(s string) string { return "c=b!ws" + s[strings.Index(s, ",r="):] }, want: "incorrect-encoding"},
		{name: "c= empty", mutate: func(s string) string { return "c=" + s[strings.Index(s, ",r="):] }, want: "incorrect-encoding"},
		{name: "missing c", mutate: func(s string) string { return s[strings.Index(s, ",r=")+1:] + ",x=1" }, want: "malformed-request"},
		{name: "bad extension", mutate: func(s string) string { return s + ",1=x" }, want: "malformed-request"},
		{name: "m extension", mutate: func(s string) string { return s + ",m=x" }, want: "malformed-request"},
		{name: "proof flipped", final: func(s string) string {
			i := strings.Index(s, ",p=") + 3
			b := []byte(s)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}, want: "not-authorized"},
		{name: "proof missing", final: func(s string) string { return s[:strings.Index(s, ",p=")] }, want: "malformed-request"},
		{name: "proof not base64", final: func(s string) string { return s[:strings.Index(s, ",p=")] + ",p=***" }, want: "incorrect-encoding"},
		{name: "proof short", final: func(s string) string { return s[:strings.Index(s, ",p=")] + ",p=AAAA" }, want: "malformed-request"},
		{name: "proof unpadded", final: func(s string) string { return strings.TrimRight(s, "=") }, want: "incorrect-encoding"},
		{name: "trailing attribute", final: func(s string) string { return s + ",x=1" }, want: "malformed-request"},
		{name: "empty", final: func(string) string { return "" }, want: "malformed-request"},
		{name: "NUL", final: func(s string) string { return s + "\x00" }, want: "malformed-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewExchange("SCRAM-SHA-1", testDomain, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := &rawClient{h: sha1.New, user: "juliet", pass: "r0m30myr0m30", gs2: "n,,"}
			sf, _, err := ex.Step(ctx, c.first())
			if err != nil {
				t.Fatal(err)
			}
			msg := string(c.final(t, sf, tc.mutate))
			if tc.final != nil {
				msg = tc.final(msg)
			}
			out, done, err := ex.Step(ctx, []byte(msg))
			if got := condition(t, err); got != tc.want {
				t.Fatalf("condition = %q (%v), want %q", got, err, tc.want)
			}
			if err == nil {
				if !done {
					t.Fatal("not done")
				}
				c.verify(t, out)
			} else if ex.User() != "" {
				t.Fatalf("User() = %q after failure", ex.User())
			}
			// The exchange is over either way.
			if _, _, err := ex.Step(ctx, []byte(msg)); condition(t, err) != "malformed-request" {
				t.Fatalf("step after end: %v", err)
			}
		})
	}
}

// TestSCRAMVectors replays the examples of RFC 5802 §5 and RFC 7677 §3,
// fixing the server nonce that is otherwise random.
func TestSCRAMVectors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		mech, hash, salt, clientFirst, serverFirst, clientFinal, serverFinal string
	}{
		{
			mech: "SCRAM-SHA-1", hash: "SHA-1", salt: "QSXCR+Q6sek8bf92",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			mech: "SCRAM-SHA-256", hash: "SHA-256", salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.mech, func(t *testing.T) {
			salt, _ := base64.StdEncoding.DecodeString(tc.salt)
			cred, err := deriveCredential(tc.hash, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			store := newMemStore()
			store.put("user@example.com", cred)
			ex, err := NewExchange(tc.mech, testDomain, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			sf, _, err := ex.Step(ctx, []byte(tc.clientFirst))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(sf), ",s="+tc.salt+",i=4096") {
				t.Fatalf("server-first %q", sf)
			}
			s := ex.(*scramExchange)
			s.serverFirst = tc.serverFirst
			s.nonce = strings.TrimPrefix(strings.Split(tc.serverFirst, ",")[0], "r=")
			out, done, err := ex.Step(ctx, []byte(tc.clientFinal))
			if err != nil || !done {
				t.Fatalf("client-final: done=%v err=%v", done, err)
			}
			if string(out) != tc.serverFinal {
				t.Fatalf("server-final %q, want %q", out, tc.serverFinal)
			}
		})
	}
}

// TestUnknownUserIndistinguishable checks that an unknown user gets a
// server-first-message shaped like a real one, with a salt that is stable
// across attempts with the same Authenticator.
func TestUnknownUserIndistinguishable(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	auth := NewAuthenticator()
	first := func(user string) (salt, iter string) {
		t.Helper()
		ex, err := auth.NewExchange("SCRAM-SHA-256", testDomain, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		sf, _, err := ex.Step(ctx, []byte("n,,n="+user+",r=abcdef"))
		if err != nil {
			t.Fatalf("client-first for %s: %v", user, err)
		}
		attrs := strings.Split(string(sf), ",")
		if len(attrs) != 3 || !strings.HasPrefix(attrs[0], "r=abcdef") || len(attrs[0]) != len("r=abcdef")+32 {
			t.Fatalf("server-first %q", sf)
		}
		return attrs[1], attrs[2]
	}
	realSalt, realIter := first("juliet")
	s1, i1 := first("romeo")
	s2, i2 := first("Romeo")
	s3, _ := first("benvolio")
	if s1 != s2 || i1 != i2 {
		t.Errorf("fake salt not deterministic: %s/%s vs %s/%s", s1, i1, s2, i2)
	}
	if s1 == s3 {
		t.Error("different unknown users share a fake salt")
	}
	if i1 != "i=4096" || realIter != "i=4096" {
		t.Errorf("iterations %s (unknown), %s (real)", i1, realIter)
	}
	if len(s1) != len(realSalt) {
		t.Errorf("fake salt %s differs in length from real salt %s", s1, realSalt)
	}
	// A different Authenticator answers a different fake salt.
	ex, _ := NewAuthenticator().NewExchange("SCRAM-SHA-256", testDomain, store, nil)
	sf, _, _ := ex.Step(ctx, []byte("n,,n=romeo,r=abcdef"))
	if strings.Split(string(sf), ",")[1] == s1 {
		t.Error("fake salt independent of the Authenticator secret")
	}
}

func TestSCRAMEmptyInitialResponse(t *testing.T) {
	ctx := context.Background()
	ex, err := NewExchange("SCRAM-SHA-256", testDomain, testStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := ex.Step(ctx, nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("empty initial response: out=%q done=%v err=%v", out, done, err)
	}
	c := &rawClient{h: sha256.New, user: "juliet", pass: "r0m30myr0m30", gs2: "n,,"}
	sf, _, err := ex.Step(ctx, c.first())
	if err != nil {
		t.Fatal(err)
	}
	sfin, done, err := ex.Step(ctx, c.final(t, sf, nil))
	if err != nil || !done {
		t.Fatalf("done=%v err=%v", done, err)
	}
	c.verify(t, sfin)

	// A second empty message is malformed.
	ex, _ = NewExchange("SCRAM-SHA-256", testDomain, testStore(t), nil)
	if _, _, err := ex.Step(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ex.Step(ctx, nil); condition(t, err) != "malformed-request" {
		t.Fatalf("second empty message: %v", err)
	}
}

func TestStorageError(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("disk on fire")
	store := testStore(t)
	store.err = boom
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			ex, err := NewExchange(mech, testDomain, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := "n,,n=juliet,r=abc"
			if mech == "PLAIN" {
				msg = "\x00juliet\x00r0m30myr0m30"
			}
			_, _, err = ex.Step(ctx, []byte(msg))
			if condition(t, err) != "temporary-auth-failure" {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, boom) {
				t.Errorf("error %v does not wrap the storage error", err)
			}
			if f := err.(*Failure); strings.Contains(f.Text, boom.Error()) || strings.Contains(f.Text, "r0m30") {
				t.Errorf("client-visible text %q leaks internals", f.Text)
			}
		})
	}
}

func TestCorruptCredential(t *testing.T) {
	store := newMemStore()
	store.put("juliet@example.com", storageCredential("SHA-1", nil, 4096, make([]byte, 20), make([]byte, 20)))
	store.put("romeo@example.com", storageCredential("SHA-1", []byte("salt"), 4096, make([]byte, 5), make([]byte, 20)))
	for _, user := range []string{"juliet", "romeo"} {
		ex, _ := NewExchange("SCRAM-SHA-1", testDomain, store, nil)
		_, _, err := ex.Step(context.Background(), []byte("n,,n="+user+",r=abc"))
		if condition(t, err) != "temporary-auth-failure" {
			t.Errorf("%s: err = %v", user, err)
		}
	}
}

func BenchmarkSCRAMSHA1(b *testing.B) {
	ctx := context.Background()
	store := testStore(b)
	auth := NewAuthenticator()
	for b.Loop() {
		ex, err := auth.NewExchange("SCRAM-SHA-1", testDomain, store, nil)
		if err != nil {
			b.Fatal(err)
		}
		c := msasl.NewClient(msasl.ScramSha1, creds("juliet", "r0m30myr0m30", ""))
		if serr, cerr := runClient(ctx, ex, c); serr != nil || cerr != nil {
			b.Fatalf("server: %v, client: %v", serr, cerr)
		}
	}
}
