package s2s

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// answer is a fake DNS answer for one SRV query.
type answer struct {
	srvs []*net.SRV
	err  error
}

// fakeDNS answers SRV queries from a table keyed by "_service._proto.name";
// a query not in the table gets NXDOMAIN. It records the queries.
type fakeDNS struct {
	answers map[string]answer
	queries []string
}

func (f *fakeDNS) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	q := "_" + service + "._" + proto + "." + name
	f.queries = append(f.queries, q)
	if err := ctx.Err(); err != nil {
		return "", nil, &net.DNSError{Err: err.Error(), Name: q}
	}
	a, ok := f.answers[q]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: q, IsNotFound: true}
	}
	return q + ".", a.srvs, a.err
}

// scripted returns a rand function giving values in turn, recording the
// bounds it is called with; past the script it returns 0.
func scripted(values ...int) (func(int) int, *[]int) {
	var bounds []int
	return func(n int) int {
		bounds = append(bounds, n)
		v := 0
		if len(values) > 0 {
			v, values = values[0], values[1:]
		}
		if v < 0 || v >= n {
			panic("scripted rand value out of range")
		}
		return v
	}, &bounds
}

func srv(target string, port, priority, weight uint16) *net.SRV {
	return &net.SRV{Target: target, Port: port, Priority: priority, Weight: weight}
}

const (
	xmpps = "_xmpps-server._tcp.b.example"
	xmpp  = "_xmpp-server._tcp.b.example"
)

func TestResolve(t *testing.T) {
	servfail := &net.DNSError{Err: "server misbehaving", Name: xmpp, IsTemporary: true}
	fallback := []Target{{Addr: "b.example:5269"}}
	tests := []struct {
		name    string
		domain  string
		hosts   map[string]string
		answers map[string]answer
		rand    []int // scripted random values; nil: always 0
		want    []Target
		wantErr []string // substrings of the error
		// queries made, when it matters; nil: both SRV sets of domain.
		queries []string
		bounds  []int // bounds the rand function was called with, when it matters
	}{
		{
			name:    "hosts override",
			domain:  "b.example",
			hosts:   map[string]string{"b.example": "127.0.0.2:5269"},
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{srv("xmpp.b.example.", 5269, 0, 0)}}},
			want:    []Target{{Addr: "127.0.0.2:5269"}},
			queries: []string{},
		},
		{
			name:   "hosts entry of another domain",
			domain: "b.example",
			hosts:  map[string]string{"c.example": "127.0.0.3:5269"},
			want:   fallback,
		},
		{
			name:   "only xmpp-server",
			domain: "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{
				srv("two.b.example.", 5270, 20, 0),
				srv("one.b.example.", 5269, 10, 0),
			}}},
			want: []Target{{Addr: "one.b.example:5269"}, {Addr: "two.b.example:5270"}},
		},
		{
			name:   "only xmpps-server",
			domain: "b.example",
			answers: map[string]answer{xmpps: {srvs: []*net.SRV{
				srv("tls.b.example.", 443, 5, 0),
				srv("tls2.b.example", 5223, 7, 0),
			}}},
			want: []Target{
				{Addr: "tls.b.example:443", DirectTLS: true},
				{Addr: "tls2.b.example:5223", DirectTLS: true},
			},
		},
		{
			name:   "both merged by priority",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{
					srv("tls-low.b.example.", 443, 30, 0),
					srv("tls-high.b.example.", 5223, 5, 0),
				}},
				xmpp: {srvs: []*net.SRV{
					srv("plain-mid.b.example.", 5269, 10, 0),
					srv("plain-last.b.example.", 5269, 40, 0),
				}},
			},
			want: []Target{
				{Addr: "tls-high.b.example:5223", DirectTLS: true},
				{Addr: "plain-mid.b.example:5269"},
				{Addr: "tls-low.b.example:443", DirectTLS: true},
				{Addr: "plain-last.b.example:5269"},
			},
		},
		{
			name:   "STARTTLS preferred by priority",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 10, 0)}},
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 5, 0)}},
			},
			want: []Target{
				{Addr: "plain.b.example:5269"},
				{Addr: "tls.b.example:5223", DirectTLS: true},
			},
		},
		{
			name:   "direct TLS first at equal priority and weight",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 10, 0)}},
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 10, 0)}},
			},
			want: []Target{
				{Addr: "tls.b.example:5223", DirectTLS: true},
				{Addr: "plain.b.example:5269"},
			},
			bounds: []int{},
		},
		{
			// The weighted pick falls on the STARTTLS record (running
			// sums 10, 20; 15 picks the second), which gives way to
			// the direct TLS record of the same weight.
			name:   "direct TLS first at equal weight over the random pick",
			domain: "b.example",
			answers: map[string]answer{
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 10, 10)}},
				xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 10, 10)}},
			},
			rand: []int{15},
			want: []Target{
				{Addr: "tls.b.example:5223", DirectTLS: true},
				{Addr: "plain.b.example:5269"},
			},
			bounds: []int{21},
		},
		{
			// A different weight is not a tie: the STARTTLS pick stands.
			name:   "weighted pick of STARTTLS over direct TLS",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 10, 1)}},
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 10, 9)}},
			},
			rand: []int{2},
			want: []Target{
				{Addr: "plain.b.example:5269"},
				{Addr: "tls.b.example:5223", DirectTLS: true},
			},
			bounds: []int{11},
		},
		{
			// Arranged with weight 0 first: c (0), a (1), b (3); running
			// sums 0, 1, 4. 2 picks b; then c (0), a (1): 0 picks c.
			name:   "weights",
			domain: "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{
				srv("a.b.example.", 5269, 10, 1),
				srv("b.b.example.", 5269, 10, 3),
				srv("c.b.example.", 5269, 10, 0),
				srv("later.b.example.", 5269, 20, 5),
			}}},
			rand: []int{2, 0},
			want: []Target{
				{Addr: "b.b.example:5269"},
				{Addr: "c.b.example:5269"},
				{Addr: "a.b.example:5269"},
				{Addr: "later.b.example:5269"},
			},
			bounds: []int{5, 2},
		},
		{
			name:   "weights, first pick",
			domain: "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{
				srv("a.b.example.", 5269, 10, 1),
				srv("b.b.example.", 5269, 10, 3),
				srv("c.b.example.", 5269, 10, 0),
			}}},
			rand: []int{1, 1},
			// 1 picks a (running sum 1); then c (0), b (3): 1 picks b.
			want: []Target{
				{Addr: "a.b.example:5269"},
				{Addr: "b.b.example:5269"},
				{Addr: "c.b.example:5269"},
			},
			bounds: []int{5, 4},
		},
		{
			name:    "xmpp-server decidedly not available",
			domain:  "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{srv(".", 0, 0, 0)}}},
			wantErr: []string{"resolve b.example: ", "decidedly not available", `"." for _xmpp-server._tcp.b.example`},
		},
		{
			name:   "xmpp-server not available, direct TLS is",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 0, 0)}},
				xmpp:  {srvs: []*net.SRV{srv(".", 0, 0, 0)}},
			},
			want: []Target{{Addr: "tls.b.example:5223", DirectTLS: true}},
		},
		{
			name:   "xmpps-server not available, STARTTLS is",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv(".", 0, 0, 0)}},
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 0, 0)}},
			},
			want: []Target{{Addr: "plain.b.example:5269"}},
		},
		{
			// XEP-0368: a "." record means SRV is in use; no fallback.
			name:    "xmpps-server not available, no xmpp-server records",
			domain:  "b.example",
			answers: map[string]answer{xmpps: {srvs: []*net.SRV{srv(".", 0, 0, 0)}}},
			wantErr: []string{"decidedly not available", `"." for _xmpps-server._tcp.b.example)`},
		},
		{
			name:   "neither available",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {srvs: []*net.SRV{srv(".", 0, 0, 0)}},
				xmpp:  {srvs: []*net.SRV{srv(".", 0, 0, 0)}},
			},
			wantErr: []string{"_xmpps-server._tcp.b.example and _xmpp-server._tcp.b.example"},
		},
		{
			name:   "dot among other records is skipped",
			domain: "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{
				srv(".", 0, 0, 0),
				srv("plain.b.example.", 5269, 1, 0),
			}}},
			want: []Target{{Addr: "plain.b.example:5269"}},
		},
		{
			name:   "NXDOMAIN falls back",
			domain: "b.example",
			want:   fallback,
		},
		{
			name:   "empty answers fall back",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {},
				xmpp:  {srvs: []*net.SRV{}},
			},
			want: fallback,
		},
		{
			name:   "DNS failures fall back",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {err: errors.New("connection refused")},
				xmpp:  {err: servfail},
			},
			want: fallback,
		},
		{
			name:   "one failed lookup",
			domain: "b.example",
			answers: map[string]answer{
				xmpps: {err: servfail},
				xmpp:  {srvs: []*net.SRV{srv("plain.b.example.", 5269, 0, 0)}},
			},
			want: []Target{{Addr: "plain.b.example:5269"}},
		},
		{
			// Go's resolver returns the valid records of an answer
			// along with an error about the invalid ones.
			name:   "records with an error",
			domain: "b.example",
			answers: map[string]answer{xmpp: {
				srvs: []*net.SRV{srv("plain.b.example.", 5269, 0, 0)},
				err:  &net.DNSError{Err: "cannot unmarshal DNS message", Name: xmpp},
			}},
			want: []Target{{Addr: "plain.b.example:5269"}},
		},
		{
			name:    "IPv6 literal target",
			domain:  "b.example",
			answers: map[string]answer{xmpp: {srvs: []*net.SRV{srv("::1", 5269, 0, 0)}}},
			want:    []Target{{Addr: "[::1]:5269"}},
		},
		{
			name:    "IDN and upper case pass through",
			domain:  "Bücher.Example",
			want:    []Target{{Addr: "Bücher.Example:5269"}},
			queries: []string{"_xmpps-server._tcp.Bücher.Example", "_xmpp-server._tcp.Bücher.Example"},
		},
		{
			name:   "IDN records",
			domain: "xn--bcher-kva.example",
			answers: map[string]answer{"_xmpp-server._tcp.xn--bcher-kva.example": {
				srvs: []*net.SRV{srv("xmpp.xn--bcher-kva.example.", 5269, 0, 0)},
			}},
			want: []Target{{Addr: "xmpp.xn--bcher-kva.example:5269"}},
		},
		{
			name:    "hosts keys are matched as given",
			domain:  "B.example",
			hosts:   map[string]string{"b.example": "127.0.0.2:5269"},
			want:    []Target{{Addr: "B.example:5269"}},
			queries: []string{"_xmpps-server._tcp.B.example", "_xmpp-server._tcp.B.example"},
		},
		{
			name:    "empty domain",
			domain:  "",
			wantErr: []string{"resolve: empty domain"},
			queries: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := &fakeDNS{answers: tt.answers}
			randN, bounds := scripted(tt.rand...)
			r := &Resolver{Hosts: tt.hosts, DNS: dns, rand: randN}
			got, err := r.Resolve(context.Background(), tt.domain)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Resolve succeeded: %+v", got)
				}
				t.Log(err)
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				if got != nil {
					t.Errorf("targets %+v along with the error", got)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Resolve:\n got %+v\nwant %+v", got, tt.want)
				}
			}
			wantQueries := tt.queries
			if wantQueries == nil {
				wantQueries = []string{
					"_xmpps-server._tcp." + tt.domain,
					"_xmpp-server._tcp." + tt.domain,
				}
			}
			if !slices.Equal(dns.queries, wantQueries) {
				t.Errorf("queries = %q, want %q", dns.queries, wantQueries)
			}
			if tt.bounds != nil && !slices.Equal(*bounds, tt.bounds) {
				t.Errorf("rand called with %v, want %v", *bounds, tt.bounds)
			}
		})
	}
}

func TestResolveCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &Resolver{DNS: &fakeDNS{}}
	got, err := r.Resolve(ctx, "b.example")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve = %+v, %v; want context.Canceled", got, err)
	}
	if !strings.Contains(err.Error(), "resolve b.example: lookup _xmpps-server._tcp.b.example: ") {
		t.Errorf("error %q does not say what failed", err)
	}
}

func TestResolveHostsWithoutDNS(t *testing.T) {
	// A nil DNS is not used when Hosts answers.
	r := &Resolver{Hosts: map[string]string{"b.example": "[::1]:5270"}}
	got, err := r.Resolve(context.Background(), "b.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Target{{Addr: "[::1]:5270"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
}

// TestResolveWeightDistribution checks that the weighted selection picks a
// record first in proportion to its weight, and that equal weights keep
// their odds when direct TLS is preferred.
func TestResolveWeightDistribution(t *testing.T) {
	src := rand.New(rand.NewPCG(1, 2))
	r := &Resolver{
		DNS: &fakeDNS{answers: map[string]answer{
			xmpps: {srvs: []*net.SRV{srv("tls.b.example.", 5223, 1, 10)}},
			xmpp: {srvs: []*net.SRV{
				srv("light.b.example.", 5269, 1, 10),
				srv("heavy.b.example.", 5269, 1, 30),
				srv("backup.b.example.", 5269, 2, 50),
			}},
		}},
		rand: src.IntN,
	}
	const runs = 20000
	first := map[string]int{}
	for range runs {
		got, err := r.Resolve(context.Background(), "b.example")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[3].Addr != "backup.b.example:5269" {
			t.Fatalf("Resolve = %+v, want 4 targets ending with the backup", got)
		}
		// Equal priority and weight: direct TLS before STARTTLS.
		tls, light := -1, -1
		for i, tg := range got {
			switch tg.Addr {
			case "tls.b.example:5223":
				tls = i
			case "light.b.example:5269":
				light = i
			}
		}
		if tls > light {
			t.Fatalf("Resolve = %+v: STARTTLS before direct TLS of equal weight", got)
		}
		first[got[0].Addr]++
	}
	// Weights 10 + 10 (both counted for the direct TLS target, as it
	// takes the STARTTLS picks of equal weight) against 30.
	for addr, want := range map[string]float64{
		"tls.b.example:5223":   0.4,
		"heavy.b.example:5269": 0.6,
	} {
		if got := float64(first[addr]) / runs; got < want-0.03 || got > want+0.03 {
			t.Errorf("%s first in %.3f of runs, want about %.2f", addr, got, want)
		}
	}
}
