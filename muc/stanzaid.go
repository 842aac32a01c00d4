package muc

import (
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"sync/atomic"
)

// idGen makes unique, stable IDs for the stanzas rooms send (XEP-0359):
// a random prefix chosen at start, so IDs never repeat across restarts,
// and a counter.
type idGen struct {
	prefix string
	n      atomic.Uint64
}

func newIDGen() *idGen {
	var b [10]byte
	rand.Read(b[:])
	return &idGen{prefix: base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]) + "-"}
}

// next returns a new ID.
func (g *idGen) next() string { return g.prefix + strconv.FormatUint(g.n.Add(1), 36) }
