package s2s

import (
	"fmt"
	"net"
	"strings"
	"time"

	"parley/audit"
)

// How refused links are summed up in the audit log.
const (
	// RefusalWindow: the first refusal of a domain for a reason is
	// recorded at once, its repeats once per window.
	RefusalWindow = time.Minute
	// refusalMaxKeys bounds the (domain, reason) pairs followed at once.
	refusalMaxKeys = 256
)

// NewRefusals returns what sums up refused and failed links in log
// (federation.refused): per direction, remote domain and reason, the
// first at once, then at most one event per RefusalWindow with the count,
// so that a flood of refused connections cannot flood the log. Its Run
// must run while the server does (see audit.Repeats).
func NewRefusals(log *audit.Log, onError func(error)) *audit.Repeats {
	return audit.NewRepeats(log, audit.RepeatsOptions{
		Window:  RefusalWindow,
		MaxKeys: refusalMaxKeys,
		Event:   refusalEvent,
		OnError: onError,
	})
}

// refusalEvent describes a run of refusals.
func refusalEvent(r audit.Repeat) audit.Event {
	detail := r.Detail
	switch {
	case r.Others:
		detail = fmt.Sprintf("%d links of other domains refused since %s (more than %d domains and reasons at once); the last: %s",
			r.Count, r.Since.UTC().Format(time.RFC3339), refusalMaxKeys, r.Detail)
	case !r.First:
		detail = fmt.Sprintf("repeated %d more times since %s; the last: %s", r.Count, r.Since.UTC().Format(time.RFC3339), r.Detail)
	}
	return audit.Event{Actor: audit.ServerActor, Action: audit.FederationRefused, Target: r.Target, Detail: detail}
}

// Kinds of reasons for refusing a link, which group repeats.
const (
	whyPolicy      = "policy"      // s2s.allow, s2s.deny
	whyTLS         = "tls"         // the TLS handshake failed
	whyStream      = "stream"      // a stream error before authentication
	whyCertificate = "certificate" // SASL EXTERNAL refused
	whyDialback    = "dialback"    // dialback refused or failed
	whyFailed      = "failed"      // an outgoing link could not be set up
)

// linkText names a link for people: "inbound link from b.example to
// a.example".
func linkText(direction string, p pair) string {
	remote, local := p.remote, p.local
	if remote == "" {
		remote = "an unnamed domain"
	}
	if local == "" {
		local = "no domain of ours"
	}
	if direction == "in" {
		return "inbound link from " + remote + " to " + local
	}
	return "outbound link from " + local + " to " + remote
}

// authText names an authentication method of logLink for people.
func authText(auth string) string {
	method, bidi := strings.CutSuffix(auth, "+bidi")
	switch method {
	case "EXTERNAL":
		method = "by certificate (SASL EXTERNAL)"
	case "dialback":
		method = "by dialback"
	default:
		method = "by " + method
	}
	if bidi {
		method += ", bidirectional"
	}
	return method
}

// auditEstablished records that a link was established.
func (s *Service) auditEstablished(direction string, p pair, auth string) {
	err := s.opts.Audit.Record(audit.Event{
		Actor:  audit.ServerActor,
		Action: audit.FederationEstablished,
		Target: p.remote,
		Detail: linkText(direction, p) + " established, authenticated " + authText(auth),
	})
	if err != nil {
		s.opts.Log.Error().Err(err).Str("remote", p.remote).Msg("s2s: recording a link in the audit log failed")
	}
}

// auditRefused counts a refused (or failed) link of p for the audit log:
// why is the kind of reason, which with the direction and the remote
// domain groups repeats; reason says it in full; addr is the peer's
// address, if known, named when the peer named no domain.
func (s *Service) auditRefused(direction string, p pair, why, reason, addr string) {
	target := p.remote
	if target == "" {
		target, _, _ = net.SplitHostPort(addr)
	}
	verb := " refused: "
	if why == whyFailed {
		verb = " failed: "
	}
	detail := linkText(direction, p) + verb + reason
	if addr != "" {
		detail += " (peer " + addr + ")"
	}
	s.opts.Refusals.Note(direction+"\x00"+p.remote+"\x00"+why, audit.Occurrence{Target: target, Detail: detail})
}
