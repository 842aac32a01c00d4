package proxy65

import (
	"parley/config"
	"parley/module"
)

// Spec declares the bytestreams proxy of the [proxy65] section as a
// server module, enabled when proxy65.domain is set; its instance is the
// *Service. Its listener opens while the server is set up, so that a
// port in use stops start-up.
func Spec() module.Spec {
	return module.Spec{
		Name:    "proxy65",
		Enabled: func(cfg *config.Config) bool { return cfg.Proxy65.Domain != "" },
		Setup: func(h *module.Host) (any, error) {
			cfg := h.Config.Proxy65
			s, err := New(Options{
				Domain:            cfg.Domain,
				Listen:            cfg.Listen,
				PublicHost:        h.Config.Proxy65Host(),
				MaxTransferSize:   cfg.MaxTransferSize,
				MaxTransfers:      cfg.MaxTransfers,
				HandshakeTimeout:  cfg.HandshakeTimeout.Duration,
				ActivationTimeout: cfg.ActivationTimeout.Duration,
				IdleTimeout:       cfg.IdleTimeout.Duration,
				Log:               h.Log,
			})
			if err != nil {
				return nil, err
			}
			s.Register(h.Router)
			h.Go(s.Run)
			return s, nil
		},
	}
}
