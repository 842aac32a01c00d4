// Package compliance is the server-wide compliance archive: every message
// with content that parley routes, written once, in order, into a
// hash-chained journal (package journal) whatever users' own archive
// preferences, with retention by domain, legal holds, verification
// against the checkpoints noted in the audit log, and export as JSON
// Lines or as a readable transcript.
package compliance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"parley/journal"
	"parley/stanza"
)

// Direction says where an archived message went.
type Direction byte

// Directions.
const (
	// Local: between local accounts (or a local account and a local
	// service such as a room occupant, privately).
	Local Direction = iota + 1
	// Inbound: from another server (or an external component) to a
	// local account.
	Inbound
	// Outbound: from a local account to another server.
	Outbound
	// Room: a message to all occupants of a local room, once per room
	// message.
	Room
)

var directionNames = map[Direction]string{Local: "local", Inbound: "inbound", Outbound: "outbound", Room: "room"}

// String returns the direction's name.
func (d Direction) String() string {
	if n, ok := directionNames[d]; ok {
		return n
	}
	return fmt.Sprintf("direction(%d)", byte(d))
}

// Entry is one archived message.
type Entry struct {
	Seq       uint64
	Time      time.Time
	Direction Direction
	From, To  string // full JIDs as routed (a room message: from the occupant JID, to the room)
	Sender    string // the real full JID of a room message's author; From otherwise
	Recipient string // the real full JID of a private message's recipient in a room; To otherwise
	Type      string // the message's type
	ID        string // the message's id attribute
	Stanza    []byte // the whole stanza as routed
	Hash      journal.Hash

	el *stanza.Element // Stanza parsed, once decode needed it
}

// payloadVersion is the layout of a record's payload.
const payloadVersion = 2

// asInStanza stands for a field whose value is the stanza's attribute of
// the same name, which is then not stored twice.
const asInStanza = "\x00"

// appendPayload appends the payload of an archive record to buf: a
// version byte, the direction, then from, to, sender (empty when it is
// from), recipient (empty when it is to), type and id each as a length
// and bytes (from, to, type and id as asInStanza when the stanza's
// attributes say the same), then the stanza. (Version 1 had no recipient
// and no asInStanza.)
func appendPayload(buf []byte, dir Direction, from, to, sender, recipient, typ, id string, el *stanza.Element) []byte {
	buf = append(buf, payloadVersion, byte(dir))
	if sender == from {
		sender = ""
	}
	if recipient == to {
		recipient = ""
	}
	fields := [...]string{from, to, sender, recipient, typ, id}
	for i, attr := range [...]string{"from", "to", "", "", "type", "id"} {
		s := fields[i]
		if attr != "" && s != "" && el.Attr(attr) == s {
			s = asInStanza
		}
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return el.AppendTo(buf)
}

// errPayload reports a record whose payload is not an archived message.
var errPayload = errors.New("not an archived message")

// decode reads an archive record.
func decode(r journal.Record) (Entry, error) {
	e := Entry{Seq: r.Seq, Time: r.Time, Hash: r.Hash}
	p := r.Payload
	if len(p) < 2 || (p[0] != 1 && p[0] != payloadVersion) {
		return e, fmt.Errorf("record %d: %w", r.Seq, errPayload)
	}
	n := 6
	if p[0] == 1 {
		n = 5
	}
	e.Direction = Direction(p[1])
	p = p[2:]
	var fields [6]string
	for i := range n {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return e, fmt.Errorf("record %d: %w", r.Seq, errPayload)
		}
		fields[i] = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if n == 5 {
		e.From, e.To, e.Sender, e.Type, e.ID = fields[0], fields[1], fields[2], fields[3], fields[4]
	} else {
		e.From, e.To, e.Sender, e.Recipient, e.Type, e.ID = fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
	}
	e.Stanza = append([]byte(nil), p...)
	if e.From == asInStanza || e.To == asInStanza || e.Type == asInStanza || e.ID == asInStanza {
		el, err := stanza.ParseBytes(e.Stanza)
		if err != nil {
			return e, fmt.Errorf("record %d: the archived stanza is unreadable: %w", r.Seq, err)
		}
		e.el = el
		for _, f := range []struct {
			v    *string
			attr string
		}{{&e.From, "from"}, {&e.To, "to"}, {&e.Type, "type"}, {&e.ID, "id"}} {
			if *f.v == asInStanza {
				*f.v = el.Attr(f.attr)
			}
		}
	}
	if e.Sender == "" {
		e.Sender = e.From
	}
	if e.Recipient == "" {
		e.Recipient = e.To
	}
	return e, nil
}

// Message returns the archived stanza, parsed; it must not be changed.
func (e Entry) Message() (*stanza.Element, error) {
	if e.el != nil {
		return e.el, nil
	}
	return stanza.ParseBytes(e.Stanza)
}
