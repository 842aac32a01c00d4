package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"parley/storage"
)

// ErrBadInvitation is returned for a token that names no usable
// invitation: unknown, used already, expired, for another domain, or for
// another username.
var ErrBadInvitation = errors.New("the invitation is unknown, used or expired")

// tokenBytes is the entropy of a token: 144 bits, 24 characters.
const tokenBytes = 18

// Invite makes an invitation to register one account on domain, for the
// prepared username localpart only unless it is "", working for ttl from
// now. It returns the token, which is shown once and stored only hashed.
func Invite(ctx context.Context, st storage.Invitations, domain, localpart string, ttl time.Duration, now time.Time) (string, storage.Invitation, error) {
	if ttl <= 0 {
		return "", storage.Invitation{}, fmt.Errorf("invitation lifetime %s is not positive", ttl)
	}
	for {
		var b [tokenBytes]byte
		rand.Read(b[:])
		token := base64.RawURLEncoding.EncodeToString(b[:])
		inv := storage.Invitation{
			TokenHash: HashToken(token),
			Domain:    domain,
			Localpart: localpart,
			Created:   now.UTC(),
			Expires:   now.Add(ttl).UTC(),
		}
		err := st.CreateInvitation(ctx, inv)
		if errors.Is(err, storage.ErrExists) {
			continue // as likely as guessing a token; draw again
		}
		if err != nil {
			return "", storage.Invitation{}, err
		}
		return token, inv, nil
	}
}

// HashToken returns the hash under which a token's invitation is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// InvitationID names inv without its token, for logs and the audit log:
// the start of the token's hash.
func InvitationID(inv storage.Invitation) string {
	if len(inv.TokenHash) < 12 {
		return inv.TokenHash
	}
	return inv.TokenHash[:12]
}

// URI returns the XMPP URI (XEP-0401, XEP-0147) with which a client
// registers with token: xmpp:DOMAIN?register;preauth=TOKEN, with the
// username before the domain when the invitation is for one.
func URI(inv storage.Invitation, token string) string {
	addr := inv.Domain
	if inv.Localpart != "" {
		addr = url.PathEscape(inv.Localpart) + "@" + addr
	}
	return "xmpp:" + addr + "?register;preauth=" + url.QueryEscape(token)
}

// CheckInvitation returns the invitation of token if it can register an
// account on domain at now; ErrBadInvitation otherwise. It does not use
// the invitation up (see UseInvitation).
func CheckInvitation(ctx context.Context, st storage.Invitations, token, domain string, now time.Time) (storage.Invitation, error) {
	if token == "" {
		return storage.Invitation{}, ErrBadInvitation
	}
	inv, err := st.Invitation(ctx, HashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Invitation{}, ErrBadInvitation
	}
	if err != nil {
		return storage.Invitation{}, err
	}
	if inv.Domain != domain || !now.Before(inv.Expires) {
		return storage.Invitation{}, ErrBadInvitation
	}
	return inv, nil
}

// Allows reports whether inv may register the account user (a bare
// JID).
func Allows(inv storage.Invitation, user string) bool {
	return inv.Localpart == "" || user == inv.Localpart+"@"+inv.Domain
}

// UseInvitation uses inv up; ErrBadInvitation if it was used meanwhile.
// If creating the account then fails, RestoreInvitation gives it back.
func UseInvitation(ctx context.Context, st storage.Invitations, inv storage.Invitation) error {
	ok, err := st.DeleteInvitation(ctx, inv.TokenHash)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBadInvitation
	}
	return nil
}

// RestoreInvitation stores again an invitation UseInvitation used up,
// when the account it was to create could not be created.
func RestoreInvitation(ctx context.Context, st storage.Invitations, inv storage.Invitation) error {
	if err := st.CreateInvitation(ctx, inv); err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("restore invitation: %w", err)
	}
	return nil
}
