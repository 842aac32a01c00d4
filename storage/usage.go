package storage

import (
	"context"
	"time"
)

// UsageCounts are the counters of usage accounting, for charge-back: what
// one account did, or what the accounts of a domain did together.
// Messages count only when they carry content (stanza.MessageContent).
type UsageCounts struct {
	Logins            int64 // resources bound
	OneToOneSent      int64 // messages to accounts of this server
	OneToOneReceived  int64 // messages from accounts of this server
	GroupSent         int64 // messages to group-chat rooms
	GroupReceived     int64 // messages from group-chat rooms, once per message and account
	FederatedSent     int64 // messages to other servers and external components
	FederatedReceived int64 // messages from other servers and external components
	Uploads           int64 // files uploaded (XEP-0363)
	UploadBytes       int64 // bytes of those files
}

// Add adds the counters of o to c.
func (c *UsageCounts) Add(o UsageCounts) {
	c.Logins += o.Logins
	c.OneToOneSent += o.OneToOneSent
	c.OneToOneReceived += o.OneToOneReceived
	c.GroupSent += o.GroupSent
	c.GroupReceived += o.GroupReceived
	c.FederatedSent += o.FederatedSent
	c.FederatedReceived += o.FederatedReceived
	c.Uploads += o.Uploads
	c.UploadBytes += o.UploadBytes
}

// Zero reports whether every counter is zero.
func (c UsageCounts) Zero() bool { return c == UsageCounts{} }

// UsageRecord is the usage of one account on one UTC day.
type UsageRecord struct {
	Day  time.Time // the day: midnight UTC (stores truncate any time to its UTC day)
	User string    // the account's bare JID
	UsageCounts
	// LastSeen is the latest time that day the account was online or
	// sent something; zero if it was not (it only received messages):
	// an account is active on a day when LastSeen is set.
	LastSeen time.Time
}

// Day returns the UTC day of t, as midnight UTC.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Usage stores usage accounting: counters per account and UTC day.
// Accounts.DeleteAccount deletes an account's records with the rest of
// its data.
type Usage interface {
	// AddUsage adds the counters of every record to those stored for
	// its user and day, creating them at zero first, and keeps the later
	// of the stored LastSeen and the record's; all in one transaction
	// where the backend has them. Several records of one user and day
	// add up. Records of users without an account are skipped, so that
	// an account deleted meanwhile gets no records back.
	AddUsage(ctx context.Context, recs []UsageRecord) error
	// UsageRecords returns the stored records of the accounts of domain
	// ("" for every domain) for the days from the UTC day of from to
	// the UTC day of to, both included, sorted by day and then user.
	UsageRecords(ctx context.Context, domain string, from, to time.Time) ([]UsageRecord, error)
}
