package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"parley/internal/testutil"
)

func TestPprofOnlyWhenConfigured(t *testing.T) {
	srv := testutil.StartServer(t, "[debug]\npprof_listen = \"127.0.0.1:0\"\n")
	addr := srv.Server.Addr("pprof")
	if addr == "" {
		t.Fatal("pprof listener not started")
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("status %d: %.200s", resp.StatusCode, body)
	}
	if plain := testutil.StartServer(t, ""); plain.Server.Addr("pprof") != "" {
		t.Fatal("pprof listening without configuration")
	}
}
