package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"parley/account"
	"parley/audit"
	"parley/config"
	"parley/storage"
)

// maxInviteLifetime is the longest -expire accepted.
const maxInviteLifetime = 365 * 24 * time.Hour

// runInvite runs "parley invite": makes an invitation to register one
// account in band (XEP-0401) and prints its token and the xmpp: URI a
// client registers with. The token is stored only hashed, works once and
// expires.
func runInvite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("invite", "[-config FILE] [-expire 7d] [-user LOCALPART] [-domain DOMAIN]", stdout, stderr)
	expire := c.flags.String("expire", "7d", "how long the invitation works, such as 7d, 12h or 30m")
	user := c.flags.String("user", "", "the only username the invitation registers; default any")
	domain := c.flags.String("domain", "", "the served domain to register on; default the first of server.domains")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	var ttl config.Duration
	if err := ttl.UnmarshalText([]byte(*expire)); err != nil {
		return c.usageError("-expire: " + err.Error())
	}
	if ttl.Duration <= 0 || ttl.Duration > maxInviteLifetime {
		return c.usageError(fmt.Sprintf("-expire: %s is not between 1s and 365d", ttl.Duration))
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	dom := cfg.Server.Domains[0]
	if *domain != "" {
		if dom, err = parseDomain(*domain, cfg, *c.config); err != nil {
			return c.fail(err)
		}
	}
	local := ""
	if *user != "" {
		bare, err := account.User(*user, dom)
		if err != nil {
			return c.fail(fmt.Errorf("-user: %w", err))
		}
		local, _, _ = strings.Cut(bare, "@")
	}
	if !cfg.Register.Enabled {
		fmt.Fprintf(c.stderr, "parley: invite: warning: in-band registration is off in %s ([register] enabled = false); the invitation works once it is on\n", *c.config)
	}
	return withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		if local != "" {
			if ok, err := st.AccountExists(ctx, local+"@"+dom); err != nil {
				return err
			} else if ok {
				return fmt.Errorf("%s@%s: account already exists", local, dom)
			}
		}
		token, inv, err := account.Invite(ctx, st, dom, local, ttl.Duration, time.Now())
		if err != nil {
			return err
		}
		who, target := "any username", dom
		if local != "" {
			who, target = local+"@"+dom, local+"@"+dom
		}
		// The token is not recorded; the start of its hash tells the
		// invitation apart, as the registration it is used for does.
		detail := fmt.Sprintf("parley invite: %s on %s, once, until %s; invitation %s",
			who, dom, inv.Expires.Format(time.RFC3339), account.InvitationID(inv))
		if err := rec(audit.InvitationCreated, target, detail); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "invitation to register %s on %s, once, until %s\n", who, dom, inv.Expires.Format(time.RFC3339))
		fmt.Fprintf(c.stdout, "token: %s\n", token)
		fmt.Fprintf(c.stdout, "uri: %s\n", account.URI(inv, token))
		return nil
	})
}
