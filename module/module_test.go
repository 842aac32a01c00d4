package module

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"parley/config"
	"parley/router"
	"parley/streamfeature"
)

func TestSetupRunsEnabledModulesInOrder(t *testing.T) {
	cfg := config.Default()
	cfg.MUC.Domain = "conference.example.test"
	var order []string
	spec := func(name string, enabled func(*config.Config) bool) Spec {
		return Spec{Name: name, Enabled: enabled, Setup: func(h *Host) (any, error) {
			order = append(order, name)
			h.Go(func(context.Context) {})
			return name + "-instance", nil
		}}
	}
	set, err := Setup([]Spec{
		spec("first", nil),
		spec("off", func(*config.Config) bool { return false }),
		spec("muc", func(c *config.Config) bool { return c.MUC.Domain != "" }),
	}, Host{Router: router.New([]string{"example.test"}, nil, zerolog.Nop()), Config: cfg, Features: new(streamfeature.Registry)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"first", "muc"}) || !slices.Equal(set.Names(), order) {
		t.Fatalf("set up %v, names %v", order, set.Names())
	}
	if set.Instance("muc") != "muc-instance" || set.Instance("off") != nil {
		t.Fatalf("instances: %v, %v", set.Instance("muc"), set.Instance("off"))
	}
	if len(set.Runs()) != 2 {
		t.Fatalf("%d background functions, want 2", len(set.Runs()))
	}
}

func TestSetupErrors(t *testing.T) {
	ok := Spec{Name: "a", Setup: func(*Host) (any, error) { return nil, nil }}
	failing := Spec{Name: "b", Setup: func(*Host) (any, error) { return nil, errors.New("bad section") }}
	base := Host{Config: config.Default()}
	if _, err := Setup([]Spec{ok, ok}, base); err == nil {
		t.Error("a module listed twice was accepted")
	}
	if _, err := Setup([]Spec{ok, failing}, base); err == nil || err.Error() != "module b: bad section" {
		t.Errorf("failing setup: %v", err)
	}
}

func TestHostInstanceOfEarlierModule(t *testing.T) {
	var seen []any
	_, err := Setup([]Spec{
		{Name: "base", Setup: func(*Host) (any, error) { return "service", nil }},
		{Name: "user", Setup: func(h *Host) (any, error) {
			seen = append(seen, h.Instance("base"), h.Instance("later"))
			return nil, nil
		}},
		{Name: "later", Setup: func(*Host) (any, error) { return "x", nil }},
	}, Host{Config: config.Default()})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "service" || seen[1] != nil {
		t.Fatalf("Instance saw %v, want [service <nil>]", seen)
	}
}
