package upload

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// clock is a settable time source.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newTestService(t *testing.T, dir string, c *clock) *Service {
	t.Helper()
	s, err := New(Options{
		Domain: "upload.a.test", Dir: dir, MaxFileSize: 1000, Expire: 24 * time.Hour, SlotLifetime: time.Minute,
		Secret: []byte(strings.Repeat("k", 32)), BaseURL: func() string { return "http://x" }, Log: zerolog.Nop(), Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putURL makes the path and query of a slot for name with content.
func putURL(s *Service, owner, name, content string) (put, get string) {
	id := s.newID()
	q := url.Values{"owner": {owner}, "size": {itoa(len(content))}, "expires": {itoa(int(s.o.Now().Add(s.o.SlotLifetime).Unix()))}}
	q.Set("sig", s.putSignature(id, name, q))
	get = "/upload/" + id + "/" + name
	return get + "?" + q.Encode(), get
}

func itoa(n int) string { return strconv.Itoa(n) }

func serve(s *Service, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w
}

func TestSlotAndFileExpiry(t *testing.T) {
	dir := t.TempDir()
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newTestService(t, dir, c)

	// A slot's URL expires.
	late, _ := putURL(s, "alice@a.test", "late.txt", "hello")
	c.now = c.now.Add(2 * time.Minute)
	if w := serve(s, "PUT", late, "hello"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "expired") {
		t.Fatalf("expired slot: %d %s", w.Code, w.Body)
	}

	put, get := putURL(s, "alice@a.test", "a.txt", "hello")
	if w := serve(s, "PUT", put, "hello"); w.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	if w := serve(s, "GET", get, ""); w.Code != http.StatusOK || w.Body.String() != "hello" {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	if got := s.files.usage("alice@a.test"); got != 5 {
		t.Fatalf("usage %d", got)
	}
	// Reopened, the directory's files are indexed again.
	s2 := newTestService(t, dir, c)
	if w := serve(s2, "GET", get, ""); w.Code != http.StatusOK || s2.files.usage("alice@a.test") != 5 {
		t.Fatalf("after reopening: %d, usage %d", w.Code, s2.files.usage("alice@a.test"))
	}
	// Expired files are not served, and are removed.
	c.now = c.now.Add(25 * time.Hour)
	if w := serve(s2, "GET", get, ""); w.Code != http.StatusNotFound {
		t.Fatalf("GET after expiry: %d", w.Code)
	}
	s2.Expire()
	if left, _ := filepath.Glob(filepath.Join(dir, "*.*")); len(left) != 0 {
		t.Fatalf("left after expiry: %v", left)
	}
	if s2.files.usage("alice@a.test") != 0 {
		t.Fatal("usage after expiry")
	}
}

func TestDamagedDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.json"), []byte("{"), 0o600)
	if _, err := openFiles(dir, true); err == nil || !strings.Contains(err.Error(), "x.json is damaged") {
		t.Fatalf("got %v", err)
	}
	// An upload interrupted by a crash is cleaned away.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, strings.Repeat("a", idLength)+".part"), []byte("half"), 0o600)
	if _, err := openFiles(dir, true); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.jpg":              "photo.jpg",
		"../../etc/passwd":       "passwd",
		`C:\Users\me\doc.pdf`:    "doc.pdf",
		"a\x00b\nc.txt":          "abc.txt",
		"evil\u202egnp.exe":      "evilgnp.exe",
		"..":                     "",
		" . ":                    "",
		strings.Repeat("x", 300): strings.Repeat("x", 128),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
