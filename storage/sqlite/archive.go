package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"parley/storage"
)

// pruneBatch is how many messages PruneArchives deletes per write
// transaction, so that pruning a large archive never holds up other
// writes for long.
const pruneBatch = 5000

// insertArchivedSQL returns the statement that inserts one message
// unless its archive holds its ID, returning its seq. Its parameters are
// ?1 archive, ?2 ID, ?3 with_bare, ?4 with_resource, ?5 stanza, ?6 stamp
// and ?7 seq (NULL: the next). If roomsOnly, it inserts only into the
// archive of a stored group-chat room.
func insertArchivedSQL(roomsOnly bool) string {
	cond := "true"
	if roomsOnly {
		cond = "EXISTS (SELECT 1 FROM muc_rooms WHERE jid = ?1)"
	}
	return `INSERT INTO archive_messages (archive, id, with_bare, with_resource, stanza, stamp, stamp_high, seq)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, max(?6, coalesce((SELECT MAX(stamp_high) FROM archive_messages WHERE archive = ?1), '')), ?7
		WHERE ` + cond + `
		ON CONFLICT (archive, id) DO NOTHING RETURNING seq`
}

// archiveColumns are the columns scanArchived reads, in order.
const archiveColumns = `seq, id, with_bare, with_resource, stanza, stamp`

// scanArchived returns a row scanner for archiveColumns of archive.
func scanArchived(archive string) func(*sql.Rows) (storage.ArchivedMessage, error) {
	return func(rows *sql.Rows) (storage.ArchivedMessage, error) {
		var (
			m             = storage.ArchivedMessage{Archive: archive}
			bare, res, at string
			err           error
		)
		if err = rows.Scan(&m.Seq, &m.ID, &bare, &res, &m.Stanza, &at); err != nil {
			return m, err
		}
		m.With = joinJID(bare, res)
		m.Stamp, err = parseTime(at)
		m.Stanza = nonNil(m.Stanza)
		return m, err
	}
}

// joinJID is the inverse of storage.SplitJID.
func joinJID(bare, resource string) string {
	if resource == "" {
		return bare
	}
	return bare + "/" + resource
}

// AppendArchive appends msgs, in order and in one transaction, and sets
// their Seq; storage.ErrExists, and nothing is appended, if an ID is
// already in its archive or twice in msgs. An empty Archive or ID is an
// error.
func (s *Store) AppendArchive(ctx context.Context, msgs []storage.ArchivedMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	seqs := make([]int64, len(msgs))
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertArchivedSQL(false))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, m := range msgs {
			if m.Archive == "" || m.ID == "" {
				return fmt.Errorf("message %d has no archive or no ID", i)
			}
			bare, res := storage.SplitJID(m.With)
			err := stmt.QueryRowContext(ctx, m.Archive, m.ID, bare, res, nonNil(m.Stanza), formatTime(m.Stamp), nil).Scan(&seqs[i])
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("message %q of %s: %w", m.ID, m.Archive, storage.ErrExists)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d archived messages: %w", len(msgs), err)
	}
	for i := range msgs {
		msgs[i].Seq = seqs[i]
	}
	return nil
}

// QueryArchive returns one page of archive selected by q, oldest first,
// and whether it reaches the end of the range in the direction of paging.
// The page is read from one snapshot.
func (s *Store) QueryArchive(ctx context.Context, archive string, q storage.ArchiveQuery) ([]storage.ArchivedMessage, bool, error) {
	page, complete, err := s.queryArchive(ctx, archive, q)
	if err != nil {
		return nil, false, fmt.Errorf("query archive %s: %w", archive, err)
	}
	return page, complete, nil
}

func (s *Store) queryArchive(ctx context.Context, archive string, q storage.ArchiveQuery) ([]storage.ArchivedMessage, bool, error) {
	if q.Max <= 0 {
		return nil, false, fmt.Errorf("page size %d is not positive", q.Max)
	}
	backward := q.Last || q.BeforeID != ""
	// One message more than a page tells whether the range goes on.
	limit := int64(q.Max)
	if limit < math.MaxInt64 {
		limit++
	}
	var page []storage.ArchivedMessage
	err := s.read(ctx, func(tx *sql.Tx) error {
		from, args, err := archiveFrom(ctx, tx, archive, q, true)
		if err != nil {
			return err
		}
		page, err = queryAll(ctx, tx, scanArchived(archive), archivePageSQL(from, backward), append(args, limit)...)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	complete := len(page) <= q.Max
	if !complete {
		page = page[:q.Max]
	}
	if backward {
		slices.Reverse(page)
	}
	return page, complete, nil
}

// archivePageSQL returns the statement selecting the messages from (of
// archiveFrom) selects, in seq order or, if backward, in reverse, up to a
// limit given as its last argument.
func archivePageSQL(from string, backward bool) string {
	order := "ASC"
	if backward {
		order = "DESC"
	}
	return `SELECT ` + archiveColumns + ` ` + from + ` ORDER BY seq ` + order + ` LIMIT ?`
}

// CountArchive returns how many messages of archive match q's With,
// Start, End and IDs.
func (s *Store) CountArchive(ctx context.Context, archive string, q storage.ArchiveQuery) (int, error) {
	from, args, err := archiveFrom(ctx, s.r, archive, q, false)
	var n int
	if err == nil {
		err = s.r.QueryRowContext(ctx, `SELECT COUNT(*) `+from, args...).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count archive %s: %w", archive, err)
	}
	return n, nil
}

// archiveFrom returns the FROM and WHERE clauses, and their arguments,
// that select the messages of archive matching q's filters and, if
// paging, lying between q.AfterID and q.BeforeID. It looks up with qr
// where those IDs and the time bounds lie in seq order, so that the
// selection is one seq range of an index: (archive, seq), or (archive,
// with_bare, seq) when q.With is set.
func archiveFrom(ctx context.Context, qr queryer, archive string, q storage.ArchiveQuery, paging bool) (string, []any, error) {
	var (
		b      strings.Builder
		args         = []any{archive}
		lo, hi int64 = 1, math.MaxInt64 // the seq range, inclusive
	)
	and := func(cond string, arg ...any) {
		b.WriteString(" AND " + cond)
		args = append(args, arg...)
	}
	// seqAt returns the seq query finds; 0 if none.
	seqAt := func(what, query string, qargs ...any) (int64, error) {
		var seq int64
		err := qr.QueryRowContext(ctx, query, qargs...).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("find %s: %w", what, err)
		}
		return seq, nil
	}
	index := "archive_messages_seq"
	if q.With != "" {
		index = "archive_messages_with"
		bare, res := storage.SplitJID(q.With)
		and("with_bare = ?", bare)
		if res != "" {
			and("with_resource = ?", res)
		}
	}
	if !q.Start.IsZero() {
		start := formatTime(q.Start)
		and("stamp >= ?", start)
		// A message stamped from Start on has a stamp_high from Start on,
		// and stamp_high never decreases in seq: the first such message
		// starts the range.
		seq, err := seqAt("start", `SELECT seq FROM archive_messages WHERE archive = ? AND stamp_high >= ?
			ORDER BY stamp_high, seq LIMIT 1`, archive, start)
		if err != nil {
			return "", nil, err
		}
		if seq == 0 {
			seq = math.MaxInt64 // nothing is stamped so late
		}
		lo = max(lo, seq)
	}
	if !q.End.IsZero() {
		end := formatTime(q.End)
		and("stamp <= ?", end)
		// A message stamped up to End either has a stamp_high up to End,
		// all of which come first in seq order, or is stamped before an
		// earlier message.
		seq, err := seqAt("end", `SELECT max(
			coalesce((SELECT seq FROM archive_messages WHERE archive = ?1 AND stamp_high <= ?2
				ORDER BY stamp_high DESC, seq DESC LIMIT 1), 0),
			coalesce((SELECT MAX(seq) FROM archive_messages WHERE archive = ?1 AND stamp < stamp_high AND stamp <= ?2), 0))`,
			archive, end)
		if err != nil {
			return "", nil, err
		}
		hi = min(hi, seq)
	}
	if len(q.IDs) > 0 {
		ids, err := json.Marshal(q.IDs)
		if err != nil {
			return "", nil, fmt.Errorf("encode IDs: %w", err)
		}
		// Looked up by ID rather than tested on every message.
		and("seq IN (SELECT seq FROM archive_messages WHERE archive = ? AND id IN (SELECT value FROM json_each(?)))", archive, string(ids))
	}
	if paging {
		for _, bound := range []struct {
			id    string
			after bool
		}{{q.AfterID, true}, {q.BeforeID, false}} {
			if bound.id == "" {
				continue
			}
			seq, err := seqAt("message "+bound.id, `SELECT seq FROM archive_messages WHERE archive = ? AND id = ?`, archive, bound.id)
			if err != nil {
				return "", nil, err
			}
			if seq == 0 {
				return "", nil, fmt.Errorf("message %q: %w", bound.id, storage.ErrNotFound)
			}
			if bound.after {
				lo = max(lo, seq+1)
			} else {
				hi = min(hi, seq-1)
			}
		}
	}
	if lo > 1 {
		and("seq >= ?", lo)
	}
	if hi < math.MaxInt64 {
		and("seq <= ?", hi)
	}
	// INDEXED BY makes the statement fail rather than run without the
	// index.
	return "FROM archive_messages INDEXED BY " + index + " WHERE archive = ?" + b.String(), args, nil
}

// DeleteArchive removes every message of archive; no error if there was
// none.
func (s *Store) DeleteArchive(ctx context.Context, archive string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM archive_messages WHERE archive = ?`, archive); err != nil {
		return fmt.Errorf("delete archive %s: %w", archive, err)
	}
	return nil
}

// PruneArchives removes every message of every archive, rooms' included,
// archived before cutoff, and reports how many it removed. It deletes in
// batches, each its own transaction, finding the messages outside the
// write lock; if it fails part-way, the count is of the messages removed
// until then.
func (s *Store) PruneArchives(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := s.pruneArchives(ctx, cutoff, pruneBatch)
	if err != nil {
		return n, fmt.Errorf("prune archives before %s: %w", formatTime(cutoff), err)
	}
	return n, nil
}

func (s *Store) pruneArchives(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	cut := formatTime(cutoff)
	var (
		total int64
		after int64 // the scan resumes after the last message found
	)
	for {
		seqs, err := queryAll(ctx, s.r, func(rows *sql.Rows) (int64, error) {
			var seq int64
			err := rows.Scan(&seq)
			return seq, err
		}, `SELECT seq FROM archive_messages WHERE seq > ? AND stamp < ? ORDER BY seq LIMIT ?`, after, cut, batch)
		if err != nil || len(seqs) == 0 {
			return total, err
		}
		list, err := json.Marshal(seqs)
		if err != nil {
			return total, err
		}
		res, err := s.w.ExecContext(ctx,
			`DELETE FROM archive_messages WHERE seq IN (SELECT value FROM json_each(?)) AND stamp < ?`, string(list), cut)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if len(seqs) < batch {
			return total, nil
		}
		after = seqs[len(seqs)-1]
	}
}
