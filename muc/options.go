package muc

import (
	"github.com/rs/zerolog"

	"parley/archive"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Who may create rooms (Policy.Create).
const (
	CreateLocal  = "local"  // users of the server's own domains
	CreateAdmins = "admins" // only Policy.Admins
	CreateAnyone = "anyone" // also users of federated servers
)

// Options configure a Service.
type Options struct {
	// Domain is the service's domain, e.g. conference.example.com.
	Domain string
	// Router delivers what the rooms send; the service is registered
	// with it as the component for Domain.
	Router *router.Router
	// Store keeps persistent rooms and stored history; nil keeps
	// everything in memory only.
	Store storage.MUC
	// Archives answers archive queries to rooms (XEP-0313) from the
	// messages of logged rooms; nil: rooms offer no archive.
	Archives storage.Archives
	// ArchiveWriter is the shared archive writer, which archive queries
	// wait for so that they see every message sent before them; required
	// with Archives.
	ArchiveWriter *archive.Writer[storage.ArchivedMessage]
	// MaxArchivePage is the most messages one archive query returns;
	// 0 means archive.DefaultPage.
	MaxArchivePage int
	// OccupantIDKey is the secret occupant IDs (XEP-0421) are derived
	// with, OccupantIDKeySize bytes; the IDs stay the same only while it
	// does (see LoadOccupantIDKey). Empty: a random key for this run.
	OccupantIDKey []byte
	// Log receives the service's log lines.
	Log zerolog.Logger
	// Policy is the service policy.
	Policy Policy
	// Recorder, if set, archives each room message once before the room
	// sends it to its occupants (the compliance archive).
	Recorder RoomRecorder
}

// RoomRecorder archives room messages.
type RoomRecorder interface {
	// RecordRoom archives a message of room from the occupant JID from,
	// written by sender (a real full JID); an error is the stanza error
	// the message is refused with.
	RecordRoom(room, from, sender string, el *stanza.Element) error
	// RecordPrivate archives a private message between occupants of
	// room, from and to occupant JIDs, sender and recipient their real
	// full JIDs.
	RecordPrivate(room, from, to, sender, recipient string, el *stanza.Element) error
}

// Policy is what the operator decides for the whole service.
type Policy struct {
	// Create says who may create rooms: CreateLocal, CreateAdmins or
	// CreateAnyone. Admins may always create rooms.
	Create string
	// Admins are bare JIDs that own every room.
	Admins []string
	// LockNewRooms keeps a new room locked until its creator accepts or
	// submits its configuration (XEP-0045 §10.1).
	LockNewRooms bool
	// MaxRoomsPerUser bounds the rooms one user may create that still
	// exist; 0 means no limit. Admins have none.
	MaxRoomsPerUser int
	// MaxOccupants is the default and largest occupant limit of a room;
	// admins and owners of a room may enter it even when it is full.
	MaxOccupants int
	// HistoryLength is the most messages a room replays to joining
	// occupants (and keeps in memory).
	HistoryLength int
	// Defaults is the configuration of new rooms.
	Defaults RoomDefaults
}

// RoomDefaults is the configuration a new room starts with.
type RoomDefaults struct {
	Public       bool
	Persistent   bool
	MembersOnly  bool
	Moderated    bool
	NonAnonymous bool // real JIDs visible to every occupant
	History      bool // replay history to joining occupants
	Logging      bool // store the messages of persistent rooms
}

// withDefaults fills unset limits with usable values.
func (p Policy) withDefaults() Policy {
	if p.Create == "" {
		p.Create = CreateLocal
	}
	if p.MaxOccupants <= 0 {
		p.MaxOccupants = 200
	}
	if p.HistoryLength < 0 {
		p.HistoryLength = 0
	}
	return p
}
