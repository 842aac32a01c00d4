package muc

import (
	"fmt"
	"parley/archive"
	"parley/dataform"
	"slices"
	"strconv"
	"strings"

	"parley/stanza"
)

// ServiceName is the name the service gives itself in service discovery.
const ServiceName = "Chatrooms"

// serviceInfo answers disco#info to the service (XEP-0045 §6.1).
func (s *Service) serviceInfo(q *stanza.Element) (*stanza.Element, error) {
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	out := stanza.New(NSDiscoInfo, "query").Append(
		stanza.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", ServiceName))
	for _, f := range []string{NSDiscoInfo, NSDiscoItems, NS, NSSelfPing} {
		out.Append(stanza.New(NSDiscoInfo, "feature", "var", f))
	}
	return out, nil
}

// serviceItems lists the public rooms with their occupant counts (XEP-0045
// §6.3); hidden rooms and rooms not configured yet are left out.
func (s *Service) serviceItems(q *stanza.Element) (*stanza.Element, error) {
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	type listed struct {
		jid, name string
	}
	var rooms []listed
	s.mu.RLock()
	for _, r := range s.rooms {
		if sum := r.summary.Load(); sum != nil && sum.listed {
			rooms = append(rooms, listed{r.addr, fmt.Sprintf("%s (%d)", sum.name, sum.occupants)})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(rooms, func(a, b listed) int { return strings.Compare(a.jid, b.jid) })
	out := stanza.New(NSDiscoItems, "query")
	for _, r := range rooms {
		out.Append(stanza.New(NSDiscoItems, "item", "jid", r.jid, "name", r.name))
	}
	return out, nil
}

// discoInfo answers disco#info to the room (XEP-0045 §6.4): its identity,
// its muc_* features and the muc#roominfo form.
func (r *room) discoInfo(t task, q *stanza.Element) (*stanza.Element, error) {
	if t.el.Type() != "get" {
		return nil, stanza.ErrText("bad-request", "disco#info only supports iq get")
	}
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	name := r.cfg.Name
	if name == "" {
		name = r.name
	}
	out := stanza.New(NSDiscoInfo, "query").Append(
		stanza.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", name))
	pick := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	features := []string{
		NS, NSDiscoInfo, NSDiscoItems, NSStanzaID, NSRequest, NSSelfPing, NSOccupantID,
		pick(r.cfg.Public, "muc_public", "muc_hidden"),
		pick(r.cfg.Persistent, "muc_persistent", "muc_temporary"),
		pick(r.cfg.MembersOnly, "muc_membersonly", "muc_open"),
		pick(r.cfg.Password != "", "muc_passwordprotected", "muc_unsecured"),
		pick(r.cfg.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(r.cfg.NonAnonymous, "muc_nonanonymous", "muc_semianonymous"),
	}
	if r.archived() {
		features = append(features, archive.NS, archive.NSExtended)
	}
	for _, f := range features {
		out.Append(stanza.New(NSDiscoInfo, "feature", "var", f))
	}
	x := dataform.New("result", NSRoomInfo)
	x.Append(
		dataform.Field("muc#roominfo_description", "text-single", "Description", r.cfg.Description),
		dataform.Field("muc#roominfo_occupants", "text-single", "Number of occupants", strconv.Itoa(len(r.occupants))),
		dataform.Field("muc#roominfo_subject", "text-single", "Subject", r.subject),
		dataform.Field("muc#roominfo_subjectmod", "boolean", "Participants may change the subject", dataform.FormatBoolean(r.cfg.ChangeSubject)),
		dataform.Field(fieldName, "text-single", "Room name", name),
		dataform.Field(fieldHistory, "text-single", "Messages replayed to new occupants", strconv.Itoa(r.cfg.HistoryLength)),
		dataform.Field("muc#roomconfig_maxusers", "text-single", "Maximum number of occupants", strconv.Itoa(r.cfg.MaxUsers)),
	)
	return out.Append(x), nil
}

// discoItems answers disco#items to the room (XEP-0045 §6.5): occupants
// of a non-anonymous room see the occupant JIDs; everyone else gets an
// empty list, so that the room reveals nobody to strangers.
func (r *room) discoItems(t task, q *stanza.Element) (*stanza.Element, error) {
	if t.el.Type() != "get" {
		return nil, stanza.ErrText("bad-request", "disco#items only supports iq get")
	}
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	out := stanza.New(NSDiscoItems, "query")
	if !r.cfg.NonAnonymous || r.byJID[t.from.String()] == nil {
		return out, nil
	}
	for _, v := range r.occupants {
		out.Append(stanza.New(NSDiscoItems, "item", "jid", r.occupantJID(v.nick), "name", v.nick))
	}
	return out, nil
}
