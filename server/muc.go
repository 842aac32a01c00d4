package server

import (
	"context"

	"github.com/rs/zerolog"

	"parley/config"
	"parley/modules/disco"
	"parley/muc"
	"parley/router"
	"parley/storage"
)

// registerMUC starts the group-chat service of cfg.Domain, if set, as the
// router's component for that domain, listed in the server's disco#items.
func registerMUC(ctx context.Context, r *router.Router, d *disco.Disco, store storage.MUC, cfg config.MUC, log zerolog.Logger) (*muc.Service, error) {
	if cfg.Domain == "" {
		return nil, nil
	}
	def := cfg.DefaultRoom
	return muc.Register(ctx, r, d, muc.Options{
		Domain: cfg.Domain,
		Store:  store,
		Log:    log.With().Str("component", "muc").Logger(),
		Policy: muc.Policy{
			Create:          cfg.Create,
			Admins:          cfg.Admins,
			LockNewRooms:    cfg.LockNewRooms,
			MaxRoomsPerUser: cfg.MaxRoomsPerUser,
			MaxOccupants:    cfg.MaxOccupants,
			HistoryLength:   cfg.HistoryLength,
			Defaults: muc.RoomDefaults{
				Public:       def.Public,
				Persistent:   def.Persistent,
				MembersOnly:  def.MembersOnly,
				Moderated:    def.Moderated,
				NonAnonymous: def.Anonymity == "non",
				History:      def.History,
				Logging:      def.Logging,
			},
		},
	})
}
