package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay/trust"
)

func nodeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Work with this node's identity"}
	var path string
	id := &cobra.Command{
		Use:   "id --config FILE",
		Short: "Print this node's line for the cluster's trusted keys file",
		Long: "id prints the node's name and public key, the line every node of the cluster lists in its " +
			"cluster.trusted_keys_file. The key is made in the node's data dir (node.key, mode 0600) when the node " +
			"has none yet, so keys can be collected before the nodes first start. Only node.name and node.data_dir " +
			"are read from the config: it may name a trusted keys file that does not exist yet.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, dir, err := nodeIdentity(path)
			if err != nil {
				return err
			}
			s, err := trust.LoadOrCreate(dir, name)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, s.Line())
			return nil
		},
	}
	id.Flags().StringVarP(&path, "config", "c", "relay.yaml", "configuration file")
	cmd.AddCommand(id)
	return cmd
}

// nodeIdentity reads the node's name and data dir from the config file,
// without checking the rest of it.
func nodeIdentity(path string) (name, dataDir string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read config: %w", err)
	}
	c, err := config.Decode(bytes.NewReader(raw))
	if err != nil {
		return "", "", fmt.Errorf("config %s:\n%w", path, err)
	}
	if c.Dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return "", "", err
	}
	c.SetDefaults()
	if c.Node.Name == "" {
		return "", "", errors.New("node.name: is required")
	}
	return c.Node.Name, c.Path(c.Node.DataDir), nil
}
