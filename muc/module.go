package muc

import (
	"context"
	"path/filepath"

	"parley/config"
	"parley/module"
)

// OccupantIDKeyFile is the file in the data directory that keeps the key
// of the service's occupant IDs (XEP-0421), made on first start.
const OccupantIDKeyFile = "muc-occupant-id.key"

// Spec declares the group-chat service of the [muc] section as a server
// module, enabled when muc.domain is set; its instance is the *Service.
func Spec() module.Spec {
	return module.Spec{
		Name:    "muc",
		Enabled: func(cfg *config.Config) bool { return cfg.MUC.Domain != "" },
		Setup: func(h *module.Host) (any, error) {
			cfg := h.Config.MUC
			def := cfg.DefaultRoom
			key, err := LoadOccupantIDKey(filepath.Join(h.Config.DataDir(), OccupantIDKeyFile))
			if err != nil {
				return nil, err
			}
			recorder, _ := h.Instance("compliance").(RoomRecorder)
			s, err := Register(context.Background(), h.Router, Options{
				Recorder:       recorder,
				Domain:         cfg.Domain,
				OccupantIDKey:  key,
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
