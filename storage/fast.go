package storage

import (
	"context"
	"time"
)

// FastToken is a token of Fast Authentication Streamlining Tokens
// (XEP-0484): what one client of an account logs in with instead of its
// password. Only a digest of the token is stored.
type FastToken struct {
	User      string    // the account's bare JID
	Client    string    // the client's SASL2 user-agent id
	Mechanism string    // the HT mechanism the token is bound to
	Digest    []byte    // SHA-256 of the token; not empty
	Expiry    time.Time // when it stops working (UTC)
	// Pending marks a token issued and not used yet; the other token of
	// a client is the one it used last.
	Pending bool
}

// FastTokens stores FAST tokens: per client of an account at most two,
// the one it used last and a pending one, issued to replace it, which
// takes its place once used (XEP-0484 §5). Changing an account's
// credentials (Accounts.SetCredentials) or deleting the account deletes
// its tokens.
type FastTokens interface {
	// FastTokens returns the tokens of user's client, expired ones
	// included, the pending one first; none is not an error.
	FastTokens(ctx context.Context, user, client string) ([]FastToken, error)
	// PutFastToken stores t as the pending token of its client, replacing
	// the pending one there was (t.Pending is ignored), and deletes the
	// tokens of t.User, of any client, that have expired.
	PutFastToken(ctx context.Context, t FastToken) error
	// PromoteFastToken makes the pending token of user's client whose
	// digest is digest the client's used token, replacing the one there
	// was; ErrNotFound if that is not the client's pending token.
	PromoteFastToken(ctx context.Context, user, client string, digest []byte) error
	// DeleteFastTokens deletes the tokens of user's client, or of every
	// client of user when client is "", and reports how many.
	DeleteFastTokens(ctx context.Context, user, client string) (int64, error)
}
