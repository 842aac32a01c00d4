// Package account holds the operations on accounts that the command line
// (parley adduser, passwd, deluser, invite) and in-band registration
// (modules/register) share, so that an account made, changed or removed
// either way is the same: usernames prepared as JID localparts,
// passwords kept only as salted SCRAM credentials, deletion taking every
// piece of the account's data, and single-use, expiring invitations
// whose tokens are stored hashed.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"parley/sasl"
	"parley/storage"
	"parley/upload"
)

// Errors of the account operations; they wrap storage's where one fits.
var (
	// ErrExists is returned when creating an account that exists.
	ErrExists = storage.ErrExists
	// ErrNotFound is returned for an account that does not exist.
	ErrNotFound = storage.ErrNotFound
)

// User returns the bare JID of the account named username on domain,
// with the username prepared as a JID localpart (RFC 7622: case folded,
// normalized), or an error saying why the name cannot be one.
func User(username, domain string) (string, error) {
	if username == "" {
		return "", errors.New("the username is empty")
	}
	if strings.ContainsAny(username, "@/") {
		return "", fmt.Errorf("the username %q has a character a username cannot hold (@ or /)", username)
	}
	j, err := jid.New(username, domain, "")
	if err != nil {
		return "", fmt.Errorf("the username %q is not a valid JID localpart: %w", username, err)
	}
	if j.Localpart() == "" {
		return "", fmt.Errorf("the username %q is not a valid JID localpart", username)
	}
	return j.Bare().String(), nil
}

// Create creates the account user (a bare JID) with the password;
// ErrExists if it exists. The password is kept only as salted SCRAM
// credentials.
func Create(ctx context.Context, st storage.Accounts, user, password string) error {
	// Skip the costly derivation for accounts that exist already.
	if ok, err := st.AccountExists(ctx, user); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%s: %w", user, ErrExists)
	}
	creds, err := sasl.NewCredentials(password, sasl.DefaultIterations)
	if err != nil {
		return fmt.Errorf("%s: %w", user, err)
	}
	if err := st.CreateAccount(ctx, user, creds); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("%s: %w", user, ErrExists)
		}
		return err
	}
	return nil
}

// SetPassword replaces the credentials of user (a bare JID) with ones
// derived from password; ErrNotFound if there is no such account.
func SetPassword(ctx context.Context, st storage.Accounts, user, password string) error {
	creds, err := sasl.NewCredentials(password, sasl.DefaultIterations)
	if err != nil {
		return fmt.Errorf("%s: %w", user, err)
	}
	if err := st.SetCredentials(ctx, user, creds); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%s: %w", user, ErrNotFound)
		}
		return err
	}
	return nil
}

// Delete deletes user (a bare JID) and everything stored for it (see
// storage.Accounts.DeleteAccount), then the files it uploaded to
// uploadDir, whether or not the upload service runs; ErrNotFound if there
// is no such account. It returns how many files it removed. A running
// server also calls router.AccountDeleted, for what its features hold.
func Delete(ctx context.Context, st storage.Accounts, user, uploadDir string) (files int, err error) {
	if err := st.DeleteAccount(ctx, user); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("%s: %w", user, ErrNotFound)
		}
		return 0, err
	}
	n, err := upload.RemoveFiles(uploadDir, user)
	if err != nil {
		return n, fmt.Errorf("%s deleted, but not all of the files uploaded: %w", user, err)
	}
	return n, nil
}
