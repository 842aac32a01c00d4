package mam

import (
	"context"

	"parley/archive"
	"parley/router"
	"parley/stanza"
)

// handleIQ answers archive queries, the query form, archive metadata and
// preferences; only the account itself may ask.
func (m *Module) handleIQ(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if !iq.Own() || iq.Resource == nil {
		return nil, stanza.ErrText("forbidden", "only the account itself may use its archive")
	}
	owner := iq.To.Bare().String()
	p := iq.Payload
	switch {
	case p.Local == "query" && iq.Set():
		return nil, m.query(ctx, iq, owner)
	case p.Local == "query":
		return archive.QueryForm(), nil
	case p.Local == "metadata" && !iq.Set():
		if err := m.writer.Sync(ctx); err != nil {
			return nil, err
		}
		return archive.Metadata(ctx, m.store, owner)
	case p.Local == "prefs" && iq.Set():
		np, err := parsePrefs(p)
		if err != nil {
			return nil, errPrefsStanza(err)
		}
		if err := m.prefs.set(ctx, owner, np); err != nil {
			return nil, err
		}
		return np.element(), nil
	case p.Local == "prefs":
		return m.prefs.get(ctx, owner).element(), nil
	}
	return nil, stanza.ErrText("bad-request", "unknown archive request <"+p.Local+"/>")
}

// query runs an archive query: the matching messages go to the asking
// resource, then the iq result with the <fin/>, the same way, so it
// arrives after them.
func (m *Module) query(ctx context.Context, iq *router.IQ, owner string) error {
	req, err := archive.ParseQuery(iq.Payload, m.maxPage)
	if err != nil {
		return err
	}
	// Messages archived before the query must be found.
	if err := m.writer.Sync(ctx); err != nil {
		return err
	}
	fin, err := archive.Run(ctx, m.store, owner, iq.Resource.JID.String(), req, func(el *stanza.Element) {
		m.r.Send(ctx, iq.Resource, el)
	})
	if err != nil {
		return err
	}
	res := stanza.Result(iq.Stanza)
	res.SetAttr("from", iq.Stanza.To())
	m.r.Send(ctx, iq.Resource, res.Append(fin))
	return router.ErrAnswered
}
