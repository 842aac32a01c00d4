package proxy65

import (
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
)

// handle serves the stanzas to the proxy's domain.
func (s *Service) handle(ctx context.Context, el *stanza.Element) {
	if el.Local != "iq" {
		if el.Local == "message" && el.Type() != "error" {
			s.r.Bounce(ctx, el, stanza.ErrText("service-unavailable", "the bytestreams proxy takes no messages"))
		}
		return
	}
	typ := el.Type()
	if typ != "get" && typ != "set" {
		return
	}
	if to, err := jid.Parse(el.To()); err != nil || to.Localpart() != "" || to.Resourcepart() != "" {
		s.r.Bounce(ctx, el, stanza.ErrText("service-unavailable", "there is nothing at this address"))
		return
	}
	q := el.FirstElement()
	var res *stanza.Element
	var err error
	switch {
	case q == nil:
		err = stanza.ErrText("bad-request", "the request has no payload")
	case typ == "get" && q.Space == nsDiscoInfo && q.Local == "query":
		res, err = s.info(q)
	case typ == "get" && q.Space == nsDiscoItems && q.Local == "query":
		if q.HasAttr("node") {
			err = stanza.ErrText("item-not-found", "unknown node")
		} else {
			res = stanza.New(nsDiscoItems, "query")
		}
	case typ == "get" && q.Space == NS && q.Local == "query":
		res, err = s.networkAddress(el)
	case typ == "set" && q.Space == NS && q.Local == "query":
		err = s.activation(el, q)
	default:
		err = stanza.ErrText("service-unavailable", "the bytestreams proxy does not support this request")
	}
	if err != nil {
		se, ok := err.(stanza.Error)
		if !ok {
			s.o.Log.Error().Err(err).Msg("bytestreams request failed")
			se = stanza.Err("internal-server-error")
		}
		s.r.Bounce(ctx, el, se)
		return
	}
	reply := stanza.Result(el)
	if res != nil {
		reply.Append(res)
	}
	s.r.Deliver(ctx, reply)
}

// info answers disco#info: the proxy's identity and features (XEP-0065
// §4).
func (s *Service) info(q *stanza.Element) (*stanza.Element, error) {
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	return stanza.New(nsDiscoInfo, "query").Append(
		stanza.New(nsDiscoInfo, "identity", "category", "proxy", "type", "bytestreams", "name", ServiceName),
		stanza.New(nsDiscoInfo, "feature", "var", nsDiscoInfo),
		stanza.New(nsDiscoInfo, "feature", "var", NS),
	), nil
}

// localUser returns the sender of iq if it is a user of the server's
// domains; anyone else is forbidden to use the proxy.
func (s *Service) localUser(iq *stanza.Element) (jid.JID, error) {
	from, err := s.r.ParseJID(iq.From())
	if err != nil || from.Localpart() == "" || !s.r.Serves(from.Domainpart()) {
		return jid.JID{}, stanza.Error{Type: stanza.ErrorAuth, Condition: "forbidden", Text: "only users of this server may use its bytestreams proxy"}
	}
	return from, nil
}

// networkAddress answers a local user's request for the proxy's
// network address (XEP-0065 §4).
func (s *Service) networkAddress(iq *stanza.Element) (*stanza.Element, error) {
	if _, err := s.localUser(iq); err != nil {
		return nil, err
	}
	host, port := s.streamhost()
	return stanza.New(NS, "query").Append(
		stanza.New(NS, "streamhost", "jid", s.o.Domain, "host", host, "port", port),
	), nil
}

// activation answers the initiator's request to activate a bytestream
// (XEP-0065 §6.3.5): the hash of the sid, the sender's JID and the
// target's JID names the bytestream, so only its initiator can activate
// it.
func (s *Service) activation(iq, q *stanza.Element) error {
	from, err := s.localUser(iq)
	if err != nil {
		return err
	}
	sid := q.Attr("sid")
	if sid == "" {
		return stanza.ErrText("bad-request", "the request needs the bytestream's sid")
	}
	act := q.Child(NS, "activate")
	if act == nil {
		return stanza.ErrText("bad-request", "the proxy only takes activation requests")
	}
	target, err := s.r.ParseJID(strings.TrimSpace(act.Text()))
	if err != nil || target.Domainpart() == "" {
		return stanza.ErrText("jid-malformed", "the activate element must hold the target's JID")
	}
	switch err := s.activate(sid, from.String(), target.String()); {
	case err == nil:
		return nil
	case errors.Is(err, errNoStream):
		return stanza.ErrText("item-not-found", "no bytestream with this sid from you to this target is connected to the proxy")
	case errors.Is(err, errOneParty), errors.Is(err, errActive):
		return stanza.ErrText("not-allowed", err.Error())
	default:
		return err
	}
}
