package server

import (
	"github.com/rs/zerolog"

	"parley/modules/disco"
	"parley/modules/entitytime"
	"parley/modules/lastactivity"
	"parley/modules/offline"
	"parley/modules/ping"
	"parley/modules/private"
	"parley/modules/vcard"
	"parley/modules/version"
	"parley/roster"
	"parley/router"
	"parley/storage"
)

// registerModules hooks every feature module into the router, the way
// each XEP is a unit that registers its handlers and disco features. It
// returns service discovery, to which components add their items.
func registerModules(r *router.Router, store storage.Store, log zerolog.Logger) *disco.Disco {
	d := disco.Register(r, store)
	roster.Register(r, store, log.With().Str("module", "roster").Logger())
	ping.Register(r)
	version.Register(r)
	entitytime.Register(r)
	lastactivity.Register(r, store, log.With().Str("module", "lastactivity").Logger())
	offline.Register(r, store, log.With().Str("module", "offline").Logger(), offline.Config{})
	vcard.Register(r, store)
	private.Register(r, store)
	return d
}
