// Package upload is the HTTP File Upload service (XEP-0363): a user asks
// the service's domain for a slot, gets a signed PUT URL to upload the
// file to and a GET URL to share, and the files are served from parley's
// HTTP server under /upload/ until they expire.
package upload

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rs/zerolog"

	"mellium.im/xmpp/jid"
	"parley/dataform"
	"parley/router"
	"parley/stanza"
)

// NS is the namespace of HTTP File Upload.
const NS = "urn:xmpp:http:upload:0"

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
)

// ServiceName is the name the service gives itself in service discovery.
const ServiceName = "HTTP File Upload"

// idLength is the length of a file ID: 24 bytes in base64url, 15 random
// and 9 of their signature.
const idLength = 32

// Options configure the service.
type Options struct {
	Domain       string
	Dir          string
	MaxFileSize  int64
	Quota        int64         // bytes per user; 0 means no limit
	Expire       time.Duration // how long files are kept
	SlotLifetime time.Duration // how long a PUT URL is valid
	ContentTypes []string      // accepted types or patterns; empty: any
	Secret       []byte        // signs URLs
	// BaseURL returns the HTTP server's base URL for the slots' URLs.
	BaseURL func() string
	// AllowOrigin reports whether a page from the request's Origin may
	// upload (CORS).
	AllowOrigin func(r *http.Request) bool
	Log         zerolog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Service is the upload service.
type Service struct {
	o         Options
	r         *router.Router
	files     *files
	observers []Observer
}

// Observer is told of each completed upload: the uploader's bare JID and
// the file's size in bytes. It runs on the upload's request and must
// return quickly.
type Observer func(owner string, size int64)

// Observe adds f to the observers of completed uploads. Observers are
// added while the server is set up, before it serves.
func (s *Service) Observe(f Observer) { s.observers = append(s.observers, f) }

// New opens the service's directory; Register puts it on the router.
func New(o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Secret) == 0 {
		return nil, fmt.Errorf("upload: no secret to sign URLs with")
	}
	f, err := openFiles(o.Dir, true)
	if err != nil {
		return nil, err
	}
	return &Service{o: o, files: f}, nil
}

// Register routes the service's domain to it, lists it in the server's
// service discovery items, and removes the files of deleted accounts.
func (s *Service) Register(r *router.Router) {
	s.r = r
	r.RegisterComponent(s.o.Domain, s.handle)
	r.AddItem(router.Item{JID: s.o.Domain, Name: ServiceName})
	r.OnAccountDeleted(func(ctx context.Context, bare jid.JID) { s.RemoveOwner(bare.String()) })
}

// RemoveOwner deletes every file owner (a bare JID) uploaded.
func (s *Service) RemoveOwner(owner string) {
	n, err := s.files.remove(func(fi *fileInfo) bool { return fi.Owner == owner })
	if err != nil {
		s.o.Log.Error().Err(err).Str("owner", owner).Msg("removing uploaded files failed")
	}
	if n > 0 {
		s.o.Log.Info().Str("owner", owner).Int("files", n).Msg("removed the files of a deleted account")
	}
}

// RemoveFiles deletes the files owner (a bare JID) uploaded to dir, for
// an account deleted while the server may not run (parley deluser); a
// running service forgets them when they are asked for. It returns how
// many files it removed.
func RemoveFiles(dir, owner string) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	f, err := openFiles(dir, false)
	if err != nil {
		return 0, err
	}
	return f.remove(func(fi *fileInfo) bool { return fi.Owner == owner })
}

// Run removes expired files now and then until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		s.Expire()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Expire removes the files that expired.
func (s *Service) Expire() {
	now := s.o.Now()
	n, err := s.files.remove(func(fi *fileInfo) bool { return now.After(fi.Expires) })
	if err != nil {
		s.o.Log.Error().Err(err).Msg("removing expired uploads failed")
	}
	if n > 0 {
		s.o.Log.Info().Int("files", n).Msg("removed expired uploads")
	}
}

// handle serves the stanzas to the service's domain.
func (s *Service) handle(ctx context.Context, el *stanza.Element) {
	if el.Local != "iq" {
		if el.Local == "message" && el.Type() != "error" {
			s.r.Bounce(ctx, el, stanza.ErrText("service-unavailable", "the upload service takes no messages"))
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
		res = stanza.New(nsDiscoItems, "query")
	case typ == "get" && q.Space == NS && q.Local == "request":
		res, err = s.slot(el, q)
	default:
		err = stanza.ErrText("service-unavailable", "the upload service does not support this request")
	}
	if err != nil {
		se, ok := err.(stanza.Error)
		if !ok {
			s.o.Log.Error().Err(err).Msg("upload request failed")
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

// info answers disco#info: the identity, the feature and the maximum
// file size form (XEP-0363 §3).
func (s *Service) info(q *stanza.Element) (*stanza.Element, error) {
	if q.HasAttr("node") {
		return nil, stanza.ErrText("item-not-found", "unknown node")
	}
	form := dataform.New("result", NS)
	form.Append(dataform.Field("max-file-size", "", "", strconv.FormatInt(s.o.MaxFileSize, 10)))
	return stanza.New(nsDiscoInfo, "query").Append(
		stanza.New(nsDiscoInfo, "identity", "category", "store", "type", "file", "name", ServiceName),
		stanza.New(nsDiscoInfo, "feature", "var", nsDiscoInfo),
		stanza.New(nsDiscoInfo, "feature", "var", NS),
		form,
	), nil
}

// slot answers a slot request (XEP-0363 §4) from a local user.
func (s *Service) slot(iq, req *stanza.Element) (*stanza.Element, error) {
	from, err := jid.Parse(iq.From())
	if err != nil || from.Localpart() == "" || !s.r.Serves(from.Domainpart()) {
		return nil, stanza.ErrText("forbidden", "only users of this server may upload files")
	}
	owner := from.Bare().String()
	name := cleanName(req.Attr("filename"))
	if name == "" {
		return nil, stanza.ErrText("bad-request", "the request needs a filename")
	}
	size, err := strconv.ParseInt(req.Attr("size"), 10, 64)
	if err != nil || size < 0 {
		return nil, stanza.ErrText("bad-request", "the request needs the file's size in bytes")
	}
	if size > s.o.MaxFileSize {
		return nil, stanza.Error{
			Type:      stanza.ErrorModify,
			Condition: "not-acceptable",
			Text:      fmt.Sprintf("the file is too large: at most %d bytes are accepted", s.o.MaxFileSize),
			Extra:     stanza.New(NS, "file-too-large").Append(stanza.New(NS, "max-file-size").AppendText(strconv.FormatInt(s.o.MaxFileSize, 10))),
		}
	}
	ctype := req.Attr("content-type")
	if ctype != "" {
		mt, _, err := mime.ParseMediaType(ctype)
		if err != nil || !strings.Contains(mt, "/") {
			return nil, stanza.ErrText("bad-request", "the content-type is not a media type")
		}
		ctype = mt
	}
	if !s.acceptedType(ctype) {
		return nil, stanza.Error{Type: stanza.ErrorModify, Condition: "not-acceptable", Text: fmt.Sprintf("files of type %q are not accepted here; accepted: %s", ctype, strings.Join(s.o.ContentTypes, ", "))}
	}
	if s.o.Quota > 0 && s.files.usage(owner)+size > s.o.Quota {
		return nil, stanza.Error{Type: stanza.ErrorWait, Condition: "resource-constraint", Text: fmt.Sprintf("the upload quota of %d bytes is used up; files expire after %s", s.o.Quota, s.o.Expire)}
	}
	id := s.newID()
	base := s.o.BaseURL() + "/upload/" + id + "/" + url.PathEscape(name)
	expires := strconv.FormatInt(s.o.Now().Add(s.o.SlotLifetime).Unix(), 10)
	q := url.Values{"owner": {owner}, "size": {strconv.FormatInt(size, 10)}, "expires": {expires}}
	if ctype != "" {
		q.Set("type", ctype)
	}
	q.Set("sig", s.putSignature(id, name, q))
	put := stanza.New(NS, "put", "url", base+"?"+q.Encode())
	return stanza.New(NS, "slot").Append(put, stanza.New(NS, "get", "url", base)), nil
}

// acceptedType reports whether uploads of content type t are accepted.
func (s *Service) acceptedType(t string) bool {
	if len(s.o.ContentTypes) == 0 {
		return true
	}
	for _, p := range s.o.ContentTypes {
		if ok, _ := path.Match(p, t); ok {
			return true
		}
	}
	return false
}

func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.o.Secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// newID makes a file ID: random bytes signed, so that a download of an
// ID the service never made is refused without looking for it.
func (s *Service) newID() string {
	b := make([]byte, 24)
	rand.Read(b[:15])
	copy(b[15:], s.mac("id", string(b[:15]))[:9])
	return base64.RawURLEncoding.EncodeToString(b)
}

// signedID reports whether id is one the service made.
func (s *Service) signedID(id string) bool {
	if !validID(id) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != 24 {
		return false
	}
	return hmac.Equal(b[15:], s.mac("id", string(b[:15]))[:9])
}

// putSignature signs an upload of name to id with the slot's terms in q.
func (s *Service) putSignature(id, name string, q url.Values) string {
	return hex.EncodeToString(s.mac("put", id, name, q.Get("owner"), q.Get("size"), q.Get("type"), q.Get("expires")))
}

// cleanName makes a client's filename safe to show and to put in a URL
// path: the last path element, without control characters, at most 128
// characters.
func cleanName(name string) string {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 128 {
		name = string(r[len(r)-128:])
	}
	name = strings.Trim(name, " .")
	return name
}
