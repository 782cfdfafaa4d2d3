package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
)

func rosterExportCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export [-o FILE]",
		Short: "Write the roster in effect, with people's own contacts, as a roster file",
		Long: `Write the roster in effect as a roster file (YAML): the applied roster
with the phone numbers and addresses people changed themselves (verified
by a code) written in, for the admin to commit. Applying the file it
writes changes nothing in effect; relay roster diff FILE then lists none
of those changes as missing from FILE.

Without -o the file goes to standard output. With -o it is written beside
FILE and renamed over it, so a reader never sees half of it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			r, err := c.Roster(cmd.Context())
			if err != nil {
				return err
			}
			doc, err := encodeRoster(r)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = e.stdout.Write(doc)
				return err
			}
			if err := writeFileAtomic(out, doc); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "roster written to %s: %s\n", cell(out), plural(len(r.People), "person", "people"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// encodeRoster writes r in the roster file's YAML form, and checks that
// it reads back as the same roster.
func encodeRoster(r *relay.Roster) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if _, err := relay.DecodeRoster(bytes.NewReader(buf.Bytes())); err != nil {
		return nil, fmt.Errorf("the roster in effect does not read back as a roster file: %w", err)
	}
	return buf.Bytes(), nil
}
