package muc

import (
	"parley/archive"
	"parley/stanza"
)

// handle handles one stanza for the room. Until a new room is created
// and configured, it does not exist for anyone but its owner (XEP-0045
// §10.1.2).
func (r *room) handle(t task) {
	if (r.fresh && t.from.String() != r.creatorReal) ||
		(r.locked && r.affiliation(t.from.Bare().String()) != Owner) {
		if isOccupantPing(t) {
			// Not item-not-found, which would tell a client that
			// believes it is in the room that it still is (XEP-0410).
			r.refuse(t, errNotInRoom)
			return
		}
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
	res, err := r.svc.roomIQ.Dispatch(roomRequest{r, t}, t.el)
	r.svc.reply(t, res, err)
}

// roomRequest is an iq request to a room, as its handlers see it.
type roomRequest struct {
	r *room
	t task
}

// registerIQ registers the iq handlers of the service and of rooms.
func (s *Service) registerIQ() {
	getOnly := func(h func(*stanza.Element) (*stanza.Element, error)) func(task, *stanza.Element) (*stanza.Element, error) {
		return func(t task, q *stanza.Element) (*stanza.Element, error) {
			if t.el.Type() != "get" {
				return nil, stanza.ErrText("bad-request", "service discovery requests are of type get")
			}
			return h(q)
		}
	}
	s.serviceIQ.Handle(NSDiscoInfo, getOnly(s.serviceInfo))
	s.serviceIQ.Handle(NSDiscoItems, getOnly(s.serviceItems))
	s.serviceIQ.Handle(NSPing, func(task, *stanza.Element) (*stanza.Element, error) { return nil, nil })

	s.roomIQ.Handle(NSDiscoInfo, func(rq roomRequest, q *stanza.Element) (*stanza.Element, error) { return rq.r.discoInfo(rq.t, q) })
	s.roomIQ.Handle(NSDiscoItems, func(rq roomRequest, q *stanza.Element) (*stanza.Element, error) { return rq.r.discoItems(rq.t, q) })
	s.roomIQ.Handle(NSAdmin, func(rq roomRequest, q *stanza.Element) (*stanza.Element, error) { return rq.r.adminIQ(rq.t, q) })
	s.roomIQ.Handle(NSOwner, func(rq roomRequest, q *stanza.Element) (*stanza.Element, error) { return rq.r.ownerIQ(rq.t, q) })
	s.roomIQ.Handle(archive.NS, func(rq roomRequest, q *stanza.Element) (*stanza.Element, error) { return rq.r.mamIQ(rq.t, q) })
	s.roomIQ.Handle(NSPing, func(roomRequest, *stanza.Element) (*stanza.Element, error) { return nil, nil })
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
