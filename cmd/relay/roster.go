package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
)

func rosterCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "roster", Short: "Read or replace the roster"}
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Replace the roster with FILE, whole; a file with any problem changes nothing",
		Long: `Replace the roster with FILE, whole; a file with any problem changes nothing.

apply does not ask: review first with relay roster diff FILE, whose exit
status 3 says that applying would change something.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			// Check locally first, so problems show without a round trip;
			// the node checks again.
			if _, err := relay.DecodeRoster(bytes.NewReader(doc)); err != nil {
				return fmt.Errorf("%s: roster not applied:\n%w", args[0], err)
			}
			c, err := newClient(e)
			if err != nil {
				return err
			}
			people, groups, err := c.ApplyRoster(cmd.Context(), doc)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "roster applied: %s, %s\n", plural(people, "person", "people"), plural(groups, "group", "groups"))
			return nil
		},
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the roster in the roster file's YAML form",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			r, err := c.Roster(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, r)
			}
			enc := yaml.NewEncoder(e.stdout)
			enc.SetIndent(2)
			if err := enc.Encode(r); err != nil {
				return err
			}
			return enc.Close()
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of YAML")
	cmd.AddCommand(apply, show, rosterDiffCmd(e), rosterExportCmd(e), rosterImportCmd(e))
	return cmd
}
