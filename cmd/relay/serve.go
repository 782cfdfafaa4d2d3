package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/config"
)

// shutdownGrace bounds how long a stopping node waits for attempts in
// flight; what is cut short is made again after the restart.
const shutdownGrace = 20 * time.Second

func serveCmd(e *env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run a relay node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path, e.getenv)
			if err != nil {
				return fmt.Errorf("config %s:\n%w", path, err)
			}
			log := newLogger(e, cfg.Log.Format, cfg.Level())
			srv, err := launch.Start(cmd.Context(), cfg, launch.Options{Logger: log})
			if err != nil {
				return err
			}
			select {
			case <-cmd.Context().Done():
				log.Info("stopping")
			case err := <-srv.Done():
				log.Error("http server stopped", "err", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "relay.yaml", "configuration file")
	return cmd
}

func newLogger(e *env, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, o))
	}
	return slog.New(slog.NewTextHandler(e.stderr, o))
}
