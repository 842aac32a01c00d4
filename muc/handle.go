package muc

import (
	"parley/stanza"
)

// handle handles one stanza for the room. Until a new room is created
// and configured, it does not exist for anyone but its owner (XEP-0045
// §10.1.2).
func (r *room) handle(t task) {
	if (r.fresh && t.from.String() != r.creatorReal) ||
		(r.locked && r.affiliation(t.from.Bare().String()) != Owner) {
		if expectsAnswer(t.el) {
			r.refuse(t, stanza.ErrText("item-not-found", "the room is locked until its owner configures it"))
		}
		return
	}
	switch t.el.Kind() {
	case "presence":
		r.handlePresence(t)
	case "message":
		r.handleMessage(t)
	case "iq":
		r.handleIQ(t)
	}
}

// handleIQ answers an IQ to the room, or passes one to an occupant on.
func (r *room) handleIQ(t task) {
	if nick := t.to.Resourcepart(); nick != "" {
		r.occupantIQ(t, nick)
		return
	}
	if typ := t.el.Type(); typ != "get" && typ != "set" {
		return
	}
	payloads := t.el.Elements()
	if len(payloads) != 1 {
		r.refuse(t, stanza.ErrText("bad-request", "iq get and set must carry exactly one child element"))
		return
	}
	q := payloads[0]
	var (
		res *stanza.Element
		err error
	)
	switch q.Space {
	case NSDiscoInfo:
		res, err = r.discoInfo(t, q)
	case NSDiscoItems:
		res, err = r.discoItems(t, q)
	case NSAdmin:
		res, err = r.adminIQ(t, q)
	case NSOwner:
		res, err = r.ownerIQ(t, q)
	case NSPing:
		res, err = nil, nil
	default:
		err = stanza.ErrText("service-unavailable", "the room does not support "+q.Space)
	}
	r.svc.reply(t, res, err)
}

// expectsAnswer reports whether a refused stanza gets an error back:
// messages and IQ requests do, and presence that tries to join; errors,
// results and other presence do not.
func expectsAnswer(el *stanza.Element) bool {
	switch el.Kind() {
	case "message":
		return el.Type() != "error"
	case "iq":
		return el.Type() == "get" || el.Type() == "set"
	case "presence":
		return el.Type() == ""
	}
	return false
}
