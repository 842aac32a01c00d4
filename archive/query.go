package archive

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"parley/dataform"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Namespaces of Message Archive Management (XEP-0313) and the protocols
// it rests on.
const (
	NS         = "urn:xmpp:mam:2"
	NSExtended = "urn:xmpp:mam:2#extended"
	NSStanzaID = "urn:xmpp:sid:0"
	NSForward  = "urn:xmpp:forward:0"
	NSRSM      = "http://jabber.org/protocol/rsm"
)

// DefaultPage is the page size of a query that names none (capped by the
// archive's own maximum).
const DefaultPage = 50

// maxIDs bounds the ids field of one query.
const maxIDs = 250

// idNote is the key under which the archiving hook notes, on the event of
// an outgoing message, the ID the sender's archive gave it.
type idNote struct{}

// NoteID records on ev that the archive of by gave the stanza the ID id.
func NoteID(ev *router.Event, by, id string) {
	ev.Note(idNote{}, stanza.New(NSStanzaID, "stanza-id", "by", by, "id", id))
}

// NotedID returns the <stanza-id/> an archive gave the stanza of ev,
// noted by NoteID, or nil.
func NotedID(ev *router.Event) *stanza.Element {
	el, _ := ev.Noted(idNote{}).(*stanza.Element)
	return el
}

// NewID returns a new archive ID (XEP-0359 stanza ID): 96 random bits,
// URL-safe, unpredictable as XEP-0313 requires.
func NewID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// QueryForm is the form of supported query fields (XEP-0313 §4.1.4).
func QueryForm() *stanza.Element {
	x := dataform.New("form", NS)
	x.Append(
		dataform.Field("with", "jid-single", ""),
		dataform.Field("start", "text-single", ""),
		dataform.Field("end", "text-single", ""),
		dataform.Field("before-id", "text-single", ""),
		dataform.Field("after-id", "text-single", ""),
		dataform.Field("ids", "list-multi", "").Append(
			stanza.New("http://jabber.org/protocol/xdata-validate", "validate", "datatype", "xs:string").
				Append(stanza.New("http://jabber.org/protocol/xdata-validate", "open"))),
	)
	return stanza.New(NS, "query").Append(x)
}

// Request is a parsed archive query.
type Request struct {
	Query   storage.ArchiveQuery
	QueryID string // the client's queryid, echoed in results
	Flip    bool   // send the page newest first (XEP-0313 flip-page)
	Count   bool   // RSM max of 0: only the number of matches is wanted
}

// ParseQuery reads a <query xmlns='urn:xmpp:mam:2'/> into a storage query
// with its page size capped at maxPage. Errors are stanza errors.
func ParseQuery(p *stanza.Element, maxPage int) (Request, error) {
	r := Request{QueryID: p.Attr("queryid")}
	if p.HasAttr("node") {
		return r, stanza.ErrText("item-not-found", "this archive has no nodes")
	}
	if x := p.Child(dataform.NS, "x"); x != nil {
		if err := r.applyForm(dataform.Parse(x)); err != nil {
			return r, err
		}
	}
	r.Query.Max = min(DefaultPage, maxPage)
	if set := p.Child(NSRSM, "set"); set != nil {
		if err := r.applyRSM(set, maxPage); err != nil {
			return r, err
		}
	}
	r.Flip = p.Child(NS, "flip-page") != nil
	return r, nil
}

func (r *Request) applyForm(f dataform.Form) error {
	if t := f.FormType(); t != NS {
		return stanza.ErrText("bad-request", "the query form's FORM_TYPE must be "+NS)
	}
	for name, vals := range f.Values {
		v := ""
		if len(vals) > 0 {
			v = strings.TrimSpace(vals[0])
		}
		switch name {
		case "FORM_TYPE":
		case "with":
			j, err := jid.Parse(v)
			if err != nil {
				return stanza.ErrText("jid-malformed", "the with field is not a valid JID")
			}
			r.Query.With = j.String()
		case "start", "end":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return stanza.ErrText("bad-request", "the "+name+" field is not a XEP-0082 date and time")
			}
			if name == "start" {
				r.Query.Start = t.UTC()
			} else {
				// Stamps go out to the millisecond: an end echoed from
				// one covers the whole millisecond it names.
				if t.Nanosecond()%int(time.Millisecond) == 0 {
					t = t.Add(time.Millisecond - 1)
				}
				r.Query.End = t.UTC()
			}
		case "before-id":
			r.Query.BeforeID = v
		case "after-id":
			r.Query.AfterID = v
		case "ids":
			if len(vals) > maxIDs {
				return stanza.ErrText("policy-violation", "at most "+strconv.Itoa(maxIDs)+" ids per query")
			}
			r.Query.IDs = slices.Clone(vals)
		default:
			// XEP-0313 §4.1.4: a field the server does not recognise.
			return stanza.ErrText("feature-not-implemented", "the query field "+name+" is not supported")
		}
	}
	return nil
}

func (r *Request) applyRSM(set *stanza.Element, maxPage int) error {
	if set.Child(NSRSM, "index") != nil {
		return stanza.ErrText("feature-not-implemented", "paging by index is not supported; use after and before")
	}
	if mx := set.Child(NSRSM, "max"); mx != nil {
		n, err := strconv.Atoi(strings.TrimSpace(mx.Text()))
		if err != nil || n < 0 {
			return stanza.ErrText("bad-request", "max must be a number of zero or more")
		}
		r.Count = n == 0
		r.Query.Max = min(max(n, 1), maxPage)
	}
	after, before := set.Child(NSRSM, "after"), set.Child(NSRSM, "before")
	if after != nil && before != nil {
		return stanza.ErrText("bad-request", "after and before together are undefined; use after-id and before-id")
	}
	if after != nil {
		id := strings.TrimSpace(after.Text())
		if id == "" || (r.Query.AfterID != "" && r.Query.AfterID != id) {
			return stanza.ErrText("bad-request", "after needs an archive ID, agreeing with after-id")
		}
		r.Query.AfterID = id
	}
	if before != nil {
		r.Query.Last = true
		if id := strings.TrimSpace(before.Text()); id != "" {
			if r.Query.BeforeID != "" && r.Query.BeforeID != id {
				return stanza.ErrText("bad-request", "before disagrees with before-id")
			}
			r.Query.BeforeID = id
		}
	}
	return nil
}

// Run runs req against the archive of owner (a user's or a room's bare
// JID): each matching message goes to send, wrapped for the requester
// (XEP-0313 §4.2) and addressed to to, and the returned <fin/> is the
// payload of the iq result that must follow them. Errors are stanza
// errors or storage failures.
func Run(ctx context.Context, store storage.Archives, owner, to string, req Request, send func(*stanza.Element)) (*stanza.Element, error) {
	fin := stanza.New(NS, "fin")
	set := stanza.New(NSRSM, "set")
	if req.Count {
		n, err := store.CountArchive(ctx, owner, req.Query)
		if err != nil {
			return nil, storageErr(err)
		}
		return fin.Append(set.Append(stanza.New(NSRSM, "count").AppendText(strconv.Itoa(n)))), nil
	}
	page, complete, err := store.QueryArchive(ctx, owner, req.Query)
	if err != nil {
		return nil, storageErr(err)
	}
	order := page
	if req.Flip {
		order = slices.Clone(page)
		slices.Reverse(order)
	}
	for _, am := range order {
		orig, err := stanza.ParseBytes(am.Stanza)
		if err != nil {
			continue // unreadable; the page's first and last still name it
		}
		result := stanza.New(NS, "result", "id", am.ID)
		if req.QueryID != "" {
			result.SetAttr("queryid", req.QueryID)
		}
		result.Append(stanza.New(NSForward, "forwarded").Append(
			stanza.New(stanza.NSDelay, "delay", "stamp", am.Stamp.UTC().Format(stanza.StampLayout)),
			orig))
		send(stanza.New("", "message", "to", to, "from", owner, "id", NewID()).Append(result))
	}
	if complete {
		fin.SetAttr("complete", "true")
	}
	if len(page) > 0 {
		set.Append(
			stanza.New(NSRSM, "first").AppendText(page[0].ID),
			stanza.New(NSRSM, "last").AppendText(page[len(page)-1].ID))
	}
	return fin.Append(set), nil
}

// Metadata returns the <metadata/> of an archive: its first and last
// message (XEP-0313 §5).
func Metadata(ctx context.Context, store storage.Archives, owner string) (*stanza.Element, error) {
	md := stanza.New(NS, "metadata")
	first, _, err := store.QueryArchive(ctx, owner, storage.ArchiveQuery{Max: 1})
	if err != nil {
		return nil, storageErr(err)
	}
	last, _, err := store.QueryArchive(ctx, owner, storage.ArchiveQuery{Max: 1, Last: true})
	if err != nil {
		return nil, storageErr(err)
	}
	if len(first) > 0 && len(last) > 0 {
		md.Append(
			stanza.New(NS, "start", "id", first[0].ID, "timestamp", first[0].Stamp.UTC().Format(stanza.StampLayout)),
			stanza.New(NS, "end", "id", last[0].ID, "timestamp", last[0].Stamp.UTC().Format(stanza.StampLayout)))
	}
	return md, nil
}

// storageErr maps storage errors to stanza errors.
func storageErr(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.ErrText("item-not-found", "no message with that ID in the archive")
	}
	return err
}
