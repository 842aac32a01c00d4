package c2s

import (
	"context"
	"errors"
	"slices"
	"time"

	"parley/sasl"
	"parley/storage"
	"parley/xmlstream"
)

// fastEnabled reports whether FAST tokens (XEP-0484) are offered.
func (s *Server) fastEnabled() bool {
	return s.opts.FastTokens != nil && s.opts.FastTokenLifetime > 0
}

// fastLogin is one login with a FAST token: the tokens of the client
// that were checked, and what becomes of them once it succeeded.
type fastLogin struct {
	srv    *Server
	client string // the SASL2 user-agent id the tokens are bound to
	mech   string
	tokens []storage.FastToken // those HTKeys returned, in order
}

// keys returns the digests of the unexpired tokens of the user's client
// bound to the login's mechanism: the pending one first (XEP-0484 §6.1).
// Without a user-agent id there are none.
func (f *fastLogin) keys(ctx context.Context, user string) ([][]byte, error) {
	f.tokens = nil
	if f.client == "" {
		return nil, nil
	}
	all, err := f.srv.opts.FastTokens.FastTokens(ctx, user, f.client)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var keys [][]byte
	for _, t := range all {
		if t.Mechanism != f.mech || !now.Before(t.Expiry) || len(t.Digest) == 0 {
			continue
		}
		f.tokens = append(f.tokens, t)
		keys = append(keys, t.Digest)
	}
	return keys, nil
}

// succeeded updates the client's tokens after it logged in with the one
// at index matched, and returns the <token/> to put in <success/>, if
// any: a pending token used becomes the client's token, which ends the
// one it replaces; invalidate='true' ends the client's tokens; a token
// is issued when the client asks, or when the one it used is past half
// its lifetime.
func (f *fastLogin) succeeded(ctx context.Context, req sasl2Request, user string, matched int) string {
	if matched < 0 || matched >= len(f.tokens) {
		return ""
	}
	used := f.tokens[matched]
	st := f.srv.opts.FastTokens
	log := f.srv.opts.Log
	if req.fast != nil && isTrue(req.fast.Attr("invalidate")) {
		if _, err := st.DeleteFastTokens(ctx, user, f.client); err != nil {
			log.Error().Err(err).Str("user", user).Msg("FAST tokens not invalidated")
		}
		if req.tokenFor == "" {
			return ""
		}
		return f.srv.issueToken(ctx, user, f.client, req.tokenFor)
	}
	if used.Pending {
		// ErrNotFound: a login of the same client that ran at the same
		// time promoted it already.
		if err := st.PromoteFastToken(ctx, user, f.client, used.Digest); err != nil && !errors.Is(err, storage.ErrNotFound) {
			log.Error().Err(err).Str("user", user).Msg("FAST token not promoted")
		}
	}
	mech := req.tokenFor
	if mech == "" && time.Until(used.Expiry) < f.srv.opts.FastTokenLifetime/2 {
		mech = f.mech
	}
	if mech == "" {
		return ""
	}
	return f.srv.issueToken(ctx, user, f.client, mech)
}

// issueToken answers <request-token/> on a login that used another
// mechanism, such as a password.
func (c *conn) issueToken(ctx context.Context, req sasl2Request) string {
	if !c.srv.fastEnabled() {
		return ""
	}
	return c.srv.issueToken(ctx, c.user, req.agent.id, req.tokenFor)
}

// issueToken stores a new pending token of user's client for mech and
// returns the <token/> element that hands it over; "" when mech is not
// an HT mechanism, the client gave no user-agent id (a token is bound to
// it) or storing failed.
func (s *Server) issueToken(ctx context.Context, user, client, mech string) string {
	if !s.fastEnabled() || client == "" || !slices.Contains([]string{sasl.MechHTNone, sasl.MechHTEndpoint, sasl.MechHTExporter}, mech) {
		return ""
	}
	token, digest := sasl.NewToken()
	expiry := time.Now().Add(s.opts.FastTokenLifetime).UTC().Truncate(time.Second)
	err := s.opts.FastTokens.PutFastToken(ctx, storage.FastToken{
		User: user, Client: client, Mechanism: mech, Digest: digest, Expiry: expiry,
	})
	if err != nil {
		s.opts.Log.Error().Err(err).Str("user", user).Msg("FAST token not stored")
		return ""
	}
	return "<token xmlns='" + NSFast + "' expiry='" + expiry.Format(time.RFC3339) +
		"' token='" + xmlstream.Escape(token) + "'/>"
}

// isTrue reads an XML boolean.
func isTrue(v string) bool { return v == "true" || v == "1" }
