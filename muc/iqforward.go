package muc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"parley/stanza"
)

// occupantIQ handles an IQ to an occupant JID: a request from another
// occupant is passed on to the occupant's real JID (vcard-temp gets to its
// bare JID), an answer is routed back to the requester; a ping to one's
// own occupant JID is answered by the room (XEP-0410 §3.3), and one from
// a session that is not in the room gets not-acceptable, which tells
// the client to join again.
func (r *room) occupantIQ(t task, nick string) {
	switch t.el.Type() {
	case "result", "error":
		r.iqAnswer(t, nick)
		return
	case "get", "set":
	default:
		return
	}
	q := t.el.FirstElement()
	o := r.byJID[t.from.String()]
	if o == nil {
		if q != nil && (q.Space == NSDiscoInfo || q.Space == NSDiscoItems) {
			r.refuse(t, stanza.ErrText("bad-request", "only occupants may query occupants")) // XEP-0045 §6.7
			return
		}
		if isOccupantPing(t) {
			r.refuse(t, errNotInRoom)
			return
		}
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may send requests to occupants"))
		return
	}
	dst := r.byNick[nick]
	if dst == nil {
		r.refuse(t, stanza.ErrText("item-not-found", "no occupant has this nickname"))
		return
	}
	if dst == o && isOccupantPing(t) {
		r.svc.reply(t, nil, nil)
		return
	}
	to := dst.real
	if q != nil && q.Space == NSVCard && t.el.Type() == "get" {
		to = dst.bare
	}
	out := readdress(t.el, r.occupantJID(o.nick), r.svc.forwardID(t.el.ID(), dst.nick, o.real))
	r.sendTo(t.ctx, out, to)
}

// errNotInRoom answers a self-ping (XEP-0410) from a session that is not
// an occupant of the room: any error but item-not-found and
// service-unavailable tells the client it has to join again.
var errNotInRoom = stanza.ErrText("not-acceptable", "you are not in this room; join it again")

// isOccupantPing reports whether t is a ping request (XEP-0199) to an
// occupant JID, as clients send to their own occupant JID to learn
// whether they are still in the room (XEP-0410).
func isOccupantPing(t task) bool {
	if t.el.Kind() != "iq" || t.el.Type() != "get" || t.to.Resourcepart() == "" {
		return false
	}
	q := t.el.FirstElement()
	return q != nil && q.Space == NSPing && q.Local == "ping"
}

// iqAnswer routes the answer to a forwarded request back to the occupant
// nick that asked, from the occupant that answered.
func (r *room) iqAnswer(t task, nick string) {
	requester := r.byNick[nick]
	if requester == nil {
		return
	}
	id, answerer, ok := r.svc.forwardedID(t.el.ID(), requester.real)
	if !ok {
		return
	}
	src := r.byNick[answerer]
	if src == nil || (t.from.String() != src.real && t.from.String() != src.bare) {
		return
	}
	r.sendTo(t.ctx, readdress(t.el, r.occupantJID(src.nick), id), requester.real)
}

// readdress copies an IQ with a new from and id and no to, sharing the
// payload.
func readdress(el *stanza.Element, from, id string) *stanza.Element {
	out := &stanza.Element{Local: el.Local, Attrs: el.AttrsWithout("to", "from", "id"), Children: el.Children}
	return out.SetAttr("from", from).SetAttr("id", id)
}

// forwardID encodes, in the id of a forwarded IQ, the requester's id and
// the target's nick, authenticated for the requester's real JID so that
// no one can have the room deliver an answer the requester never asked
// for.
func (s *Service) forwardID(id, targetNick, requester string) string {
	payload := id + "\x00" + targetNick
	return "muc." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + s.forwardMAC(payload, requester)
}

// forwardedID decodes a forwardID for requester.
func (s *Service) forwardedID(fid, requester string) (id, targetNick string, ok bool) {
	rest, found := strings.CutPrefix(fid, "muc.")
	if !found {
		return "", "", false
	}
	enc, mac, found := strings.Cut(rest, ".")
	if !found {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(mac), []byte(s.forwardMAC(string(raw), requester))) {
		return "", "", false
	}
	id, targetNick, ok = strings.Cut(string(raw), "\x00")
	return id, targetNick, ok
}

func (s *Service) forwardMAC(payload, requester string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(requester))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
