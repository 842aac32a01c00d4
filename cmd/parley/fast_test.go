package main

import (
	"testing"
	"time"

	"parley/storage"
)

func TestFastRevoke(t *testing.T) {
	cfg := setup(t)
	parley(t, "pw\n", "adduser", "-config", cfg, "alice@a.test").wantOK(t)
	parley(t, "pw\n", "adduser", "-config", cfg, "bob@a.test").wantOK(t)
	st := openStore(t, cfg)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	put := func(user, client string) {
		t.Helper()
		err := st.PutFastToken(ctx, storage.FastToken{User: user, Client: client, Mechanism: "HT-SHA-256-NONE", Digest: []byte(user + client), Expiry: exp})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(user, client string) int {
		t.Helper()
		toks, err := st.FastTokens(ctx, user, client)
		if err != nil {
			t.Fatal(err)
		}
		return len(toks)
	}
	put("alice@a.test", "phone")
	put("alice@a.test", "laptop")
	put("bob@a.test", "phone")

	r := parley(t, "", "fast-revoke", "-config", cfg, "-client", "phone", "alice@a.test").wantOK(t)
	if r.stdout != "revoked 1 FAST tokens of alice@a.test\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if count("alice@a.test", "phone") != 0 || count("alice@a.test", "laptop") != 1 || count("bob@a.test", "phone") != 1 {
		t.Fatal("revoked the wrong tokens")
	}
	r = parley(t, "", "fast-revoke", "-config", cfg, "Alice@A.test").wantOK(t)
	if r.stdout != "revoked 1 FAST tokens of alice@a.test\n" || count("alice@a.test", "laptop") != 0 || count("bob@a.test", "phone") != 1 {
		t.Errorf("revoke all: stdout %q", r.stdout)
	}
	parley(t, "", "fast-revoke", "-config", cfg, "zoe@a.test").wantFail(t, 1, "parley: fast-revoke: zoe@a.test: no such account")
	parley(t, "", "fast-revoke", "-config", cfg).wantFail(t, 2, "usage: parley fast-revoke")
}
