package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/config"
)

func configCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with node configuration files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file without starting a node",
		Long: "check reads FILE as relay serve would, resolves its secrets from the environment and files, " +
			"and lists every problem with its key. It exits 0 when the file is good.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0], e.getenv)
			if err != nil {
				return fmt.Errorf("%s:\n%w", args[0], err)
			}
			fmt.Fprintf(e.stdout, "%s: ok (node %s, channels %v, %d API token(s))\n",
				args[0], cfg.Node.Name, cfg.EnabledChannels(), len(cfg.API.Tokens))
			return nil
		},
	})
	return cmd
}
