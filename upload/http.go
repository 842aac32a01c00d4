package upload

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Handler returns the HTTP handler of /upload/: PUT to a slot's URL
// stores the file, GET and HEAD serve it (with Range), OPTIONS answers
// browsers' CORS preflight.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /upload/{id}/{name}", s.put)
	mux.HandleFunc("GET /upload/{id}/{name}", s.get)
	mux.HandleFunc("OPTIONS /upload/{id}/{name}", s.preflight)
	mux.HandleFunc("/upload/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such file", http.StatusNotFound)
	})
	return mux
}

// cors allows the page of an allowed origin to read the response.
func (s *Service) cors(w http.ResponseWriter, r *http.Request, anyOrigin bool) bool {
	origin := r.Header.Get("Origin")
	switch {
	case origin == "":
	case anyOrigin:
		w.Header().Set("Access-Control-Allow-Origin", "*")
	case s.o.AllowOrigin != nil && s.o.AllowOrigin(r):
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	default:
		return false
	}
	return true
}

func (s *Service) preflight(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r, r.Header.Get("Access-Control-Request-Method") != http.MethodPut) {
		http.Error(w, "pages from origin "+r.Header.Get("Origin")+" may not upload here", http.StatusForbidden)
		return
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// put stores an upload to a slot (XEP-0363 §5): the URL's signature and
// expiry, the size and the content type are checked; a slot takes one
// upload.
func (s *Service) put(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r, false) {
		http.Error(w, "pages from origin "+r.Header.Get("Origin")+" may not upload here", http.StatusForbidden)
		return
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	q := r.URL.Query()
	if !s.signedID(id) || !hmac.Equal([]byte(q.Get("sig")), []byte(s.putSignature(id, name, q))) {
		http.Error(w, "this upload URL is not valid: ask for a new slot", http.StatusForbidden)
		return
	}
	expires, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
	if s.o.Now().After(time.Unix(expires, 0)) {
		http.Error(w, "this upload URL expired: ask for a new slot", http.StatusForbidden)
		return
	}
	size, _ := strconv.ParseInt(q.Get("size"), 10, 64)
	if r.ContentLength >= 0 && r.ContentLength != size {
		status := http.StatusBadRequest
		if r.ContentLength > size {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, fmt.Sprintf("the slot is for %d bytes, not %d", size, r.ContentLength), status)
		return
	}
	if want := q.Get("type"); want != "" {
		got, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if !strings.EqualFold(got, want) {
			http.Error(w, fmt.Sprintf("the slot is for content of type %s, not %q", want, r.Header.Get("Content-Type")), http.StatusBadRequest)
			return
		}
	}
	// The upload may take a minute plus a second per 32 KiB of its size:
	// a client that trickles it slower is cut.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute + time.Duration(size/(32<<10))*time.Second))
	now := s.o.Now()
	fi := fileInfo{ID: id, Owner: q.Get("owner"), Name: name, Size: size, ContentType: q.Get("type"), Created: now.UTC(), Expires: now.Add(s.o.Expire).UTC()}
	err := s.files.put(fi, r.Body, s.o.Quota)
	var sizeErr errSize
	switch {
	case err == nil:
		s.o.Log.Info().Str("owner", fi.Owner).Int64("bytes", size).Msg("file uploaded")
		for _, f := range s.observers {
			f(fi.Owner, size)
		}
		w.WriteHeader(http.StatusCreated)
	case errors.Is(err, errSlotUsed):
		http.Error(w, err.Error()+": ask for a new slot", http.StatusConflict)
	case errors.Is(err, errQuota):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
	case errors.As(err, &sizeErr):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		s.o.Log.Error().Err(err).Str("owner", fi.Owner).Msg("storing an upload failed")
		http.Error(w, "the file could not be stored", http.StatusInternalServerError)
	}
}

// get serves a file, with Range support. Types a browser could run as
// a page are never served as such: the file is then an attachment of
// type application/octet-stream, and no content is allowed to run.
func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r, true)
	id, name := r.PathValue("id"), r.PathValue("name")
	if !s.signedID(id) {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	fi, ok := s.files.get(id, s.o.Now())
	if !ok || fi.Name != name {
		http.Error(w, "no such file, or it expired", http.StatusNotFound)
		return
	}
	f, err := s.files.open(id)
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, "no such file, or it expired", http.StatusNotFound)
		return
	}
	if err != nil {
		s.o.Log.Error().Err(err).Str("id", id).Msg("opening an upload failed")
		http.Error(w, "the file could not be read", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	h := w.Header()
	ctype, inline := servedType(fi.ContentType)
	h.Set("Content-Type", ctype)
	disposition := "attachment"
	if inline {
		disposition = "inline"
	}
	if d := mime.FormatMediaType(disposition, map[string]string{"filename": fi.Name}); d != "" {
		disposition = d
	}
	h.Set("Content-Disposition", disposition)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(time.Until(fi.Expires).Seconds())))
	http.ServeContent(w, r, "", fi.Created, f)
}

// servedType returns the Content-Type a file of type t is served with,
// and whether it may be shown inline: images, audio, video and plain
// text are; anything a browser might run (HTML, SVG, XML, scripts) is
// served as application/octet-stream.
func servedType(t string) (string, bool) {
	major, _, _ := strings.Cut(t, "/")
	switch {
	case t == "image/svg+xml":
	case major == "image" || major == "audio" || major == "video":
		return t, true
	case t == "text/plain":
		return "text/plain; charset=utf-8", true
	case t == "application/pdf":
		return t, false
	}
	return "application/octet-stream", false
}
