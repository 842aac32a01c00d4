package muc

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// maxNickLength bounds a nickname, in bytes.
const maxNickLength = 256

// occupant is one user in a room.
type occupant struct {
	nick string
	jid  jid.JID // real full JID
	real string  // jid.String()
	bare string  // jid.Bare().String()
	role Role
	// occupantID is the <occupant-id/> (XEP-0421) of the occupant's
	// user, added to every presence and message from it.
	occupantID *stanza.Element
	// payload is what the occupant's last available presence carried
	// (show, status, capabilities...), without MUC elements, shared by
	// every presence the room sends about it.
	payload []stanza.Node
}

// presencePayload keeps the children of p that describe the occupant,
// dropping the MUC join and user elements (the join may hold the room
// password) and any occupant ID, which only the room gives.
func presencePayload(p *stanza.Element) []stanza.Node {
	var out []stanza.Node
	for _, n := range p.Children {
		if c, ok := n.(*stanza.Element); ok {
			if c.Space == NS || c.Space == NSUser || c.Space == NSOccupantID {
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// checkNick applies the service's nickname rules beyond those of a JID
// resourcepart: not only white space, and not too long.
func checkNick(nick string) error {
	if len(nick) > maxNickLength {
		return stanza.ErrText("not-acceptable", "the nickname is longer than "+strconv.Itoa(maxNickLength)+" bytes")
	}
	for _, r := range nick {
		if !unicode.IsSpace(r) {
			return nil
		}
	}
	return stanza.ErrText("not-acceptable", "the nickname must not be only white space")
}

// nickAsSent returns the nickname as the client wrote it in the to
// address, before normalization, so the room can tell the client when it
// changed it (status 210).
func nickAsSent(to string) string {
	for i := 0; i < len(to); {
		r, n := utf8.DecodeRuneInString(to[i:])
		if r == '/' {
			return to[i+1:]
		}
		i += n
	}
	return ""
}
