package muc

import (
	"context"
	"parley/dataform"
	"slices"

	"parley/stanza"
)

// ownerIQ answers the muc#owner namespace (XEP-0045 §10): the
// configuration form, its submission or cancellation, and destruction.
func (r *room) ownerIQ(t task, q *stanza.Element) (*stanza.Element, error) {
	if r.affiliation(t.from.Bare().String()) != Owner {
		return nil, stanza.ErrText("forbidden", "only owners may configure or destroy the room")
	}
	if t.el.Type() == "get" {
		if len(q.Elements()) > 0 {
			return nil, stanza.ErrText("bad-request", "a muc#owner get asks for the configuration form with an empty query")
		}
		return stanza.New(NSOwner, "query").Append(configForm(r.addr, r.cfg, r.svc.policy)), nil
	}
	if d := q.Child(NSOwner, "destroy"); d != nil {
		r.destroy(t.ctx, d)
		return nil, nil
	}
	x := q.Child(NSData, "x")
	if x == nil {
		return nil, stanza.ErrText("bad-request", "a muc#owner set carries a data form or <destroy/>")
	}
	f := dataform.Parse(x)
	switch f.Type {
	case "cancel":
		// Cancelling the initial configuration destroys the new room
		// (XEP-0045 §10.1.3); later, it changes nothing.
		if r.locked {
			r.destroy(t.ctx, nil)
		}
		return nil, nil
	case "submit":
	default:
		return nil, stanza.ErrText("bad-request", "the configuration form must be of type submit or cancel")
	}
	cfg, err := applyConfigForm(f, r.cfg, r.svc.policy)
	if err != nil {
		return nil, err
	}
	r.configure(t.ctx, cfg)
	return nil, nil
}

// configure applies a new configuration, unlocking a new room, and tells
// the occupants what changed (XEP-0045 §10.2.1).
func (r *room) configure(ctx context.Context, cfg RoomConfig) {
	old, wasLocked := r.cfg, r.locked
	r.cfg, r.locked = cfg, false
	r.history.setLimit(cfg.HistoryLength)
	if r.stored {
		r.svc.saveRoom(ctx, r)
	}
	if wasLocked {
		r.svc.log.Info().Str("room", r.addr).Msg("group-chat room configured and unlocked")
	}
	var codes []int
	if !wasLocked && otherChange(old, cfg) {
		codes = append(codes, StatusConfigChanged)
	}
	switch {
	case cfg.logged() && !old.logged():
		codes = append(codes, StatusLogged)
	case !cfg.logged() && old.logged():
		codes = append(codes, StatusNotLogged)
	}
	switch {
	case cfg.NonAnonymous && !old.NonAnonymous:
		codes = append(codes, StatusNowNonAnonymous)
	case !cfg.NonAnonymous && old.NonAnonymous:
		codes = append(codes, StatusNowSemiAnonymous)
	}
	r.notify(ctx, codes...)
	if cfg.MembersOnly && !old.MembersOnly {
		for _, o := range slices.Clone(r.occupants) {
			if r.affiliation(o.bare) < Member {
				r.leave(ctx, o, event{unavailable: true, gone: true, codes: []int{StatusMembersOnly}}, true)
			}
		}
	}
}

// otherChange reports whether cfg differs from old in more than what the
// privacy-related codes announce (anonymity, and logging when it starts or
// stops), which alone do not make a change worth status 104.
func otherChange(old, cfg RoomConfig) bool {
	cfg.NonAnonymous = old.NonAnonymous
	if cfg.logged() != old.logged() {
		cfg.Logging = old.Logging
	}
	return old != cfg
}

// destroy ends the room (XEP-0045 §10.9): every occupant gets its own
// unavailable presence with the <destroy/> (alternate venue and reason)
// the owner gave, and the room is deleted, with its stored history.
func (r *room) destroy(ctx context.Context, req *stanza.Element) {
	d := stanza.New(NSUser, "destroy")
	if req != nil {
		if venue := req.Attr("jid"); venue != "" {
			if j, err := r.svc.r.ParseJID(venue); err == nil {
				d.SetAttr("jid", j.String())
			}
		}
		if reason := req.Child(NSOwner, "reason"); reason != nil {
			d.Append(stanza.New(NSUser, "reason").AppendText(reason.Text()))
		}
		if pw := req.Child(NSOwner, "password"); pw != nil {
			d.Append(stanza.New(NSUser, "password").AppendText(pw.Text()))
		}
	}
	for _, o := range slices.Clone(r.occupants) {
		r.sendTo(ctx, r.about(o, true, event{unavailable: true, destroyed: true, destroy: d}), o.real)
		r.removeOccupant(o)
	}
	if r.stored {
		r.svc.forgetRoom(ctx, r)
		r.stored = false
	}
	r.destroyed = true
	r.svc.log.Info().Str("room", r.addr).Msg("group-chat room destroyed")
}
