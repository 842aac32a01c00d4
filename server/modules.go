package server

import (
	"github.com/rs/zerolog"

	"parley/router"
	"parley/storage"
)

// registerModules hooks every feature module into the router, the way
// each XEP is a unit that registers its handlers and disco features.
func registerModules(r *router.Router, store storage.Store, log zerolog.Logger) {
}
