package proxy65

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// SOCKS5 (RFC 1928) as XEP-0065 uses it: no authentication, CONNECT to a
// "domain name" that is the bytestream's hash, port 0.
const (
	socksVersion         = 0x05
	methodNoAuth         = 0x00
	methodNoneAcceptable = 0xff
	cmdConnect           = 0x01
	atypIPv4             = 0x01
	atypDomain           = 0x03
)

// Reply codes of RFC 1928 §6.
const (
	repSucceeded               = 0x00
	repGeneralFailure          = 0x01
	repNotAllowed              = 0x02
	repHostUnreachable         = 0x04
	repCommandNotSupported     = 0x07
	repAddressTypeNotSupported = 0x08
)

// hashLength is the length of a bytestream's address: a SHA-1 digest in
// hexadecimal.
const hashLength = 40

// request is a SOCKS5 CONNECT request that passed negotiation.
type request struct {
	hash string // the bytestream's address, in lower case
	addr string // DST.ADDR as the client wrote it, echoed in the reply
	port uint16 // DST.PORT, echoed in the reply
}

// refusal is a negotiation that failed after the client was told why
// (a method or reply error); the connection should be closed gently so
// that the client reads the answer.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// negotiate runs the server side of a SOCKS5 handshake on a new
// connection, reading from r and answering on w: the method selection
// (only "no authentication" is accepted) and the CONNECT request, whose
// address must be a bytestream hash. It returns the request without
// sending the final reply, which depends on whether the bytestream can
// take the connection. Refusals it answered are *refusal errors; other
// errors (a wrong protocol version, a broken or slow connection) got no
// answer.
func negotiate(r *bufio.Reader, w io.Writer) (request, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return request{}, fmt.Errorf("reading the method selection: %w", err)
	}
	if hdr[0] != socksVersion {
		return request{}, fmt.Errorf("the client speaks SOCKS version %d, not 5", hdr[0])
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return request{}, fmt.Errorf("reading the offered methods: %w", err)
	}
	if bytes.IndexByte(methods, methodNoAuth) < 0 {
		if _, err := w.Write([]byte{socksVersion, methodNoneAcceptable}); err != nil {
			return request{}, fmt.Errorf("refusing the offered methods: %w", err)
		}
		return request{}, &refusal{fmt.Errorf("the client offers no method without authentication (offered % x)", methods)}
	}
	if _, err := w.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return request{}, fmt.Errorf("selecting the method: %w", err)
	}

	var req [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(r, req[:]); err != nil {
		return request{}, fmt.Errorf("reading the request: %w", err)
	}
	refuse := func(code byte, why string, args ...any) (request, error) {
		if _, err := w.Write(reply(code, "", 0)); err != nil {
			return request{}, fmt.Errorf("refusing the request: %w", err)
		}
		return request{}, &refusal{fmt.Errorf(why, args...)}
	}
	switch {
	case req[0] != socksVersion:
		return refuse(repGeneralFailure, "the request is of SOCKS version %d, not 5", req[0])
	case req[1] != cmdConnect:
		return refuse(repCommandNotSupported, "command %#x is not CONNECT", req[1])
	case req[3] != atypDomain:
		return refuse(repAddressTypeNotSupported, "address type %#x is not a domain name (a bytestream hash)", req[3])
	}
	n, err := r.ReadByte()
	if err != nil {
		return request{}, fmt.Errorf("reading the address length: %w", err)
	}
	addr := make([]byte, int(n)+2) // the address, then the port
	if _, err := io.ReadFull(r, addr); err != nil {
		return request{}, fmt.Errorf("reading the address: %w", err)
	}
	rq := request{addr: string(addr[:n]), port: uint16(addr[n])<<8 | uint16(addr[n+1])}
	rq.hash, err = parseHash(rq.addr)
	if err != nil {
		if _, werr := w.Write(reply(repHostUnreachable, rq.addr, rq.port)); werr != nil {
			return request{}, fmt.Errorf("refusing the address: %w", werr)
		}
		return request{}, &refusal{err}
	}
	return rq, nil
}

// parseHash returns addr, a bytestream hash (hexadecimal SHA-1), in lower
// case.
func parseHash(addr string) (string, error) {
	if len(addr) != hashLength {
		return "", fmt.Errorf("address %q is not a bytestream hash: %d characters, not %d", addr, len(addr), hashLength)
	}
	b := []byte(addr)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c - 'A' + 'a'
		default:
			return "", fmt.Errorf("address %q is not a bytestream hash: not hexadecimal", addr)
		}
	}
	return string(b), nil
}

// reply encodes a SOCKS5 reply. addr is echoed as the bound address (XEP-0065
// §5.3.2 asks for the request's values); without one the reply carries
// 0.0.0.0:0.
func reply(code byte, addr string, port uint16) []byte {
	if addr == "" || len(addr) > 255 {
		return []byte{socksVersion, code, 0, atypIPv4, 0, 0, 0, 0, 0, 0}
	}
	b := make([]byte, 0, 7+len(addr))
	b = append(b, socksVersion, code, 0, atypDomain, byte(len(addr)))
	b = append(b, addr...)
	return append(b, byte(port>>8), byte(port))
}

// constError is an error that can be a constant.
type constError string

func (e constError) Error() string { return string(e) }

// errTooLarge cuts a transfer that reached the size limit.
const errTooLarge = constError("the transfer reached the size limit")
