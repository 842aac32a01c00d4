package s2s

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
)

// defaultPort is the port of the fallback target used when a domain
// publishes no SRV records (RFC 6120 §3.2.2).
const defaultPort = 5269

// Target is one address to try when connecting to a remote server.
type Target struct {
	Addr      string // host:port to dial
	DirectTLS bool   // XEP-0368: TLS from the first byte; false means STARTTLS
}

// DNS is the part of *net.Resolver the resolver uses (so tests can fake it).
type DNS interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// Resolver finds where a remote XMPP server listens.
type Resolver struct {
	Hosts map[string]string // domain -> "host:port", overrides DNS (the [s2s.hosts] config table)
	DNS   DNS               // nil means net.DefaultResolver

	// rand returns a random integer in [0, n); nil means math/rand/v2.IntN.
	// Tests set it to make the weighted selection deterministic.
	rand func(n int) int
}

// Resolve returns the targets for domain in the order to try them.
//
// A Hosts entry for domain is the only target, with STARTTLS. Otherwise the
// _xmpps-server._tcp (direct TLS) and _xmpp-server._tcp (STARTTLS) SRV
// records of domain are merged and ordered as RFC 2782 describes: by
// priority, then by weighted random selection, direct TLS first between
// records of equal priority and weight. A record set made of a single record
// with target "." means that service is decidedly not available; if that
// leaves no target, Resolve fails. If neither lookup yields records, the
// target is domain:5269 with STARTTLS, its address resolved when dialing.
//
// domain is used as given: the caller normalizes it.
func (r *Resolver) Resolve(ctx context.Context, domain string) ([]Target, error) {
	if domain == "" {
		return nil, errors.New("resolve: empty domain")
	}
	if addr, ok := r.Hosts[domain]; ok {
		return []Target{{Addr: addr}}, nil
	}
	dns := r.DNS
	if dns == nil {
		dns = net.DefaultResolver
	}

	// The SRV record sets, in the order their records are preferred
	// when priority and weight are equal.
	services := [...]struct {
		name      string
		directTLS bool
	}{
		{"xmpps-server", true}, // XEP-0368
		{"xmpp-server", false}, // RFC 6120 §3.2.1
	}
	var (
		records     []record
		unavailable []string // record sets saying "not available here"
	)
	for _, svc := range services {
		_, srvs, err := dns.LookupSRV(ctx, svc.name, "tcp", domain)
		if err != nil && len(srvs) == 0 {
			// NXDOMAIN, no answer or a DNS failure: no records
			// from this set. A cancelled context is not a DNS
			// answer, though.
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("resolve %s: lookup _%s._tcp.%s: %w", domain, svc.name, domain, ctxErr)
			}
			continue
		}
		// Go's resolver may return valid records along with an error
		// about invalid ones; the valid ones are usable.
		if len(srvs) == 1 && srvs[0] != nil && srvs[0].Target == "." {
			unavailable = append(unavailable, "_"+svc.name+"._tcp."+domain)
			continue
		}
		for _, s := range srvs {
			if s == nil {
				continue
			}
			host := strings.TrimSuffix(s.Target, ".")
			if host == "" {
				// "." among other records is meaningless.
				continue
			}
			records = append(records, record{
				Target: Target{
					Addr:      net.JoinHostPort(host, strconv.Itoa(int(s.Port))),
					DirectTLS: svc.directTLS,
				},
				priority: s.Priority,
				weight:   s.Weight,
			})
		}
	}

	if len(records) > 0 {
		return r.order(records), nil
	}
	if len(unavailable) > 0 {
		// XEP-0368 §5: no A/AAAA fallback once a "." record says SRV
		// is in use for the domain.
		return nil, fmt.Errorf("resolve %s: server-to-server service decidedly not available at the domain (SRV target \".\" for %s)",
			domain, strings.Join(unavailable, " and "))
	}
	return []Target{{Addr: net.JoinHostPort(domain, strconv.Itoa(defaultPort))}}, nil
}

// record is an SRV record turned into a Target.
type record struct {
	Target
	priority, weight uint16
}

// order sorts records by priority, then within a priority by RFC 2782
// weighted random selection, preferring direct TLS between records of
// equal weight.
func (r *Resolver) order(records []record) []Target {
	randN := r.rand
	if randN == nil {
		randN = rand.IntN
	}
	// Stable sort: records with weight 0 first within a priority, as
	// RFC 2782 asks; otherwise direct TLS records (looked up first) stay
	// before STARTTLS ones and DNS order is kept.
	slices.SortStableFunc(records, func(a, b record) int {
		if a.priority != b.priority {
			return int(a.priority) - int(b.priority)
		}
		return boolInt(a.weight != 0) - boolInt(b.weight != 0)
	})

	targets := make([]Target, 0, len(records))
	for len(records) > 0 {
		end := 1
		for end < len(records) && records[end].priority == records[0].priority {
			end++
		}
		group := records[:end]
		records = records[end:]
		for len(group) > 0 {
			i := pickWeighted(group, randN)
			targets = append(targets, group[i].Target)
			group = slices.Delete(group, i, i+1)
		}
	}
	return targets
}

// pickWeighted returns the index of the record of group (all of one
// priority) to try next: RFC 2782's running-sum selection, except that a
// STARTTLS pick gives way to a direct TLS record of the same weight, which
// leaves the odds of each weight unchanged.
func pickWeighted(group []record, randN func(int) int) int {
	if len(group) == 1 {
		return 0
	}
	sum := 0
	for _, rec := range group {
		sum += int(rec.weight)
	}
	chosen := 0
	if sum > 0 {
		n, running := randN(sum+1), 0
		for i, rec := range group {
			running += int(rec.weight)
			if running >= n {
				chosen = i
				break
			}
		}
	}
	if group[chosen].DirectTLS {
		return chosen
	}
	var direct []int
	for i, rec := range group {
		if rec.DirectTLS && rec.weight == group[chosen].weight {
			direct = append(direct, i)
		}
	}
	switch len(direct) {
	case 0:
		return chosen
	case 1:
		return direct[0]
	}
	return direct[randN(len(direct))]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
