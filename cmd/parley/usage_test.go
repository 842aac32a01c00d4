package main

import (
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"parley/storage"
)

// usageFixture stores usage of a.test and b.test over three days and
// returns the configuration's path.
func usageFixture(t *testing.T) string {
	t.Helper()
	cfg := setup(t)
	st := openStore(t, cfg)
	d1 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	d2, d3 := d1.AddDate(0, 0, 1), d1.AddDate(0, 0, 2)
	at := func(d time.Time, h int) time.Time { return d.Add(time.Duration(h) * time.Hour) }
	for _, u := range []string{"alice@a.test", "bob@a.test", "carol@b.test"} {
		if err := st.CreateAccount(t.Context(), u, nil); err != nil {
			t.Fatal(err)
		}
	}
	err := st.AddUsage(t.Context(), []storage.UsageRecord{
		{Day: d1, User: "alice@a.test", UsageCounts: storage.UsageCounts{Logins: 1, OneToOneSent: 2, Uploads: 1, UploadBytes: 100}, LastSeen: at(d1, 9)},
		{Day: d1, User: "bob@a.test", UsageCounts: storage.UsageCounts{OneToOneReceived: 2}}, // not seen: not active
		{Day: d2, User: "alice@a.test", UsageCounts: storage.UsageCounts{Logins: 2, GroupSent: 3, FederatedSent: 1}, LastSeen: at(d2, 18)},
		{Day: d2, User: "bob@a.test", UsageCounts: storage.UsageCounts{Logins: 1, GroupReceived: 3}, LastSeen: at(d2, 10)},
		{Day: d2, User: "carol@b.test", UsageCounts: storage.UsageCounts{Logins: 1, FederatedReceived: 1}, LastSeen: at(d2, 11)},
		{Day: d3, User: "bob@a.test", UsageCounts: storage.UsageCounts{Logins: 1}, LastSeen: at(d3, 8)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// jsonRows parses JSON Lines into generic objects.
func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		rows = append(rows, m)
	}
	return rows
}

func TestUsageReport(t *testing.T) {
	cfg := usageFixture(t)

	// The whole period: per user, then per domain, by domain.
	rows := jsonRows(t, parley(t, "", "usage", "-config", cfg, "-until", "2026-12-06").wantOK(t).stdout)
	period := func(m map[string]any) map[string]any {
		m["from"], m["to"] = "2026-12-04", "2026-12-06"
		return m
	}
	counts := func(logins, o2oS, o2oR, gS, gR, fS, fR, up, upB float64) map[string]any {
		return map[string]any{"logins": logins, "one_to_one_sent": o2oS, "one_to_one_received": o2oR,
			"group_sent": gS, "group_received": gR, "federated_sent": fS, "federated_received": fR,
			"uploads": up, "upload_bytes": upB}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	want := []map[string]any{
		period(with(counts(3, 2, 0, 3, 0, 1, 0, 1, 100), "row", "user", "domain", "a.test", "user", "alice@a.test", "last_seen", "2026-12-05T18:00:00Z")),
		period(with(counts(2, 0, 2, 0, 3, 0, 0, 0, 0), "row", "user", "domain", "a.test", "user", "bob@a.test", "last_seen", "2026-12-06T08:00:00Z")),
		period(with(counts(5, 2, 2, 3, 3, 1, 0, 1, 100), "row", "domain", "domain", "a.test", "active_users", 2.0, "last_seen", "2026-12-06T08:00:00Z")),
		period(with(counts(1, 0, 0, 0, 0, 0, 1, 0, 0), "row", "user", "domain", "b.test", "user", "carol@b.test", "last_seen", "2026-12-05T11:00:00Z")),
		period(with(counts(1, 0, 0, 0, 0, 0, 1, 0, 0), "row", "domain", "domain", "b.test", "active_users", 1.0, "last_seen", "2026-12-05T11:00:00Z")),
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("whole period:\n got %v\nwant %v", rows, want)
	}

	// One domain, one day, given as RFC 3339 times (the period is whole
	// days): bob only received.
	rows = jsonRows(t, parley(t, "", "usage", "-config", cfg, "-domain", "A.test", "-since", "2026-12-04T23:00:00+01:00", "-until", "2026-12-05T00:00:00Z").wantOK(t).stdout)
	want = []map[string]any{
		with(counts(1, 2, 0, 0, 0, 0, 0, 1, 100), "row", "user", "domain", "a.test", "user", "alice@a.test", "from", "2026-12-04", "to", "2026-12-04", "last_seen", "2026-12-04T09:00:00Z"),
		with(counts(0, 0, 2, 0, 0, 0, 0, 0, 0), "row", "user", "domain", "a.test", "user", "bob@a.test", "from", "2026-12-04", "to", "2026-12-04", "last_seen", nil),
		with(counts(1, 2, 2, 0, 0, 0, 0, 1, 100), "row", "domain", "domain", "a.test", "from", "2026-12-04", "to", "2026-12-04", "active_users", 1.0, "last_seen", "2026-12-04T09:00:00Z"),
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("a.test on 2026-12-04:\n got %v\nwant %v", rows, want)
	}

	// Daily rows.
	rows = jsonRows(t, parley(t, "", "usage", "-config", cfg, "-domain", "a.test", "-daily", "-since", "2026-12-05", "-until", "2026-12-06").wantOK(t).stdout)
	var got []string
	for _, r := range rows {
		got = append(got, r["from"].(string)+" "+r["to"].(string)+" "+r["row"].(string)+" "+r["domain"].(string)+" "+str(r["user"]))
	}
	wantDaily := []string{
		"2026-12-05 2026-12-05 user a.test alice@a.test",
		"2026-12-05 2026-12-05 user a.test bob@a.test",
		"2026-12-05 2026-12-05 domain a.test ",
		"2026-12-06 2026-12-06 user a.test bob@a.test",
		"2026-12-06 2026-12-06 domain a.test ",
	}
	if !reflect.DeepEqual(got, wantDaily) {
		t.Errorf("daily rows:\n got %q\nwant %q", got, wantDaily)
	}

	// CSV: a header, then the same rows.
	out := parley(t, "", "usage", "-config", cfg, "-domain", "b.test", "-format", "csv").wantOK(t).stdout
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %q: %v", out, err)
	}
	wantCSV := [][]string{
		{"row", "domain", "user", "from", "to", "logins", "one_to_one_sent", "one_to_one_received", "group_sent", "group_received",
			"federated_sent", "federated_received", "uploads", "upload_bytes", "active_users", "last_seen"},
		{"user", "b.test", "carol@b.test", "2026-12-05", time.Now().UTC().Format("2006-01-02"), "1", "0", "0", "0", "0", "0", "1", "0", "0", "", "2026-12-05T11:00:00Z"},
		{"domain", "b.test", "", "2026-12-05", time.Now().UTC().Format("2006-01-02"), "1", "0", "0", "0", "0", "0", "1", "0", "0", "1", "2026-12-05T11:00:00Z"},
	}
	if !reflect.DeepEqual(recs, wantCSV) {
		t.Errorf("CSV:\n got %q\nwant %q", recs, wantCSV)
	}

	// A period without usage: nothing, or only the CSV header.
	if out := parley(t, "", "usage", "-config", cfg, "-since", "2027-01-01", "-until", "2027-01-31").wantOK(t).stdout; out != "" {
		t.Errorf("empty period: %q", out)
	}
	if out := parley(t, "", "usage", "-config", cfg, "-since", "2027-01-01", "-until", "2027-01-31", "-format", "csv").wantOK(t).stdout; strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "row,domain,user,") {
		t.Errorf("empty period in CSV: %q", out)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestUsageErrors(t *testing.T) {
	cfg := setup(t)
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"malformed since", []string{"-since", "2026-13-01"}, 2, []string{"parley: usage: -since: ", `"2026-13-01" is neither a date`}},
		{"malformed until", []string{"-until", "yesterday"}, 2, []string{"parley: usage: -until: ", `"yesterday"`}},
		{"since after until", []string{"-since", "2026-12-06", "-until", "2026-12-05"}, 2, []string{"-since: 2026-12-06 is after -until 2026-12-05"}},
		{"unknown format", []string{"-format", "xml"}, 2, []string{"parley: usage: -format: ", `"xml" is not json or csv`}},
		{"domain not served", []string{"-domain", "c.test"}, 1, []string{"parley: usage: -domain: ", "c.test is not served"}},
		{"invalid domain", []string{"-domain", "a b"}, 1, []string{"parley: usage: -domain: "}},
		{"argument", []string{"a.test"}, 2, []string{"usage: parley usage"}},
		{"unknown flag", []string{"-nosuchflag"}, 2, []string{"-nosuchflag"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parley(t, "", append([]string{"usage", "-config", cfg}, c.args...)...).wantFail(t, c.code, c.want...)
		})
	}
	if r := parley(t, "", "usage", "-h"); r.code != 0 || !strings.HasPrefix(r.stdout, "usage: parley usage ") {
		t.Errorf("usage -h: %+v", r)
	}
	if r := parley(t, "", "help"); !strings.Contains(r.stdout, "parley usage ") {
		t.Errorf("help does not list usage: %q", r.stdout)
	}
}
