package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"parley/config"
	"parley/storage"
)

// usageDate is how -since, -until and the report write a day.
const usageDate = "2006-01-02"

// runUsage runs "parley usage": the usage accounting of the accounts
// over a period of whole UTC days, one row per user and one per domain
// (with the number of distinct active users), or with -daily such rows
// for each day, as JSON Lines or CSV. It reads the database, so it works
// while the server runs; the server stores its counts every few seconds.
func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("usage", "[-config FILE] [-domain DOMAIN] [-since T] [-until T] [-format json|csv] [-daily]", stdout, stderr)
	domain := c.flags.String("domain", "", "report only the accounts of this served `DOMAIN`; default every domain")
	since := c.flags.String("since", "", "first day of the period, a date (2026-12-05) or an RFC 3339 time; default the first day recorded")
	until := c.flags.String("until", "", "last day of the period, included, a date or an RFC 3339 time; default today (UTC)")
	format := c.flags.String("format", "json", "json (JSON Lines) or csv")
	daily := c.flags.Bool("daily", false, "a row per day instead of per period")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	if *format != "json" && *format != "csv" {
		return c.usageError(fmt.Sprintf("-format: %q is not json or csv", *format))
	}
	// Counts are kept per UTC day: the period is the whole days from the
	// day of -since to the day of -until (which ends just before the
	// time parseTimeFlag returns).
	from, err := parseTimeFlag("since", *since, false)
	if err != nil {
		return c.usageError(err.Error())
	}
	from = storage.Day(from)
	to := storage.Day(time.Now())
	if *until != "" {
		end, err := parseTimeFlag("until", *until, true)
		if err != nil {
			return c.usageError(err.Error())
		}
		to = storage.Day(end.Add(-time.Nanosecond))
	}
	if from.After(to) {
		return c.usageError(fmt.Sprintf("-since: %s is after -until %s", from.Format(usageDate), to.Format(usageDate)))
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	dom := ""
	if *domain != "" {
		if dom, err = parseDomain(*domain, cfg, *c.config); err != nil {
			return c.fail(fmt.Errorf("-domain: %w", err))
		}
	}
	return withStore(ctx, c, cfg, func(st storage.Store) error {
		recs, err := st.UsageRecords(ctx, dom, from, to)
		if err != nil {
			return err
		}
		if *since == "" && len(recs) > 0 {
			from = recs[0].Day // the first day recorded
		}
		rows := usageRows(recs, from, to, *daily)
		w := bufio.NewWriter(c.stdout)
		if *format == "csv" {
			err = writeUsageCSV(w, rows)
		} else {
			err = writeUsageJSON(w, rows)
		}
		if err == nil {
			err = w.Flush()
		}
		return err
	})
}

// usageRow is one line of the report: an account's usage, or a domain's
// with its active users, over a period or a day.
type usageRow struct {
	Row    string `json:"row"` // "user" or "domain"
	Domain string `json:"domain"`
	User   string `json:"user,omitempty"`
	From   string `json:"from"` // first day, included
	To     string `json:"to"`   // last day, included

	Logins            int64 `json:"logins"`
	OneToOneSent      int64 `json:"one_to_one_sent"`
	OneToOneReceived  int64 `json:"one_to_one_received"`
	GroupSent         int64 `json:"group_sent"`
	GroupReceived     int64 `json:"group_received"`
	FederatedSent     int64 `json:"federated_sent"`
	FederatedReceived int64 `json:"federated_received"`
	Uploads           int64 `json:"uploads"`
	UploadBytes       int64 `json:"upload_bytes"`
	// ActiveUsers counts a domain's accounts seen online or sending in
	// the period; user rows have none.
	ActiveUsers *int64 `json:"active_users,omitempty"`
	// LastSeen is the latest time the account (or any of the domain's)
	// was online or sent something in the period, RFC 3339; null if
	// never.
	LastSeen *string `json:"last_seen"`
}

// usageCSVHeader names the CSV columns, as the JSON fields.
var usageCSVHeader = []string{"row", "domain", "user", "from", "to",
	"logins", "one_to_one_sent", "one_to_one_received", "group_sent", "group_received",
	"federated_sent", "federated_received", "uploads", "upload_bytes", "active_users", "last_seen"}

// usageRows sums recs per user and per domain over the period from..to,
// or per day when daily: for each period, by domain, the users' rows
// sorted by user and then the domain's.
func usageRows(recs []storage.UsageRecord, from, to time.Time, daily bool) []usageRow {
	type key struct{ from, domain, user string }
	type sum struct {
		counts storage.UsageCounts
		seen   time.Time
		active int64
	}
	sums := make(map[key]*sum)
	add := func(k key, r storage.UsageRecord, active bool) {
		s := sums[k]
		if s == nil {
			s = new(sum)
			sums[k] = s
		}
		s.counts.Add(r.UsageCounts)
		if r.LastSeen.After(s.seen) {
			s.seen = r.LastSeen
		}
		if active {
			s.active++
		}
	}
	// A user is active in a period if seen on any of its days; count it
	// once for its domain.
	activeIn := make(map[key]bool)
	for _, r := range recs {
		_, domain, _ := strings.Cut(r.User, "@")
		period := from.Format(usageDate)
		if daily {
			period = r.Day.Format(usageDate)
		}
		uk := key{period, domain, r.User}
		add(uk, r, false)
		active := !r.LastSeen.IsZero() && !activeIn[uk]
		if active {
			activeIn[uk] = true
		}
		add(key{period, domain, ""}, r, active)
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	domainLast := func(k key) int {
		if k.user == "" {
			return 1
		}
		return 0
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.domain, b.domain),
			cmp.Compare(domainLast(a), domainLast(b)), cmp.Compare(a.user, b.user))
	})
	rows := make([]usageRow, 0, len(keys))
	for _, k := range keys {
		s := sums[k]
		c := s.counts
		row := usageRow{Row: "user", Domain: k.domain, User: k.user, From: k.from, To: to.Format(usageDate),
			Logins: c.Logins, OneToOneSent: c.OneToOneSent, OneToOneReceived: c.OneToOneReceived,
			GroupSent: c.GroupSent, GroupReceived: c.GroupReceived,
			FederatedSent: c.FederatedSent, FederatedReceived: c.FederatedReceived,
			Uploads: c.Uploads, UploadBytes: c.UploadBytes}
		if daily {
			row.To = k.from
		}
		if k.user == "" {
			row.Row = "domain"
			row.ActiveUsers = &s.active
		}
		if !s.seen.IsZero() {
			seen := s.seen.UTC().Format(time.RFC3339)
			row.LastSeen = &seen
		}
		rows = append(rows, row)
	}
	return rows
}

func writeUsageJSON(w io.Writer, rows []usageRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func writeUsageCSV(w io.Writer, rows []usageRow) error {
	cw := csv.NewWriter(w)
	cw.Write(usageCSVHeader)
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rows {
		active, seen := "", ""
		if r.ActiveUsers != nil {
			active = n(*r.ActiveUsers)
		}
		if r.LastSeen != nil {
			seen = *r.LastSeen
		}
		cw.Write([]string{r.Row, r.Domain, r.User, r.From, r.To,
			n(r.Logins), n(r.OneToOneSent), n(r.OneToOneReceived), n(r.GroupSent), n(r.GroupReceived),
			n(r.FederatedSent), n(r.FederatedReceived), n(r.Uploads), n(r.UploadBytes), active, seen})
	}
	cw.Flush()
	return cw.Error()
}
