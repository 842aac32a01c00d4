package proxy65

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// hashOf returns a well-formed bytestream address named by sid.
func hashOf(sid string) string { return Hash(sid, "alice@a.test/pc", "bob@a.test/phone") }

// connectRequest is a SOCKS5 CONNECT request for the domain addr, port 0.
func connectRequest(addr string) []byte {
	return append(append([]byte{5, 1, 0, 3, byte(len(addr))}, addr...), 0, 0)
}

func TestNegotiate(t *testing.T) {
	testHash := hashOf("sid")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	noAuth := []byte{5, 1, 0}
	cases := []struct {
		name    string
		in      []byte
		out     []byte // what the proxy answers
		hash    string // on success
		refusal bool   // failed with an answer
		err     string // in the error
	}{
		{name: "connect", in: cat(noAuth, connectRequest(testHash)), out: []byte{5, 0}, hash: testHash},
		{name: "no auth among others", in: cat([]byte{5, 3, 2, 1, 0}, connectRequest(testHash)), out: []byte{5, 0}, hash: testHash},
		{name: "upper-case hash", in: cat(noAuth, connectRequest(strings.ToUpper(testHash))), out: []byte{5, 0}, hash: testHash},
		{name: "socks4", in: []byte{4, 1, 0, 0, 127, 0, 0, 1, 0}, err: "SOCKS version 4"},
		{name: "http", in: []byte("GET / HTTP/1.1\r\n\r\n"), err: "SOCKS version 71"},
		{name: "only password auth", in: []byte{5, 1, 2}, out: []byte{5, 0xff}, refusal: true, err: "no method without authentication"},
		{name: "no methods", in: []byte{5, 0}, out: []byte{5, 0xff}, refusal: true, err: "no method"},
		{name: "request of another version", in: cat(noAuth, []byte{4, 1, 0, 3}), out: cat([]byte{5, 0}, reply(repGeneralFailure, "", 0)), refusal: true, err: "version 4"},
		{name: "bind", in: cat(noAuth, []byte{5, 2, 0, 3}), out: cat([]byte{5, 0}, reply(repCommandNotSupported, "", 0)), refusal: true, err: "not CONNECT"},
		{name: "udp associate", in: cat(noAuth, []byte{5, 3, 0, 3}), out: cat([]byte{5, 0}, reply(repCommandNotSupported, "", 0)), refusal: true, err: "not CONNECT"},
		{name: "ipv4 address", in: cat(noAuth, []byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 80}), out: cat([]byte{5, 0}, reply(repAddressTypeNotSupported, "", 0)), refusal: true, err: "address type 0x1"},
		{name: "ipv6 address", in: cat(noAuth, []byte{5, 1, 0, 4}), out: cat([]byte{5, 0}, reply(repAddressTypeNotSupported, "", 0)), refusal: true, err: "address type 0x4"},
		{name: "host name", in: cat(noAuth, connectRequest("example.com")), out: cat([]byte{5, 0}, reply(repHostUnreachable, "example.com", 0)), refusal: true, err: "not a bytestream hash"},
		{name: "not hex", in: cat(noAuth, connectRequest(strings.Repeat("g", 40))), out: cat([]byte{5, 0}, reply(repHostUnreachable, strings.Repeat("g", 40), 0)), refusal: true, err: "not hexadecimal"},
		{name: "empty address", in: cat(noAuth, connectRequest("")), out: cat([]byte{5, 0}, reply(repHostUnreachable, "", 0)), refusal: true, err: "not a bytestream hash"},
		{name: "cut in the greeting", in: []byte{5}, err: "reading the method selection"},
		{name: "cut in the methods", in: []byte{5, 2, 0}, err: "reading the offered methods"},
		{name: "cut in the request", in: cat(noAuth, []byte{5, 1}), out: []byte{5, 0}, err: "reading the request"},
		{name: "cut in the address", in: cat(noAuth, connectRequest(testHash)[:20]), out: []byte{5, 0}, err: "reading the address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			req, err := negotiate(bufio.NewReader(bytes.NewReader(c.in)), &out)
			if !bytes.Equal(out.Bytes(), c.out) {
				t.Errorf("answered % x, want % x", out.Bytes(), c.out)
			}
			if c.err == "" {
				if err != nil || req.hash != c.hash || req.port != 0 {
					t.Fatalf("got %+v, %v; want hash %s", req, err, c.hash)
				}
				return
			}
			var r *refusal
			if err == nil || !strings.Contains(err.Error(), c.err) || errors.As(err, &r) != c.refusal {
				t.Fatalf("got error %v (refusal %t), want one with %q (refusal %t)", err, errors.As(err, &r), c.err, c.refusal)
			}
		})
	}
}

func TestReply(t *testing.T) {
	got := reply(repSucceeded, "abc", 0x1234)
	want := []byte{5, 0, 0, 3, 3, 'a', 'b', 'c', 0x12, 0x34}
	if !bytes.Equal(got, want) {
		t.Errorf("reply with address: % x, want % x", got, want)
	}
	got = reply(repNotAllowed, "", 0)
	want = []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("reply without address: % x, want % x", got, want)
	}
}

func TestHash(t *testing.T) {
	// SHA-1 of "mySIDrequester@example.com/footarget@example.org/bar".
	const want = "2e45ce941bf465393585e33be9ccff347e00b430"
	if got := Hash("mySID", "requester@example.com/foo", "target@example.org/bar"); got != want {
		t.Fatalf("Hash = %q, want %q", got, want)
	}
}
