package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Namespaces of the modern login (XEP-0388, XEP-0386, XEP-0484).
const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
	nsFast  = "urn:xmpp:fast:0"
	mechHT  = "HT-SHA-256-NONE"
)

// reconnectKinds are the phases of the reconnect scenario, in order:
// legacy SASL with a stream restart and an iq bind; SASL2 with the same
// SCRAM mechanism and Bind 2 inline; SASL2 with a FAST token and Bind 2.
var reconnectKinds = []string{"legacy", "sasl2", "fast"}

// reconnect measures -logins reconnections of each kind, one phase after
// the other: TCP, STARTTLS, then authentication up to a bound session,
// then close. Latency is from dialing to the bound session; round trips
// are those after TLS up to it. Setup (not measured) derives the SCRAM
// keys, gets one FAST token per account with a password login and logs
// in with it once.
func (b *bench) reconnect(ctx context.Context) (*record, error) {
	o := b.o
	users := min(o.users, o.logins)
	if err := b.warmSCRAM(ctx, users); err != nil {
		return nil, err
	}
	tokens := make([]string, users+1)
	var mu sync.Mutex
	var first error
	parallel(ctx, users, o.clients, func(i int) {
		tok, err := b.conn.fastToken(ctx, i+1)
		if err == nil {
			// Use the token once: a reconnecting client's token is one
			// it used before (the first use of a new token also retires
			// the one it replaces, a write the server makes once).
			var s *session
			if s, _, err = b.conn.reconnect(ctx, "fast", i+1, tok, b.resource("w", i)); err == nil {
				s.close()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = fmt.Errorf("FAST token for %s: %w", o.user(i+1), err)
		}
		tokens[i+1] = tok
	})
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		return nil, first
	}

	params := newRecord().set("clients", o.clients).set("logins", o.logins).set("users", users).
		set("rounds", o.rounds).set("tls_resume", o.tlsResume)
	type tally struct {
		ph    phase
		h     histogram
		ok    int64
		trips map[int]bool
	}
	tallies := make(map[string]*tally)
	for _, kind := range reconnectKinds {
		tallies[kind] = &tally{trips: make(map[int]bool)}
	}
	// The kinds take turns, round after round, so that a change of the
	// machine's load during the run weighs on each alike.
	done := 0
	for round := range o.rounds {
		n := o.logins / o.rounds
		if round == o.rounds-1 {
			n = o.logins - done
		}
		for _, kind := range reconnectKinds {
			var mu sync.Mutex
			ph, h, ok, err := b.timedRuns(ctx, n, func(k int) (func(), error) {
				i := (done+k)%users + 1
				s, trips, err := b.conn.reconnect(ctx, kind, i, tokens[i], b.resource("c", done+k))
				if err != nil {
					return nil, err
				}
				mu.Lock()
				tallies[kind].trips[trips] = true
				mu.Unlock()
				return s.close, nil
			})
			if err != nil {
				return nil, err
			}
			t := tallies[kind]
			t.ph.duration += ph.duration
			t.ph.serverCPU += ph.serverCPU
			t.ph.clientCPU += ph.clientCPU
			t.ph.serverRSS = ph.serverRSS
			t.h.merge(h)
			t.ok += ok
		}
		done += n
	}
	results := newRecord()
	var total phase
	perCPU := make(map[string]float64)
	for _, kind := range reconnectKinds {
		t := tallies[kind]
		var rt []int
		for n := range t.trips {
			rt = append(rt, n)
		}
		slices.Sort(rt)
		perCPU[kind] = t.ph.perCPU(float64(t.ok))
		results.set(kind+"_logins", t.ok).
			set(kind+"_duration_s", t.ph.duration.Seconds()).
			set(kind+"_server_cpu_s", t.ph.serverCPU.Seconds()).
			set(kind+"_logins_per_s", t.ph.perSecond(float64(t.ok))).
			set(kind+"_logins_per_cpu_s", perCPU[kind]).
			set(kind+"_p50_ms", t.h.quantileMs(0.50)).
			set(kind+"_p99_ms", t.h.quantileMs(0.99)).
			set(kind+"_round_trips", rt)
		total.duration += t.ph.duration
		total.serverCPU += t.ph.serverCPU
		total.clientCPU += t.ph.clientCPU
		total.serverRSS = t.ph.serverRSS
	}
	r := b.record(params).setPhase(total, b.errs.Load())
	for _, k := range results.keys {
		r.set(k, results.vals[k])
	}
	if perCPU["sasl2"] > 0 && perCPU["legacy"] > 0 {
		r.set("fast_vs_sasl2_per_cpu", perCPU["fast"]/perCPU["sasl2"]).
			set("fast_vs_legacy_per_cpu", perCPU["fast"]/perCPU["legacy"])
	}
	return timedOut(ctx, r), nil
}

// agentID is the SASL2 user-agent id of the generator's client for
// user i: stable, so that each run replaces the token of the last.
func agentID(i int) string { return fmt.Sprintf("parley-bench-%d", i) }

// fastToken logs user i in with SASL2 and SCRAM, asking for a FAST
// token, and returns it.
func (c *connector) fastToken(ctx context.Context, i int) (string, error) {
	s, feats, err := c.secure(ctx)
	if err != nil {
		return "", err
	}
	defer s.close()
	raw, _, err := c.scram2(s, feats, i, "<request-token xmlns='"+nsFast+"' mechanism='"+mechHT+"'/>")
	if err != nil {
		return "", err
	}
	end := elementStart(raw, "token")
	if end < 0 {
		return "", fmt.Errorf("no token in %q", clip(raw))
	}
	tok := attrString(raw[end:], "token")
	if tok == "" {
		return "", fmt.Errorf("empty token in %q", clip(raw))
	}
	return tok, nil
}

// reconnect logs user i in one way (see reconnectKinds) up to a bound
// session and returns it with the round trips it took after TLS.
func (c *connector) reconnect(ctx context.Context, kind string, i int, token, resource string) (*session, int, error) {
	s, feats, err := c.secure(ctx)
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (*session, int, error) {
		s.nc.Close()
		return nil, 0, fmt.Errorf("%s login of %s: %w", kind, c.user(i), err)
	}
	var trips int
	switch kind {
	case "legacy":
		if feats, err = c.authenticate(s, feats, i); err != nil {
			return fail(err)
		}
		if err := c.bind(s, feats, i, resource); err != nil {
			return fail(err)
		}
		trips = 4 // <auth/>, <response/>, the stream restart, the bind
	case "sasl2":
		if _, trips, err = c.scram2(s, feats, i, "<bind xmlns='"+nsBind2+"'><tag>bench</tag></bind>"); err != nil {
			return fail(err)
		}
	default:
		if err := c.fastLogin(s, feats, i, token); err != nil {
			return fail(err)
		}
		trips = 1
	}
	return s, trips, nil
}

// scram2 authenticates user i with SASL2 and the connector's SCRAM
// mechanism, with inner in <authenticate/>; it returns the <success/>
// and the round trips it took.
func (c *connector) scram2(s *session, feats features, i int, inner string) ([]byte, int, error) {
	if !feats.sasl2 || !isSCRAM(c.mech) {
		return nil, 0, fmt.Errorf("SASL2 with %s is not offered", c.mech)
	}
	sc, err := newSCRAMClient(c.mech, c.user(i), c.password, "", c.cache)
	if err != nil {
		return nil, 0, err
	}
	if err := s.writeString("<authenticate xmlns='" + nsSASL2 + "' mechanism='" + c.mech + "'><initial-response>" +
		base64.StdEncoding.EncodeToString(sc.first()) + "</initial-response><user-agent id='" + agentID(i) + "'/>" +
		inner + "</authenticate>"); err != nil {
		return nil, 0, err
	}
	raw, err := c.nextStanza(s)
	if err != nil {
		return nil, 0, err
	}
	if string(elemName(raw)) != "challenge" {
		return nil, 0, fmt.Errorf("SASL2: expected a challenge, got %q", clip(raw))
	}
	data, _ := childlessText(raw)
	payload, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, 0, fmt.Errorf("SASL2: bad base64 in %q", clip(raw))
	}
	resp, err := sc.final(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("SASL2: %w", err)
	}
	if err := s.writeString("<response xmlns='" + nsSASL2 + "'>" + base64.StdEncoding.EncodeToString(resp) + "</response>"); err != nil {
		return nil, 0, err
	}
	raw, err = c.success2(s, i)
	if err != nil {
		return nil, 0, err
	}
	final, _ := childText(raw, "additional-data")
	serverFinal, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(final)))
	if err != nil {
		return nil, 0, fmt.Errorf("SASL2: bad additional data in %q", clip(raw))
	}
	if err := sc.verify(serverFinal); err != nil {
		return nil, 0, fmt.Errorf("SASL2: %w", err)
	}
	return raw, 2, nil
}

// fastLogin authenticates user i with its FAST token and Bind 2 in one
// message, and checks the server's proof of the token.
func (c *connector) fastLogin(s *session, feats features, i int, token string) error {
	if !feats.fast {
		return fmt.Errorf("FAST (%s) is not offered", mechHT)
	}
	msg := append([]byte(c.user(i)+"\x00"), htHMAC(token, "Initiator")...)
	if err := s.writeString("<authenticate xmlns='" + nsSASL2 + "' mechanism='" + mechHT + "'><initial-response>" +
		base64.StdEncoding.EncodeToString(msg) + "</initial-response><user-agent id='" + agentID(i) + "'/>" +
		"<fast xmlns='" + nsFast + "'/><bind xmlns='" + nsBind2 + "'><tag>bench</tag></bind></authenticate>"); err != nil {
		return err
	}
	raw, err := c.success2(s, i)
	if err != nil {
		return err
	}
	data, _ := childText(raw, "additional-data")
	proof, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || !hmac.Equal(proof, htHMAC(token, "Responder")) {
		return fmt.Errorf("FAST: the server did not prove the token: %q", clip(raw))
	}
	return nil
}

// success2 reads the SASL2 outcome, which must be a success, and records
// the session's address from it.
func (c *connector) success2(s *session, i int) ([]byte, error) {
	raw, err := c.nextStanza(s)
	if err != nil {
		return nil, err
	}
	switch string(elemName(raw)) {
	case "success":
	case "failure":
		return nil, fmt.Errorf("SASL2 failed: %s", firstChildName(raw))
	default:
		return nil, fmt.Errorf("SASL2: unexpected %q", clip(raw))
	}
	if j, ok := childText(raw, "authorization-identifier"); ok {
		s.jid = unescape(j)
		s.bare, _, _ = strings.Cut(s.jid, "/")
		s.index = i
	}
	return raw, nil
}

// htHMAC is HMAC-SHA-256(token, label), the HT mechanism without channel
// binding.
func htHMAC(token, label string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// merge adds the values of o to h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.total.Add(o.total.Load())
}
