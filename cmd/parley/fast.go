package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"parley/audit"
	"parley/storage"
)

// runFastRevoke runs "parley fast-revoke": deletes the FAST tokens
// (XEP-0484) of an account, of every client or of the one -client names,
// so that they log in with the password again.
func runFastRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("fast-revoke", "[-config FILE] [-client ID] JID", stdout, stderr)
	client := c.flags.String("client", "", "revoke only the tokens of the client with this SASL2 user-agent `ID`")
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	cfg, user, err := c.configAndUser(pos[0])
	if err != nil {
		return c.fail(err)
	}
	return withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		if ok, err := st.AccountExists(ctx, user); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%s: %w", user, errors.New("no such account"))
		}
		n, err := st.DeleteFastTokens(ctx, user, *client)
		if err != nil {
			return err
		}
		of := "every client"
		if *client != "" {
			of = fmt.Sprintf("client %q", *client)
		}
		if err := rec(audit.FastTokensRevoked, user, fmt.Sprintf("parley fast-revoke: %d tokens of %s", n, of)); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked %d FAST tokens of %s\n", n, user)
		return nil
	})
}
