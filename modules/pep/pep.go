// Package pep sets up the Personal Eventing Protocol (XEP-0163, package
// pubsub) as a server module, with the [pep] limits of the
// configuration. Its module instance is the *pubsub.Service, for modules
// that build on it.
package pep

import (
	"parley/module"
	"parley/pubsub"
)

// Name is the module's name, under which module.Host.Instance finds the
// service.
const Name = "pep"

// Spec declares personal eventing as a server module.
func Spec() module.Spec {
	return module.Spec{Name: Name, Setup: func(h *module.Host) (any, error) {
		c := h.Config.PEP
		s := pubsub.New(h.Router, h.Store, pubsub.Limits{MaxNodes: c.MaxNodes, MaxItems: c.MaxItemsPerNode, MaxItemSize: c.MaxItemSize}, h.Log)
		s.Register(h.Router)
		return s, nil
	}}
}
