package muc

import (
	"parley/archive"
	"parley/router"
	"parley/stanza"
)

// archived reports whether the room keeps an archive: persistent rooms
// with logging on store every message, and answer archive queries on
// the room's JID (XEP-0313 for MUC).
func (r *room) archived() bool { return r.stored && r.cfg.Logging && r.svc.archives != nil }

// mamIQ answers an archive request to the room: the query form, a query,
// or the archive's metadata. Anyone who may enter the room may read it:
// in members-only rooms, members and above; never banned users.
func (r *room) mamIQ(t task, q *stanza.Element) (*stanza.Element, error) {
	if !r.archived() {
		return nil, stanza.ErrText("service-unavailable", "this room keeps no archive")
	}
	aff := r.affiliation(t.from.Bare().String())
	if aff == Outcast || (r.cfg.MembersOnly && aff < Member) {
		return nil, stanza.ErrText("forbidden", "only those who may enter the room may read its archive")
	}
	switch {
	case q.Local == "query" && t.el.Type() == "set":
		req, err := archive.ParseQuery(q, r.svc.maxArchivePage)
		if err != nil {
			return nil, err
		}
		// The query runs beside the room, which goes on with its
		// messages; the results, then the iq result, go out in order.
		go r.svc.runArchiveQuery(t, r.addr, req)
		return nil, router.ErrAnswered
	case q.Local == "query":
		return archive.QueryForm(), nil
	case q.Local == "metadata" && t.el.Type() == "get":
		if err := r.svc.archiveWriter.Sync(t.ctx); err != nil {
			return nil, err
		}
		return archive.Metadata(t.ctx, r.svc.archives, r.addr)
	}
	return nil, stanza.ErrText("bad-request", "unknown archive request <"+q.Local+"/>")
}

// runArchiveQuery sends the results of an archive query of room to the
// requester, then the iq result.
func (s *Service) runArchiveQuery(t task, room string, req archive.Request) {
	if err := s.archiveWriter.Sync(t.ctx); err != nil {
		s.refuse(t, err)
		return
	}
	fin, err := archive.Run(t.ctx, s.archives, room, t.from.String(), req, func(el *stanza.Element) {
		s.r.Deliver(t.ctx, el)
	})
	s.reply(t, fin, err)
}
