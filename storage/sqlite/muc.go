package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"parley/storage"
)

// MUCRooms returns every stored room of the service domain, sorted by JID.
func (s *Store) MUCRooms(ctx context.Context, service string) ([]storage.MUCRoom, error) {
	rooms, err := s.mucRooms(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("get group-chat rooms of %s: %w", service, err)
	}
	return rooms, nil
}

func (s *Store) mucRooms(ctx context.Context, service string) ([]storage.MUCRoom, error) {
	return queryAll(ctx, s.r, func(rows *sql.Rows) (storage.MUCRoom, error) {
		var (
			r       storage.MUCRoom
			created string
			err     error
		)
		if err = rows.Scan(&r.JID, &r.Config, &r.Subject, &r.SubjectBy, &created); err != nil {
			return r, err
		}
		r.Created, err = parseTime(created)
		r.Config = nonNil(r.Config)
		return r, err
	}, `SELECT jid, config, subject, subject_by, created FROM muc_rooms WHERE service = ? ORDER BY jid`, service)
}

// PutMUCRoom creates or replaces a room's configuration and subject; the
// room's affiliations and history are kept.
func (s *Store) PutMUCRoom(ctx context.Context, room storage.MUCRoom) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO muc_rooms (jid, service, config, subject, subject_by, created) VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (jid) DO UPDATE SET config = excluded.config, subject = excluded.subject, subject_by = excluded.subject_by`,
		room.JID, serviceOf(room.JID), nonNil(room.Config), room.Subject, room.SubjectBy, formatTime(room.Created))
	if err != nil {
		return fmt.Errorf("put group-chat room %s: %w", room.JID, err)
	}
	return nil
}

// DeleteMUCRoom removes a room with its affiliations and history (its
// archive); no error if there was none.
func (s *Store) DeleteMUCRoom(ctx context.Context, room string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		// muc_affiliations rows go by ON DELETE CASCADE.
		if _, err := tx.ExecContext(ctx, `DELETE FROM muc_rooms WHERE jid = ?`, room); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM archive_messages WHERE archive = ?`, room)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete group-chat room %s: %w", room, err)
	}
	return nil
}

// MUCAffiliations returns a stored room's affiliations, sorted by JID.
func (s *Store) MUCAffiliations(ctx context.Context, room string) ([]storage.MUCAffiliation, error) {
	affs, err := s.mucAffiliations(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("get affiliations of group-chat room %s: %w", room, err)
	}
	return affs, nil
}

func (s *Store) mucAffiliations(ctx context.Context, room string) ([]storage.MUCAffiliation, error) {
	return queryAll(ctx, s.r, func(rows *sql.Rows) (storage.MUCAffiliation, error) {
		var a storage.MUCAffiliation
		err := rows.Scan(&a.JID, &a.Affiliation, &a.Reason)
		return a, err
	}, `SELECT user, affiliation, reason FROM muc_affiliations WHERE room = ? ORDER BY user`, room)
}

// SetMUCAffiliation records a's affiliation in a stored room, or forgets it
// when it is "none"; storage.ErrNotFound if the room is not stored.
func (s *Store) SetMUCAffiliation(ctx context.Context, room string, a storage.MUCAffiliation) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM muc_rooms WHERE jid = ?`, room).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return storage.ErrNotFound
		}
		if a.Affiliation == "none" {
			_, err := tx.ExecContext(ctx, `DELETE FROM muc_affiliations WHERE room = ? AND user = ?`, room, a.JID)
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO muc_affiliations (room, user, affiliation, reason) VALUES (?, ?, ?, ?)
			 ON CONFLICT (room, user) DO UPDATE SET affiliation = excluded.affiliation, reason = excluded.reason`,
			room, a.JID, a.Affiliation, a.Reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("set affiliation %s of %s in group-chat room %s: %w", a.Affiliation, a.JID, room, err)
	}
	return nil
}

// AppendMUCHistory appends msgs, in order and in one transaction, to the
// archives of their rooms, each under its stanza's from as With. Messages
// of rooms that are not stored (a room destroyed while its last messages
// were queued) are skipped, and so are messages whose StanzaID the room's
// archive holds already. An empty StanzaID is an error.
func (s *Store) AppendMUCHistory(ctx context.Context, msgs []storage.MUCMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertArchivedSQL(true))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range msgs {
			if m.StanzaID == "" {
				return fmt.Errorf("message of %s has no stanza ID", m.Room)
			}
			bare, res := storage.SplitJID(storage.StanzaFrom(m.Stanza))
			// No row: the room is not stored or holds the ID.
			var seq int64
			err := stmt.QueryRowContext(ctx, m.Room, m.StanzaID, bare, res, nonNil(m.Stanza), formatTime(m.Stamp), nil).Scan(&seq)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d group-chat messages: %w", len(msgs), err)
	}
	return nil
}

// MUCHistory returns the last limit messages of room's archive, oldest
// first.
func (s *Store) MUCHistory(ctx context.Context, room string, limit int) ([]storage.MUCMessage, error) {
	msgs, err := s.mucHistory(ctx, room, limit)
	if err != nil {
		return nil, fmt.Errorf("get history of group-chat room %s: %w", room, err)
	}
	return msgs, nil
}

func (s *Store) mucHistory(ctx context.Context, room string, limit int) ([]storage.MUCMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s.r, func(rows *sql.Rows) (storage.MUCMessage, error) {
		var (
			m     = storage.MUCMessage{Room: room}
			stamp string
			err   error
		)
		if err = rows.Scan(&m.ID, &m.StanzaID, &m.Stanza, &stamp); err != nil {
			return m, err
		}
		m.Stamp, err = parseTime(stamp)
		m.Stanza = nonNil(m.Stanza)
		return m, err
	}, `SELECT seq, id, stanza, stamp FROM
		   (SELECT seq, id, stanza, stamp FROM archive_messages WHERE archive = ? ORDER BY seq DESC LIMIT ?)
		 ORDER BY seq`, room, limit)
}

// serviceOf returns the domain of a room JID ("room@service").
func serviceOf(room string) string {
	_, service, _ := strings.Cut(room, "@")
	return service
}
