// Package journal is an append-only, hash-chained log of records kept in
// segment files in one directory: the store of the compliance archive and
// of the audit log. Each record has a sequence number, a time and an
// opaque payload, and carries a SHA-256 hash over itself and the hash of
// the record before it, so that a record altered, removed or reordered
// breaks the chain from that record on (Verify names where).
//
// Records are appended in order and written to the file before Append
// returns, so a record whose Append returned survives the process being
// killed; they reach the disk (fsync) in the background within the sync
// interval, or before Append returns with Options.SyncEach. Old records
// are removed a whole segment at a time (Prune), leaving a checkpoint
// with the removed block's last hash so that the rest of the chain still
// verifies, and keeping, in a file of their own, the records the caller
// must keep (a legal hold, say).
//
// On disk: segment files seg-<first seq>.log, each a run of frames
// (a 4-byte big-endian body length, the body, the 32-byte hash); a body is
// a version byte, the sequence number and the time in Unix nanoseconds (8
// bytes each, big-endian) and the payload. The hash is SHA-256 over the
// previous record's hash and the body; the first record's previous hash is
// 32 zero bytes. checkpoints.log holds one JSON object per line per
// pruned block; kept-<from>-<to>-<n>.log the records kept from a block,
// each frame preceded by its previous record's hash.
package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Hash is a record's SHA-256 chain hash.
type Hash [sha256.Size]byte

// String returns the hash in hexadecimal.
func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// Record is one entry of a journal.
type Record struct {
	Seq     uint64
	Time    time.Time
	Payload []byte
	Prev    Hash // the hash of the record before (zero for the first)
	Hash    Hash // SHA-256 over Prev and the record's body
}

// version is the body format written.
const version = 1

// headerSize is the length of a body before its payload.
const headerSize = 1 + 8 + 8

// frameOverhead is what a frame adds to the payload.
const frameOverhead = 4 + headerSize + sha256.Size

// MaxPayload bounds one record's payload; a frame announcing more is
// taken for corruption.
const MaxPayload = 16 << 20

// errTorn reports a frame cut short at the end of a file: a write that
// never completed.
var errTorn = errors.New("journal: record cut short at the end of the file")

// appendFrame appends the frame of the record (seq, t, payload) chained
// to prev to buf, and returns buf and the record's hash; d is a SHA-256
// digest to reuse.
func appendFrame(buf []byte, d *hasher, prev Hash, seq uint64, t time.Time, payload []byte) ([]byte, Hash) {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(headerSize+len(payload)))
	bodyStart := len(buf)
	buf = append(buf, version)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.UnixNano()))
	buf = append(buf, payload...)
	h := d.chain(prev, buf[bodyStart:])
	buf = append(buf, h[:]...)
	for (len(buf)-start)%frameAlign != 0 {
		buf = append(buf, 0)
	}
	return buf, h
}

// frameAlign is the alignment of frames in a file: a frame is padded with
// zero bytes to a multiple of it, so that the length that starts the next
// frame can be written in one aligned store, after its frame.
const frameAlign = 8

// padding returns the zero bytes that follow a frame of n bytes.
func padding(n int) int { return (frameAlign - n%frameAlign) % frameAlign }

// frameSize returns the length of the frame of a payload of n bytes,
// padding included.
func frameSize(n int) int {
	f := frameOverhead + n
	return f + padding(f)
}

// hasher computes chain hashes without allocating.
type hasher struct {
	d   hash.Hash
	in  Hash
	out Hash
}

func newHasher() *hasher { return &hasher{d: sha256.New()} }

// chain returns SHA-256 over prev and body.
func (h *hasher) chain(prev Hash, body []byte) Hash {
	h.in = prev
	h.d.Reset()
	h.d.Write(h.in[:])
	h.d.Write(body)
	h.d.Sum(h.out[:0])
	return h.out
}

// frameReader reads frames from a file.
type frameReader struct {
	r        io.Reader
	off      int64 // offset of the next frame
	hdr      [4]byte
	buf      []byte
	withPrev bool // kept files: each frame is preceded by the previous hash
}

// next reads the next record. It returns io.EOF at a clean end, errTorn
// when the file ends inside a frame, and another error for a frame that
// cannot be one. The record's Payload is valid until the next call.
func (fr *frameReader) next() (Record, error) {
	var rec Record
	if fr.withPrev {
		n, err := io.ReadFull(fr.r, rec.Prev[:])
		if err == io.EOF {
			return rec, io.EOF
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return rec, errTorn
			}
			return rec, err
		}
		fr.off += int64(n)
	}
	n, err := io.ReadFull(fr.r, fr.hdr[:])
	if err == io.EOF && !fr.withPrev {
		return rec, io.EOF
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return rec, errTorn
		}
		return rec, err
	}
	size := int(binary.BigEndian.Uint32(fr.hdr[:]))
	if size == 0 && !fr.withPrev {
		// Space made for frames not yet written: the end.
		return rec, io.EOF
	}
	if size < headerSize || size > headerSize+MaxPayload {
		return rec, fmt.Errorf("journal: a record at offset %d claims %d bytes", fr.off, size)
	}
	pad := padding(4 + size + sha256.Size)
	if cap(fr.buf) < size+sha256.Size+pad {
		fr.buf = make([]byte, size+sha256.Size+pad)
	}
	b := fr.buf[:size+sha256.Size+pad]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return rec, errTorn
		}
		return rec, err
	}
	fr.off += int64(n + len(b))
	body := b[:size]
	if body[0] != version {
		return rec, fmt.Errorf("journal: a record at offset %d has unknown version %d", fr.off, body[0])
	}
	rec.Seq = binary.BigEndian.Uint64(body[1:9])
	rec.Time = time.Unix(0, int64(binary.BigEndian.Uint64(body[9:17]))).UTC()
	rec.Payload = body[headerSize:]
	copy(rec.Hash[:], b[size:size+sha256.Size])
	return rec, nil
}

// body returns the body of the record last read (for re-hashing).
func (fr *frameReader) body() []byte {
	size := int(binary.BigEndian.Uint32(fr.hdr[:]))
	return fr.buf[:size]
}
