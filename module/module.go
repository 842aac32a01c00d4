// Package module is how a feature plugs into parley. A feature is a Spec:
// a name, whether the configuration enables it, and a Setup that
// registers with the Host everything the feature consists of: pipeline
// hooks, IQ handlers, service discovery features and identities, stream
// features and background work. The server sets up one declarative list
// of specs, in order (see server/modules.go), the way CoreDNS builds its
// plugin chain; no feature is wired anywhere else.
//
// A module's configuration is its section of config.Config, declared and
// validated in package config so that one strict schema reports every
// mistake with its file and key.
package module

import (
	"context"
	"fmt"
	"slices"

	"github.com/rs/zerolog"

	"parley/adhoc"
	"parley/archive"
	"parley/audit"
	"parley/config"
	"parley/httpserver"
	"parley/router"
	"parley/storage"
	"parley/streamfeature"
)

// Spec declares one feature module.
type Spec struct {
	// Name identifies the module in logs ("module" field) and in
	// Set.Instance.
	Name string
	// Enabled reports whether the configuration turns the module on; nil
	// means always.
	Enabled func(cfg *config.Config) bool
	// Setup registers the module with the host and returns the module's
	// instance (or nil), for other parts of the server that need it.
	Setup func(h *Host) (any, error)
}

// Host is what a module registers with and uses.
type Host struct {
	Router   *router.Router
	Store    storage.Store
	Config   *config.Config
	Features *streamfeature.Registry // stream features of client streams
	// Archive is the shared, batched writer of every message archive
	// (users' and rooms'); readers Sync with it before they query.
	Archive *archive.Writer[storage.ArchivedMessage]
	// HTTP is the one HTTP server, on which a module mounts its
	// handlers while it is set up; it serves once the server starts,
	// when [http] configures a listener.
	HTTP *httpserver.Server
	// Commands is the server's ad-hoc commands (XEP-0050), to which a
	// module adds its commands while it is set up.
	Commands *adhoc.Registry
	// Audit is the audit log, where a module records administrative
	// actions (accounts made, changed or removed, say).
	Audit *audit.Log
	Log   zerolog.Logger // tagged with the module's name

	runs      *[]func(context.Context)
	instances map[string]any
}

// Instance returns what the Setup of the named module, set up earlier in
// the list, returned; nil if that module is not set up (or not yet).
// Modules that build on another (on personal eventing, say) find it so.
func (h *Host) Instance(name string) any { return h.instances[name] }

// Go runs fn in the background while the server runs; fn returns once
// ctx is done, after finishing what it must (flushing writes, say).
func (h *Host) Go(fn func(ctx context.Context)) { *h.runs = append(*h.runs, fn) }

// Set is the outcome of setting up a list of modules.
type Set struct {
	names     []string
	instances map[string]any
	runs      []func(context.Context)
}

// Setup sets up every enabled module of specs, in order, each with a copy
// of base carrying its own logger.
func Setup(specs []Spec, base Host) (*Set, error) {
	s := &Set{instances: make(map[string]any)}
	for _, spec := range specs {
		if spec.Enabled != nil && !spec.Enabled(base.Config) {
			continue
		}
		if _, dup := s.instances[spec.Name]; dup {
			return nil, fmt.Errorf("module %s: listed twice", spec.Name)
		}
		h := base
		h.Log = base.Log.With().Str("module", spec.Name).Logger()
		h.runs = &s.runs
		h.instances = s.instances
		inst, err := spec.Setup(&h)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", spec.Name, err)
		}
		s.names = append(s.names, spec.Name)
		s.instances[spec.Name] = inst
	}
	return s, nil
}

// Names returns the modules set up, in order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Instance returns what the named module's Setup returned, or nil if the
// module is not set up.
func (s *Set) Instance(name string) any { return s.instances[name] }

// Runs returns the background functions the modules asked for.
func (s *Set) Runs() []func(context.Context) { return slices.Clone(s.runs) }
