// Package storage defines the persistence interfaces parley's features use.
// Callers depend only on these interfaces; storage/sqlite is the embedded
// default backend, and another backend can be added beside it without
// touching callers. Users are identified by their normalized bare JID
// ("local@domain").
package storage

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every backend.
var (
	// ErrNotFound is returned when the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating a record that already exists.
	ErrExists = errors.New("already exists")
)

// Credential is one salted SCRAM credential (RFC 5802) for one hash
// function. The password itself is never stored.
type Credential struct {
	Hash       string // "SHA-1" or "SHA-256"
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Accounts stores user accounts and their credentials.
type Accounts interface {
	// CreateAccount creates user with the given credentials; ErrExists if
	// the account already exists.
	CreateAccount(ctx context.Context, user string, creds []Credential) error
	// SetCredentials replaces user's credentials; ErrNotFound if no account.
	SetCredentials(ctx context.Context, user string, creds []Credential) error
	// Credential returns user's credential for hash; ErrNotFound if the
	// account or the credential does not exist.
	Credential(ctx context.Context, user, hash string) (Credential, error)
	// AccountExists reports whether user has an account.
	AccountExists(ctx context.Context, user string) (bool, error)
	// DeleteAccount removes user and all data stored for the user (roster,
	// pending subscriptions, offline messages, XML documents, last
	// activity, message archive, pubsub nodes and items, usage records);
	// ErrNotFound if no account.
	DeleteAccount(ctx context.Context, user string) error
	// ListAccounts returns the bare JIDs of every account of domain, sorted.
	ListAccounts(ctx context.Context, domain string) ([]string, error)
}

// RosterItem is one contact in a user's roster (RFC 6121 §2).
type RosterItem struct {
	JID          string   // contact's bare JID
	Name         string   // user-assigned handle, may be empty
	Subscription string   // "none", "to", "from" or "both"
	Ask          bool     // an outbound subscription request is pending (ask='subscribe')
	PendingIn    bool     // an inbound subscription request is pending
	PreApproved  bool     // an inbound request will be approved automatically
	Groups       []string // group names, sorted
}

// Rosters stores rosters. Every change increments the roster's version
// (XEP-0237); versions are positive and strictly increasing per user.
type Rosters interface {
	// Roster returns every item of user's roster and the current version
	// (0 when the roster was never written).
	Roster(ctx context.Context, user string) ([]RosterItem, int64, error)
	// RosterItem returns one item; ErrNotFound if absent.
	RosterItem(ctx context.Context, user, contact string) (RosterItem, error)
	// PutRosterItem creates or replaces the item for item.JID and returns
	// the new roster version.
	PutRosterItem(ctx context.Context, user string, item RosterItem) (int64, error)
	// DeleteRosterItem removes the item for contact and returns the new
	// roster version; ErrNotFound if absent.
	DeleteRosterItem(ctx context.Context, user, contact string) (int64, error)
	// RosterVersion returns the current roster version.
	RosterVersion(ctx context.Context, user string) (int64, error)
}

// PendingSubscription is an inbound subscription request awaiting the
// user's decision, kept so it can be re-delivered at the next login
// (RFC 6121 §3.1.3).
type PendingSubscription struct {
	From   string // requesting bare JID
	Stanza []byte // the serialized subscribe presence, as received
}

// Subscriptions stores inbound subscription requests.
type Subscriptions interface {
	// PutPendingSubscription records (or replaces) a request from "from".
	PutPendingSubscription(ctx context.Context, user, from string, stanza []byte) error
	// PendingSubscriptions returns every pending request to user, oldest first.
	PendingSubscriptions(ctx context.Context, user string) ([]PendingSubscription, error)
	// DeletePendingSubscription forgets the request from "from"; no error
	// if there was none.
	DeletePendingSubscription(ctx context.Context, user, from string) error
}

// OfflineMessage is a message stored for a user who had no available
// resource (XEP-0160).
type OfflineMessage struct {
	ID     int64     // increasing per store
	Stanza []byte    // serialized message stanza
	Stamp  time.Time // when the server received it (UTC)
}

// Offline stores messages for later delivery. A message is durable once
// StoreOffline returns.
type Offline interface {
	// StoreOffline durably stores one message for user.
	StoreOffline(ctx context.Context, user string, stanza []byte, stamp time.Time) error
	// OfflineMessages returns user's stored messages, oldest first.
	OfflineMessages(ctx context.Context, user string) ([]OfflineMessage, error)
	// DeleteOffline removes user's messages with ID <= upTo.
	DeleteOffline(ctx context.Context, user string, upTo int64) error
	// CountOffline returns how many messages are stored for user.
	CountOffline(ctx context.Context, user string) (int, error)
}

// Documents stores per-user XML documents by kind and key: vcard-temp
// (kind "vcard", key ""), private XML storage (kind "private", key = the
// payload's namespace), and similar features. The user "" holds the
// server's own documents, such as verified entity capabilities (kind
// "entitycaps", key = the hash).
type Documents interface {
	// Document returns the stored document; ErrNotFound if absent.
	Document(ctx context.Context, user, kind, key string) ([]byte, error)
	// PutDocument creates or replaces a document.
	PutDocument(ctx context.Context, user, kind, key string, data []byte) error
	// DeleteDocument removes a document; no error if there was none.
	DeleteDocument(ctx context.Context, user, kind, key string) error
}

// LastActivity stores when each user's last resource went offline and
// with what status (XEP-0012).
type LastActivity interface {
	// SetLastActivity records the logout time and status text.
	SetLastActivity(ctx context.Context, user string, at time.Time, status string) error
	// LastActivity returns the last logout; ErrNotFound if never recorded.
	LastActivity(ctx context.Context, user string) (time.Time, string, error)
	// SetLastActivities records several logouts at once, in one
	// transaction where the backend has them, each replacing the user's
	// earlier record. Logouts of users without an account are skipped,
	// so that an account deleted meanwhile gets no record back.
	SetLastActivities(ctx context.Context, logouts []Logout) error
}

// Logout is one user's last logout, as LastActivity stores it.
type Logout struct {
	User   string // bare JID
	At     time.Time
	Status string // status text of the last unavailable presence
}

// MUCRoom is the durable state of a persistent group-chat room
// (XEP-0045): its configuration and subject.
type MUCRoom struct {
	JID       string    // room bare JID, "room@service"
	Config    []byte    // the room configuration, encoded by the muc package
	Subject   string    // current subject; empty if none
	SubjectBy string    // nickname of the occupant who set it; empty for the room
	Created   time.Time // when the room was created (UTC)
}

// MUCAffiliation is a user's lasting relation to a room (XEP-0045 §5.2).
type MUCAffiliation struct {
	JID         string // bare JID of the user
	Affiliation string // "owner", "admin", "member" or "outcast"
	Reason      string // why it was given, if said (bans show it)
}

// MUCMessage is one message of a room's history. The history is the
// room's archive in Archives: Room is the archive, StanzaID the ID, ID
// the Seq, and the With of the archived message is the stanza's from
// attribute, the sender's occupant JID.
type MUCMessage struct {
	ID       int64     // increasing per store; set by the store
	Room     string    // room bare JID
	StanzaID string    // XEP-0359 stanza ID the room assigned; not empty
	Stanza   []byte    // the message as the room reflected it, without a to
	Stamp    time.Time // when the room received it (UTC)
}

// MUC stores group chat: persistent rooms with their affiliations, and
// the message history of rooms, append-only (it is the room's archive;
// only the most recent messages are replayed to joining occupants).
// Deleting a room deletes its affiliations and history.
type MUC interface {
	// MUCRooms returns every stored room of the service domain, sorted
	// by JID.
	MUCRooms(ctx context.Context, service string) ([]MUCRoom, error)
	// PutMUCRoom creates or replaces a room's configuration and subject.
	PutMUCRoom(ctx context.Context, room MUCRoom) error
	// DeleteMUCRoom removes a room, its affiliations and its history
	// (the room's archive); no error if there was none.
	DeleteMUCRoom(ctx context.Context, room string) error
	// MUCAffiliations returns a stored room's affiliations, sorted by JID.
	MUCAffiliations(ctx context.Context, room string) ([]MUCAffiliation, error)
	// SetMUCAffiliation records a.Affiliation for a.JID in a stored room,
	// or forgets it when a.Affiliation is "none"; ErrNotFound if the room
	// is not stored.
	SetMUCAffiliation(ctx context.Context, room string, a MUCAffiliation) error
	// AppendMUCHistory durably appends messages, in order, to the history
	// of their rooms. Messages of rooms that are not stored are skipped,
	// and so are messages whose StanzaID is already in the room's history
	// (appending a batch again stores nothing twice).
	AppendMUCHistory(ctx context.Context, msgs []MUCMessage) error
	// MUCHistory returns the last limit messages of a room, oldest first.
	MUCHistory(ctx context.Context, room string, limit int) ([]MUCMessage, error)
}

// ArchivedMessage is one message of an archive: a user's one-to-one
// messages (XEP-0313) or a group-chat room's messages.
type ArchivedMessage struct {
	Archive string    // owner: a user's or a room's bare JID
	ID      string    // XEP-0359 stanza ID the archive assigned; unique per archive, not empty
	With    string    // the other party as it appeared, a bare or full JID (for rooms: the occupant's room JID "room@service/nick")
	Stanza  []byte    // the serialized message
	Stamp   time.Time // when it was archived (UTC)
	Seq     int64     // order in the store, set by AppendArchive; increasing in append order
}

// ArchiveQuery selects and pages messages of one archive, oldest first.
// JIDs are compared exactly, as stored: callers normalize them.
type ArchiveQuery struct {
	With     string    // bare JID: messages with any resource of it; full JID: only with that one; "" any
	Start    time.Time // zero: unbounded; inclusive
	End      time.Time // zero: unbounded; inclusive
	AfterID  string    // only messages after this ID (exclusive); ErrNotFound if the ID is not in the archive
	BeforeID string    // only messages before this ID (exclusive); ErrNotFound likewise
	IDs      []string  // only these IDs (XEP-0313 v0.7 ids), unknown ones matching nothing; empty: any; other filters still apply
	Max      int       // page size, > 0
	Last     bool      // the page at the end of the range (RSM <before/>): the last Max messages, still returned oldest first
}

// Archives stores message archives, append-only apart from deletion.
// Message order is Seq order, which is append order; stamps need not
// follow it.
type Archives interface {
	// AppendArchive durably appends messages, in order, in one
	// transaction, setting the Seq of each element of msgs. ErrExists,
	// and nothing is appended, if an ID is already in its archive or
	// twice in msgs.
	AppendArchive(ctx context.Context, msgs []ArchivedMessage) error
	// QueryArchive returns one page and whether it reaches the end of the
	// range in the direction of paging (XEP-0313 <fin complete='true'/>):
	// the end for forward paging, the start when Last or BeforeID is set. The
	// range is every message matching With, Start, End and IDs between
	// AfterID and BeforeID; with Last or BeforeID set the page is the last
	// Max messages of the range, otherwise the first Max. An error if Max
	// is not positive.
	QueryArchive(ctx context.Context, archive string, q ArchiveQuery) (page []ArchivedMessage, complete bool, err error)
	// CountArchive returns how many messages match q ignoring Max and
	// paging (XEP-0059 <count/>): With, Start, End and IDs count; Max,
	// AfterID, BeforeID and Last do not.
	CountArchive(ctx context.Context, archive string, q ArchiveQuery) (int, error)
	// DeleteArchive removes an archive; no error if there was none.
	DeleteArchive(ctx context.Context, archive string) error
	// PruneArchives removes every message archived before cutoff, in
	// every archive, rooms' included, and reports how many.
	PruneArchives(ctx context.Context, cutoff time.Time) (int64, error)
}

// PubSubNode is a node of an account's personal eventing service
// (XEP-0163): a publish-subscribe node (XEP-0060) on the account's bare
// JID.
type PubSubNode struct {
	Owner   string    // the account's bare JID
	Node    string    // the node's name, not empty
	Config  []byte    // the node configuration, encoded by the pubsub package
	Created time.Time // when the node was created (UTC)
}

// PubSubItem is one item published to a node.
type PubSubItem struct {
	Owner     string    // the node owner's bare JID
	Node      string    // the node's name
	ID        string    // the item ID, unique per node, not empty
	Payload   []byte    // the serialized payload element; may be empty
	Publisher string    // the JID that published it
	Stamp     time.Time // when it was published (UTC)
	Seq       int64     // publish order, set by the store: increasing with every publish, a republished ID included
}

// PubSub stores the nodes and items of personal eventing services.
// Items of a node are ordered by Seq, so that the most recent is last.
// Deleting an account (Accounts.DeleteAccount) deletes its nodes and
// their items.
type PubSub interface {
	// PubSubNodes returns every node of owner, sorted by name.
	PubSubNodes(ctx context.Context, owner string) ([]PubSubNode, error)
	// PubSubNode returns one node; ErrNotFound if absent.
	PubSubNode(ctx context.Context, owner, node string) (PubSubNode, error)
	// CreatePubSubNode creates n; ErrExists if owner has a node of that
	// name.
	CreatePubSubNode(ctx context.Context, n PubSubNode) error
	// SetPubSubNodeConfig replaces a node's configuration; ErrNotFound if
	// the node does not exist.
	SetPubSubNodeConfig(ctx context.Context, owner, node string, config []byte) error
	// DeletePubSubNode removes a node and its items; ErrNotFound if
	// absent.
	DeletePubSubNode(ctx context.Context, owner, node string) error
	// PublishPubSubItem stores it, replacing any item of the same ID,
	// sets it.Seq and then removes the oldest items beyond the keep most
	// recent (keep > 0), returning the IDs removed, oldest first.
	// ErrNotFound if the node does not exist.
	PublishPubSubItem(ctx context.Context, it *PubSubItem, keep int) (removed []string, err error)
	// PubSubItems returns items of a node, oldest first: those whose IDs
	// are in ids (unknown IDs match nothing), or every item when ids is
	// empty; with last > 0 only the last that many of them.
	PubSubItems(ctx context.Context, owner, node string, ids []string, last int) ([]PubSubItem, error)
	// RetractPubSubItem removes one item; ErrNotFound if absent.
	RetractPubSubItem(ctx context.Context, owner, node, id string) error
	// TrimPubSubItems removes the oldest items of a node beyond the keep
	// most recent (keep 0 removes every item) and returns their IDs,
	// oldest first.
	TrimPubSubItems(ctx context.Context, owner, node string, keep int) ([]string, error)
}

// Invitation is an admin's invitation to register an account in band
// (XEP-0401, XEP-0445). Only a hash of its token is stored: the token
// itself is shown once, to the admin who made it.
type Invitation struct {
	TokenHash string    // hex SHA-256 of the token; unique
	Domain    string    // the served domain the account is created on
	Localpart string    // the only username it registers; "" for any
	Created   time.Time // when it was made (UTC)
	Expires   time.Time // when it stops working (UTC)
}

// Invitations stores pending invitations. An invitation is used once:
// whoever deletes it first (DeleteInvitation reporting true) may create
// the account.
type Invitations interface {
	// CreateInvitation stores inv; ErrExists if its TokenHash is taken.
	CreateInvitation(ctx context.Context, inv Invitation) error
	// Invitation returns the invitation of a token hash, expired or not;
	// ErrNotFound if there is none.
	Invitation(ctx context.Context, tokenHash string) (Invitation, error)
	// DeleteInvitation removes the invitation of a token hash and
	// reports whether there was one; of concurrent calls for one hash,
	// only one reports true.
	DeleteInvitation(ctx context.Context, tokenHash string) (bool, error)
	// DeleteExpiredInvitations removes every invitation that expired
	// before now and reports how many.
	DeleteExpiredInvitations(ctx context.Context, now time.Time) (int64, error)
}

// Store is a complete backend.
type Store interface {
	Accounts
	Rosters
	Subscriptions
	Offline
	Documents
	LastActivity
	MUC
	Archives
	FastTokens
	PubSub
	Invitations
	Usage
	// Close flushes and releases the backend.
	Close() error
}
