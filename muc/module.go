package muc

import (
	"context"

	"parley/config"
	"parley/module"
)

// Spec declares the group-chat service of the [muc] section as a server
// module, enabled when muc.domain is set; its instance is the *Service.
func Spec() module.Spec {
	return module.Spec{
		Name:    "muc",
		Enabled: func(cfg *config.Config) bool { return cfg.MUC.Domain != "" },
		Setup: func(h *module.Host) (any, error) {
			cfg := h.Config.MUC
			def := cfg.DefaultRoom
			s, err := Register(context.Background(), h.Router, Options{
				Domain:         cfg.Domain,
				Store:          h.Store,
				Archives:       h.Store,
				ArchiveWriter:  h.Archive,
				MaxArchivePage: h.Config.MAM.MaxPage,
				Log:            h.Log,
				Policy: Policy{
					Create:          cfg.Create,
					Admins:          cfg.Admins,
					LockNewRooms:    cfg.LockNewRooms,
					MaxRoomsPerUser: cfg.MaxRoomsPerUser,
					MaxOccupants:    cfg.MaxOccupants,
					HistoryLength:   cfg.HistoryLength,
					Defaults: RoomDefaults{
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
			if err != nil {
				return nil, err
			}
			h.Go(s.Run)
			return s, nil
		},
	}
}
