package upload

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"parley/config"
	"parley/module"
)

// Spec declares the upload service of the [upload] section as a server
// module, enabled when upload.domain is set; its instance is the
// *Service.
func Spec() module.Spec {
	return module.Spec{
		Name:    "upload",
		Enabled: func(cfg *config.Config) bool { return cfg.Upload.Domain != "" },
		Setup: func(h *module.Host) (any, error) {
			cfg := h.Config.Upload
			dir := h.Config.UploadDir()
			secret := []byte(cfg.Secret)
			if len(secret) == 0 {
				var err error
				if secret, err = loadOrMakeSecret(dir); err != nil {
					return nil, err
				}
			}
			s, err := New(Options{
				Domain:       cfg.Domain,
				Dir:          dir,
				MaxFileSize:  cfg.MaxFileSize,
				Quota:        cfg.Quota,
				Expire:       cfg.Expire.Duration,
				SlotLifetime: cfg.SlotLifetime.Duration,
				ContentTypes: cfg.ContentTypes,
				Secret:       secret,
				BaseURL:      h.HTTP.URL,
				AllowOrigin:  h.HTTP.AllowOrigin,
				Log:          h.Log,
			})
			if err != nil {
				return nil, err
			}
			s.Register(h.Router)
			h.HTTP.Handle("/upload/", s.Handler())
			h.Go(s.Run)
			return s, nil
		},
	}
}

// loadOrMakeSecret reads the URL signing secret kept in dir, making one
// on first start.
func loadOrMakeSecret(dir string) ([]byte, error) {
	file := filepath.Join(dir, "secret")
	data, err := os.ReadFile(file)
	if err == nil && len(strings.TrimSpace(string(data))) >= config.MinUploadSecretLength {
		return []byte(strings.TrimSpace(string(data))), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("upload secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("upload secret: %w", err)
	}
	return []byte(secret), nil
}
