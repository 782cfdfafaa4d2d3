package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rosterdiff"
)

// exitChanges is the exit status of relay roster diff when applying the
// file would change the roster (0: no change, 1: an error).
const exitChanges = 3

func rosterDiffCmd(e *env) *cobra.Command {
	var against string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff FILE",
		Short: "Show what applying FILE would change in the roster",
		Long: `Show what applying FILE would change in the roster in place on the node
(or, with --against, in another roster file): people, groups and every
other section of the roster added, removed and changed, field by field.

People's own phone numbers and addresses, verified by a code and kept
over the applied roster, stay in effect when FILE has what the roster had
when they were made, and give way when FILE changes the same field. The
diff compares what would be in effect, and lists apart the changes
people made that FILE does not have: kept (relay roster export writes
them into a file to commit) or replaced by FILE.

Exit status: 0 when applying FILE would change nothing, 3 when it would
change something, 1 on an error (such as a FILE the node would refuse).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			new, err := readRoster(args[0])
			if err != nil {
				return err
			}
			var old *relay.Roster
			var own []rosterdiff.ContactDiff
			after := new
			if against != "" {
				if old, err = readRoster(against); err != nil {
					return err
				}
			} else {
				c, err := newClient(e)
				if err != nil {
					return err
				}
				if old, err = c.Roster(cmd.Context()); err != nil {
					return err
				}
				changes, err := c.ContactChanges(cmd.Context())
				if err != nil {
					return err
				}
				layer := make([]relay.ContactChange, len(changes))
				for i, ch := range changes {
					layer[i] = relay.ContactChange{Person: ch.Person, Kind: ch.Kind, Address: ch.Address, Base: ch.Base, By: ch.By}
				}
				after = rosterdiff.Applied(new, layer)
				own = rosterdiff.Contacts(new, layer)
			}
			d, err := rosterdiff.Compare(old, after)
			if err != nil {
				return err
			}
			if asJSON {
				err = printJSON(e, struct {
					Changed bool `json:"changed"`
					*rosterdiff.Diff
					Contacts []rosterdiff.ContactDiff `json:"contacts,omitempty"`
				}{!d.Empty(), d, own})
			} else if colour := isTerminal(e.term); colour {
				err = writeDiff(e.term, d, own, args[0], true)
			} else {
				err = writeDiff(e.stdout, d, own, args[0], false)
			}
			if err != nil {
				return err
			}
			if !d.Empty() {
				return &exitError{code: exitChanges}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&against, "against", "", "compare with this roster file instead of the node's roster (no node needed)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// readRoster reads and checks a roster file as the node would.
func readRoster(path string) (*relay.Roster, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := relay.DecodeRoster(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return r, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Colours of a diff's lines on a terminal.
const (
	colourAdded   = "\x1b[32m"
	colourRemoved = "\x1b[31m"
	colourChanged = "\x1b[33m"
	colourBold    = "\x1b[1m"
	colourReset   = "\x1b[0m"
)

// writeDiff writes d for people to read, one line per entry added,
// removed or changed and one per field. Every value is escaped (cell),
// so w may be the terminal itself when colour is on.
func writeDiff(w io.Writer, d *rosterdiff.Diff, own []rosterdiff.ContactDiff, file string, colour bool) error {
	var b strings.Builder
	paint := func(c, s string) string {
		if colour {
			return c + s + colourReset
		}
		return s
	}
	if d.Empty() {
		b.WriteString("no change\n")
	}
	for _, s := range d.Sections {
		if s.Whole != nil {
			fmt.Fprintf(&b, "%s: changed\n", paint(colourBold, cell(s.Name)))
			fmt.Fprintf(&b, "    %s\n", paint(colourRemoved, "- "+cell(rosterdiff.Inline(s.Whole.Old))))
			fmt.Fprintf(&b, "    %s\n", paint(colourAdded, "+ "+cell(rosterdiff.Inline(s.Whole.New))))
			continue
		}
		var counts []string
		for _, c := range []struct {
			n    int
			what string
		}{{len(s.Added), "added"}, {len(s.Removed), "removed"}, {len(s.Changed), "changed"}} {
			if c.n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", paint(colourBold, cell(s.Name)), strings.Join(counts, ", "))
		for _, a := range s.Added {
			fmt.Fprintf(&b, "  %s\n", paint(colourAdded, "+ "+title(a.ID, a.Name)))
			if m, ok := a.Value.(map[string]any); ok {
				for _, k := range fieldOrder(m) {
					fmt.Fprintf(&b, "      %s: %s\n", cell(k), cell(rosterdiff.Inline(m[k])))
				}
			}
		}
		for _, r := range s.Removed {
			fmt.Fprintf(&b, "  %s\n", paint(colourRemoved, "- "+title(r.ID, r.Name)))
		}
		for _, c := range s.Changed {
			fmt.Fprintf(&b, "  %s\n", paint(colourChanged, "~ "+title(c.ID, c.Name)))
			for _, f := range c.Fields {
				fmt.Fprintf(&b, "      %s: %s\n", cell(f.Field), fieldChange(f, paint))
			}
		}
	}
	if len(own) > 0 {
		fmt.Fprintf(&b, "%s: %d not in %s\n", paint(colourBold, "people's own contacts"), len(own), cell(file))
	}
	for _, c := range own {
		addr, have := "(removed)", "(none)"
		if c.Address != "" {
			addr = rosterdiff.Inline(c.Address)
		}
		if c.File != "" {
			have = rosterdiff.Inline(c.File)
		}
		fmt.Fprintf(&b, "  %s %s: %s, by %s; the file has %s\n", cell(c.Person), cell(c.Kind), cell(addr), cell(c.By), cell(have))
		if c.Kept {
			b.WriteString("      kept when the file is applied; relay roster export writes it into a file\n")
		} else {
			fmt.Fprintf(&b, "      %s\n", paint(colourChanged, "the file changes the same field: applying it replaces the person's own"))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// title is an entry's id, and its name when it has one.
func title(id, name string) string {
	if name == "" {
		return cell(id)
	}
	return cell(id) + "  " + cell(name)
}

// fieldChange is a field's change on one line: old → new, or the items
// added and removed.
func fieldChange(f rosterdiff.Field, paint func(c, s string) string) string {
	if len(f.Added)+len(f.Removed) > 0 {
		var parts []string
		for _, s := range f.Added {
			parts = append(parts, paint(colourAdded, "+"+cell(s)))
		}
		for _, s := range f.Removed {
			parts = append(parts, paint(colourRemoved, "-"+cell(s)))
		}
		return strings.Join(parts, " ")
	}
	return cell(rosterdiff.Inline(f.Old)) + " → " + cell(rosterdiff.Inline(f.New))
}

// fieldOrder lists an added entry's fields to show: the roster file's
// usual order first, then the rest sorted; id and name are in its title.
func fieldOrder(m map[string]any) []string {
	known := []string{"phone", "email", "lang", "channels", "roles", "members"}
	var out []string
	for _, k := range known {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range m {
		if k != "id" && k != "name" && !slices.Contains(known, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
