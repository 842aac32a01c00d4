package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"parley/config"
	"parley/server"
)

// runServe runs "parley serve": the server in the foreground until ctx is
// cancelled (SIGINT or SIGTERM).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("serve", "[-config FILE]", stdout, stderr)
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	log, err := newLogger(stderr, cfg.Log.Level)
	if err != nil {
		return c.fail(fmt.Errorf("%s: log.level: %w", *c.config, err))
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return c.fail(err)
	}
	// SIGHUP reloads the certificate (renewed by certbot, say), noted in
	// the audit log.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info().Str("config", cfg.Path).Strs("domains", cfg.Server.Domains).Msg("starting")
	go func() {
		for {
			select {
			case <-hup:
				log.Info().Msg("SIGHUP: reloading the certificate")
				srv.Reload("SIGHUP")
			case <-ctx.Done():
				return
			}
		}
	}()
	err = srv.Run(ctx)
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return c.fail(err)
	}
	log.Info().Msg("stopped")
	return 0
}

// newLogger returns a logger writing to w at level: human-readable when w
// is a terminal, JSON lines otherwise.
func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, err
	}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.DateTime}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
