package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"parley/storage"
)

var _ storage.Usage = (*Store)(nil)

// dayLayout is how usage_days stores a UTC day: lexicographic order is
// chronological order.
const dayLayout = "2006-01-02"

// AddUsage adds the records' counters to the stored ones of their user
// and day in one transaction (one sync to disk for the batch); records
// of users without an account are skipped.
func (s *Store) AddUsage(ctx context.Context, recs []storage.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
INSERT INTO usage_days (day, user, domain, logins, one_to_one_sent, one_to_one_recv, group_sent, group_recv,
	federated_sent, federated_recv, uploads, upload_bytes, last_seen)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
WHERE EXISTS (SELECT 1 FROM accounts WHERE user = ?2)
ON CONFLICT (day, user) DO UPDATE SET
	logins          = logins + excluded.logins,
	one_to_one_sent = one_to_one_sent + excluded.one_to_one_sent,
	one_to_one_recv = one_to_one_recv + excluded.one_to_one_recv,
	group_sent      = group_sent + excluded.group_sent,
	group_recv      = group_recv + excluded.group_recv,
	federated_sent  = federated_sent + excluded.federated_sent,
	federated_recv  = federated_recv + excluded.federated_recv,
	uploads         = uploads + excluded.uploads,
	upload_bytes    = upload_bytes + excluded.upload_bytes,
	last_seen       = max(last_seen, excluded.last_seen)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range recs {
			_, domain, _ := strings.Cut(r.User, "@")
			seen := ""
			if !r.LastSeen.IsZero() {
				seen = formatTime(r.LastSeen)
			}
			c := r.UsageCounts
			if _, err := stmt.ExecContext(ctx, r.Day.UTC().Format(dayLayout), r.User, domain,
				c.Logins, c.OneToOneSent, c.OneToOneReceived, c.GroupSent, c.GroupReceived,
				c.FederatedSent, c.FederatedReceived, c.Uploads, c.UploadBytes, seen); err != nil {
				return fmt.Errorf("%s: %w", r.User, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add usage of %d records: %w", len(recs), err)
	}
	return nil
}

// UsageRecords returns the records of domain ("" for all) from the day
// of from to the day of to, by day and user.
func (s *Store) UsageRecords(ctx context.Context, domain string, from, to time.Time) ([]storage.UsageRecord, error) {
	q := `SELECT day, user, logins, one_to_one_sent, one_to_one_recv, group_sent, group_recv,
	federated_sent, federated_recv, uploads, upload_bytes, last_seen
FROM usage_days WHERE day >= ?1 AND day <= ?2`
	if domain != "" {
		q += ` AND domain = ?3`
	}
	q += ` ORDER BY day, user`
	args := []any{from.UTC().Format(dayLayout), to.UTC().Format(dayLayout)}
	if domain != "" {
		args = append(args, domain)
	}
	what := domain
	if what == "" {
		what = "every domain"
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read usage of %s: %w", what, err)
	}
	defer rows.Close()
	var out []storage.UsageRecord
	for rows.Next() {
		var (
			r         storage.UsageRecord
			day, seen string
			c         = &r.UsageCounts
		)
		if err := rows.Scan(&day, &r.User, &c.Logins, &c.OneToOneSent, &c.OneToOneReceived, &c.GroupSent, &c.GroupReceived,
			&c.FederatedSent, &c.FederatedReceived, &c.Uploads, &c.UploadBytes, &seen); err != nil {
			return nil, fmt.Errorf("read usage of %s: %w", what, err)
		}
		if r.Day, err = time.Parse(dayLayout, day); err != nil {
			return nil, fmt.Errorf("read usage of %s: bad stored day %q: %w", what, day, err)
		}
		if seen != "" {
			if r.LastSeen, err = parseTime(seen); err != nil {
				return nil, fmt.Errorf("read usage of %s: %w", what, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read usage of %s: %w", what, err)
	}
	return out, nil
}
