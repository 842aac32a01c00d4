package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"parley/storage"
)

// migration is one step of the schema: SQL, then, if set, Go code for
// data changes SQL cannot express, in the same transaction.
type migration struct {
	sql  string
	then func(ctx context.Context, tx *sql.Tx) error
}

// migrations returns the schema migrations in order; migration i brings
// the schema from version i to version i+1 (PRAGMA user_version). Append
// new migrations at the end; never edit one that has shipped.
func migrations() []migration {
	return []migration{
		// 1: initial schema.
		{sql: `
CREATE TABLE accounts (
	user    TEXT NOT NULL PRIMARY KEY,
	domain  TEXT NOT NULL,
	created TEXT NOT NULL
);
CREATE INDEX accounts_domain ON accounts (domain, user);

CREATE TABLE credentials (
	user       TEXT    NOT NULL REFERENCES accounts (user) ON DELETE CASCADE,
	hash       TEXT    NOT NULL,
	salt       BLOB    NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BLOB    NOT NULL,
	server_key BLOB    NOT NULL,
	PRIMARY KEY (user, hash)
);

CREATE TABLE roster_items (
	user         TEXT    NOT NULL,
	contact      TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
	ask          INTEGER NOT NULL,
	pending_in   INTEGER NOT NULL,
	pre_approved INTEGER NOT NULL,
	PRIMARY KEY (user, contact)
);

CREATE TABLE roster_groups (
	user    TEXT NOT NULL,
	contact TEXT NOT NULL,
	name    TEXT NOT NULL,
	PRIMARY KEY (user, contact, name),
	FOREIGN KEY (user, contact) REFERENCES roster_items (user, contact) ON DELETE CASCADE
);

CREATE TABLE roster_versions (
	user    TEXT    NOT NULL PRIMARY KEY,
	version INTEGER NOT NULL
);

CREATE TABLE pending_subscriptions (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	user     TEXT NOT NULL,
	from_jid TEXT NOT NULL,
	stanza   BLOB NOT NULL,
	UNIQUE (user, from_jid)
);

CREATE TABLE offline_messages (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	user   TEXT NOT NULL,
	stanza BLOB NOT NULL,
	stamp  TEXT NOT NULL
);
CREATE INDEX offline_messages_user ON offline_messages (user, id);

CREATE TABLE documents (
	user  TEXT NOT NULL,
	kind  TEXT NOT NULL,
	"key" TEXT NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (user, kind, "key")
);

CREATE TABLE last_activity (
	user   TEXT NOT NULL PRIMARY KEY,
	at     TEXT NOT NULL,
	status TEXT NOT NULL
);
`},
		// 2: group chat (XEP-0045): persistent rooms, their affiliations
		// and the rooms' message history.
		{sql: `
CREATE TABLE muc_rooms (
	jid        TEXT NOT NULL PRIMARY KEY,
	service    TEXT NOT NULL,
	config     BLOB NOT NULL,
	subject    TEXT NOT NULL,
	subject_by TEXT NOT NULL,
	created    TEXT NOT NULL
);
CREATE INDEX muc_rooms_service ON muc_rooms (service, jid);

CREATE TABLE muc_affiliations (
	room        TEXT NOT NULL REFERENCES muc_rooms (jid) ON DELETE CASCADE,
	user        TEXT NOT NULL,
	affiliation TEXT NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
	reason      TEXT NOT NULL,
	PRIMARY KEY (room, user)
);

CREATE TABLE muc_history (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	room      TEXT NOT NULL REFERENCES muc_rooms (jid) ON DELETE CASCADE,
	stanza_id TEXT NOT NULL,
	stanza    BLOB NOT NULL,
	stamp     TEXT NOT NULL
);
CREATE INDEX muc_history_room ON muc_history (room, id);
`},
		// 3: message archives (XEP-0313). stamp_high is the highest stamp
		// of the archive up to the message: never below its stamp and
		// never decreasing in seq, so that time bounds turn into seq
		// bounds; archive_messages_late holds the messages stamped before
		// an earlier one, the only ones that stamp_high does not place.
		{sql: `
CREATE TABLE archive_messages (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	archive       TEXT NOT NULL,
	id            TEXT NOT NULL,
	with_bare     TEXT NOT NULL,
	with_resource TEXT NOT NULL,
	stanza        BLOB NOT NULL,
	stamp         TEXT NOT NULL,
	stamp_high    TEXT NOT NULL,
	UNIQUE (archive, id)
);
CREATE INDEX archive_messages_seq ON archive_messages (archive, seq);
CREATE INDEX archive_messages_with ON archive_messages (archive, with_bare, seq);
CREATE INDEX archive_messages_high ON archive_messages (archive, stamp_high);
CREATE INDEX archive_messages_late ON archive_messages (archive, stamp) WHERE stamp < stamp_high;
`},
		// 4: a room's history is its archive: muc_history moves into
		// archive_messages.
		{then: moveMUCHistory},
		// 5: personal eventing (XEP-0163): pubsub nodes on accounts and
		// their items, in publish order (seq).
		{sql: `
CREATE TABLE pubsub_nodes (
	user    TEXT NOT NULL,
	node    TEXT NOT NULL,
	config  BLOB NOT NULL,
	created TEXT NOT NULL,
	PRIMARY KEY (user, node)
);

CREATE TABLE pubsub_items (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	user      TEXT NOT NULL,
	node      TEXT NOT NULL,
	item_id   TEXT NOT NULL,
	payload   BLOB NOT NULL,
	publisher TEXT NOT NULL,
	stamp     TEXT NOT NULL,
	UNIQUE (user, node, item_id)
);
CREATE INDEX pubsub_items_node ON pubsub_items (user, node, seq);
`},
		// 6: invitations to register in band (XEP-0401), by the hash of
		// their token.
		{sql: `
CREATE TABLE invitations (
	token_hash TEXT NOT NULL PRIMARY KEY,
	domain     TEXT NOT NULL,
	localpart  TEXT NOT NULL,
	created    TEXT NOT NULL,
	expires    TEXT NOT NULL
);
CREATE INDEX invitations_expires ON invitations (expires);
`},
		// 7: FAST tokens (XEP-0484), stored as digests: per client of an
		// account the token it used last (slot 0) and a pending one
		// (slot 1).
		{sql: `
CREATE TABLE fast_tokens (
	user      TEXT    NOT NULL,
	client    TEXT    NOT NULL,
	slot      INTEGER NOT NULL CHECK (slot IN (0, 1)),
	mechanism TEXT    NOT NULL,
	digest    BLOB    NOT NULL,
	expiry    TEXT    NOT NULL,
	PRIMARY KEY (user, client, slot)
);
`},
		// 8: usage accounting for charge-back: per UTC day (YYYY-MM-DD)
		// and account, counters added up by every flush, and the last
		// time seen that day ('' if not seen).
		{sql: `
CREATE TABLE usage_days (
	day                TEXT    NOT NULL,
	user               TEXT    NOT NULL,
	domain             TEXT    NOT NULL,
	logins             INTEGER NOT NULL DEFAULT 0,
	one_to_one_sent    INTEGER NOT NULL DEFAULT 0,
	one_to_one_recv    INTEGER NOT NULL DEFAULT 0,
	group_sent         INTEGER NOT NULL DEFAULT 0,
	group_recv         INTEGER NOT NULL DEFAULT 0,
	federated_sent     INTEGER NOT NULL DEFAULT 0,
	federated_recv     INTEGER NOT NULL DEFAULT 0,
	uploads            INTEGER NOT NULL DEFAULT 0,
	upload_bytes       INTEGER NOT NULL DEFAULT 0,
	last_seen          TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (day, user)
) WITHOUT ROWID;
CREATE INDEX usage_days_domain ON usage_days (domain, day);
`},
	}
}

// moveMUCHistory copies every muc_history row, in order, into
// archive_messages and drops muc_history. Into an empty archive_messages
// a row keeps its id as the seq, so MUCMessage.ID does not change. A
// stanza ID that is empty or already taken in its room, which the old
// table allowed, gets "-" and the id appended so that no message is lost.
func moveMUCHistory(ctx context.Context, tx *sql.Tx) error {
	var keepIDs bool
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM archive_messages)`).Scan(&keepIDs); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, room, stanza_id, stanza, stamp FROM muc_history ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oldID                 int64
			room, stanzaID, stamp string
			stanza                []byte
		)
		if err := rows.Scan(&oldID, &room, &stanzaID, &stanza, &stamp); err != nil {
			return err
		}
		bare, resource := storage.SplitJID(storage.StanzaFrom(stanza))
		var seq any // NULL: the next
		if keepIDs {
			seq = oldID
		}
		insert := func(id string) (bool, error) {
			var got int64
			err := tx.QueryRowContext(ctx, insertArchivedSQL(false), room, id, bare, resource, nonNil(stanza), stamp, seq).Scan(&got)
			if errors.Is(err, sql.ErrNoRows) {
				return false, nil
			}
			return err == nil, err
		}
		ok, err := false, error(nil)
		if stanzaID != "" {
			ok, err = insert(stanzaID)
		}
		if err == nil && !ok {
			ok, err = insert(stanzaID + "-" + strconv.FormatInt(oldID, 10))
		}
		if err == nil && !ok {
			err = fmt.Errorf("stanza ID %q is taken", stanzaID)
		}
		if err != nil {
			return fmt.Errorf("move group-chat message %d of %s: %w", oldID, room, err)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	_, err = tx.ExecContext(ctx, `DROP TABLE muc_history`)
	return err
}

// migrate applies every pending migration, each in its own write
// transaction that re-reads the version, so concurrent openers are safe.
func migrate(ctx context.Context, db *sql.DB) error {
	ms := migrations()
	latest := len(ms)
	for {
		done := false
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			var v int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			switch {
			case v > latest:
				return fmt.Errorf("database schema version %d is newer than version %d supported by this build", v, latest)
			case v == latest:
				done = true
				return nil
			}
			if ms[v].sql != "" {
				if _, err := tx.ExecContext(ctx, ms[v].sql); err != nil {
					return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
				}
			}
			if ms[v].then != nil {
				if err := ms[v].then(ctx, tx); err != nil {
					return fmt.Errorf("migrate data to schema version %d: %w", v+1, err)
				}
			}
			// PRAGMA takes no bound parameters; v+1 is an int we control.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
				return fmt.Errorf("set schema version %d: %w", v+1, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
