package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a minimal XMPP server for what parley does not serve
// yet: STARTTLS, PLAIN, in-band registration (XEP-0077), bind, an empty
// roster and a group chat service whose new rooms stay locked until the
// owner submits the configuration form (XEP-0045 §10.1.2), as Prosody's
// do.
type fakeServer struct {
	t      *testing.T
	ln     net.Listener
	domain string
	muc    string
	tls    *tls.Config

	mu         sync.Mutex
	accounts   map[string]string
	rooms      map[string]*fakeRoom
	registered int // successful registrations
	configured int // owner configuration forms received
}

type fakeRoom struct {
	locked    bool
	occupants map[string]*fakeConn // nick -> occupant
}

type fakeConn struct {
	nc  net.Conn
	wmu sync.Mutex
	jid string
}

func (c *fakeConn) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.Write([]byte(s))
}

func startFakeServer(t *testing.T, domain string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, ln: ln, domain: domain, muc: "conference." + domain, tls: selfSigned(t, domain),
		accounts: make(map[string]string), rooms: make(map[string]*fakeRoom)}
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(nc, true)
			wg.Go(func() {
				defer conns.Delete(nc)
				f.serve(nc)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return f
}

func selfSigned(t *testing.T, domain string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain},
		DNSNames: []string{domain}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

const fakeHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='f' from='%s' version='1.0'>"

// serve runs one client stream; protocol errors simply end it.
func (f *fakeServer) serve(nc net.Conn) {
	c := &fakeConn{nc: nc}
	defer func() { f.leave(c); nc.Close() }()
	sc := newScanner(nc, 1024, 1<<20)
	open := func(features string) bool {
		if tok, err := sc.next(); err != nil || tok.kind != tokHeader {
			return false
		}
		c.send(fmt.Sprintf(fakeHeader, f.domain) + "<stream:features>" + features + "</stream:features>")
		return true
	}
	if !open("<starttls xmlns='" + nsTLS + "'><required/></starttls>") {
		return
	}
	if tok, err := sc.next(); err != nil || string(elemName(tok.raw)) != "starttls" {
		return
	}
	c.send("<proceed xmlns='" + nsTLS + "'/>")
	tc := tls.Server(nc, f.tls)
	if tc.Handshake() != nil {
		return
	}
	c.nc = tc
	sc = newScanner(tc, 1024, 1<<20)
	if !open("<mechanisms xmlns='" + nsSASL + "'><mechanism>PLAIN</mechanism></mechanisms>" +
		"<register xmlns='http://jabber.org/features/iq-register'/>") {
		return
	}
	user := ""
	for {
		tok, err := sc.next()
		if err != nil || tok.kind != tokStanza {
			return
		}
		raw := tok.raw
		switch name := string(elemName(raw)); {
		case name == "auth":
			text, _ := childlessText(raw)
			cred, _ := base64.StdEncoding.DecodeString(string(text))
			parts := strings.Split(string(cred), "\x00")
			f.mu.Lock()
			ok := len(parts) == 3 && f.accounts[parts[1]] == parts[2] && parts[2] != ""
			f.mu.Unlock()
			if !ok {
				c.send("<failure xmlns='" + nsSASL + "'><not-authorized/></failure>")
				continue
			}
			user = parts[1]
			c.send("<success xmlns='" + nsSASL + "'/>")
			sc.restart()
			if !open("<bind xmlns='" + nsBind + "'/>") {
				return
			}
		case name == "iq":
			f.iq(c, user, raw)
		case name == "presence":
			if to := attrString(raw, "to"); to != "" {
				f.join(c, to)
			}
		case name == "message":
			f.groupchat(c, raw)
		}
	}
}

func (f *fakeServer) iq(c *fakeConn, user string, raw []byte) {
	id := attrString(raw, "id")
	result := "<iq type='result' id='" + escape(id) + "'/>"
	switch s := string(raw); {
	case strings.Contains(s, nsRegister) && user == "":
		name, _ := childText(raw, "username")
		pw, _ := childText(raw, "password")
		f.mu.Lock()
		_, exists := f.accounts[string(name)]
		if !exists {
			f.accounts[string(name)] = unescape(pw)
			f.registered++
		}
		f.mu.Unlock()
		if exists {
			c.send("<iq type='error' id='" + escape(id) + "'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
			return
		}
		c.send(result)
	case strings.Contains(s, nsBind) && user != "":
		res, _ := childText(raw, "resource")
		c.jid = user + "@" + f.domain + "/" + unescape(res)
		c.send("<iq type='result' id='" + escape(id) + "'><bind xmlns='" + nsBind + "'><jid>" + escape(c.jid) + "</jid></bind></iq>")
	case strings.Contains(s, nsRoster):
		c.send("<iq type='result' id='" + escape(id) + "'><query xmlns='" + nsRoster + "'/></iq>")
	case strings.Contains(s, nsMUCOwner):
		f.mu.Lock()
		if r := f.rooms[attrString(raw, "to")]; r != nil {
			r.locked = false
			f.configured++
		}
		f.mu.Unlock()
		c.send("<iq type='result' id='" + escape(id) + "' from='" + escape(attrString(raw, "to")) + "'/>")
	default:
		c.send("<iq type='error' id='" + escape(id) + "'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	}
}

func occupantPresence(room, nick, to string, codes ...string) string {
	s := "<presence from='" + escape(room+"/"+nick) + "' to='" + escape(to) + "'><x xmlns='" + nsMUCUser +
		"'><item affiliation='member' role='participant'/>"
	for _, c := range codes {
		s += "<status code='" + c + "'/>"
	}
	return s + "</x></presence>"
}

// join handles presence to room@muc/nick.
func (f *fakeServer) join(c *fakeConn, to string) {
	room, nick, _ := strings.Cut(to, "/")
	if !strings.HasSuffix(room, "@"+f.muc) || nick == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[room]
	if r == nil {
		r = &fakeRoom{locked: true, occupants: map[string]*fakeConn{nick: c}}
		f.rooms[room] = r
		c.send(occupantPresence(room, nick, c.jid, "110", "201"))
		return
	}
	if r.locked {
		c.send("<presence type='error' from='" + escape(to) + "'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
		return
	}
	for n, o := range r.occupants {
		c.send(occupantPresence(room, n, c.jid))
		o.send(occupantPresence(room, nick, o.jid))
	}
	r.occupants[nick] = c
	c.send(occupantPresence(room, nick, c.jid, "110"))
}

// groupchat reflects a message to a room to every occupant.
func (f *fakeServer) groupchat(c *fakeConn, raw []byte) {
	room := attrString(raw, "to")
	body, _ := childText(raw, "body")
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[room]
	if r == nil {
		return
	}
	from := ""
	for n, o := range r.occupants {
		if o == c {
			from = room + "/" + n
		}
	}
	for _, o := range r.occupants {
		o.send("<message type='groupchat' from='" + escape(from) + "' to='" + escape(o.jid) + "' id='" +
			escape(attrString(raw, "id")) + "'><body>" + string(body) + "</body><stanza-id xmlns='urn:xmpp:sid:0' id='x'/></message>")
	}
}

// leave removes a closed connection from its rooms (rooms persist).
func (f *fakeServer) leave(c *fakeConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rooms {
		for n, o := range r.occupants {
			if o == c {
				delete(r.occupants, n)
			}
		}
	}
}

// TestMUC runs the muc scenario against the fake group chat service,
// with accounts created by in-band registration. The first run creates
// and configures the rooms; the second registers again (conflict counts
// as success) and joins the existing rooms.
func TestMUC(t *testing.T) {
	f := startFakeServer(t, "bench.test")
	common := []string{"-addr", f.ln.Addr().String(), "-server", "fake", "-mech", "PLAIN", "-register", "-procs", "2", "-timeout", "1m"}
	for _, run := range []string{"create", "rejoin"} {
		t.Run(run, func(t *testing.T) {
			out, _ := runBench(t, append(common, "-rooms", "2", "-room-size", "3", "-senders", "2", "-window", "4",
				"-duration", "1s", "-warmup", "200ms", "muc")...)
			checkFields(t, out, "muc", "sent", "delivered", "lost", "deliveries_per_s", "deliveries_per_cpu_s", "p50_ms", "p99_ms", "p999_ms")
			sent, got := num(t, out, "sent"), num(t, out, "delivered")
			if sent == 0 || got != 3*sent || num(t, out, "lost") != 0 {
				t.Errorf("sent %v, delivered %v (want 3 per message), lost %v", sent, got, out["lost"])
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registered != 6 || f.configured != 2 || len(f.rooms) != 2 {
		t.Errorf("registered %d accounts, configured %d rooms, has %d rooms; want 6, 2, 2", f.registered, f.configured, len(f.rooms))
	}
}
