package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/rostercsv"
)

func rosterImportCmd(e *env) *cobra.Command {
	var csvFile, country, into, output string
	cmd := &cobra.Command{
		Use:   "import --csv FILE [--country KR] [--merge-into roster.yaml] [-o roster.yaml]",
		Short: "Make a roster file from an HR system's CSV export",
		Long: `Make a roster file from an HR system's CSV export, one person a row, the
columns named on the first line: id, name, phone, email, lang, groups
and roles, in any case, or their usual English and Korean names (사번,
이름, 휴대폰, 전화번호, 이메일, 부서, 소속, 역할...). Groups and roles
hold several values separated by ';' or '|'.

The file may be UTF-8, with or without a byte order mark, or EUC-KR
(CP949). Phone numbers in local form (010-1234-5678, 02-123-4567) are
made E.164 for --country; without it every number must start with +.
A row without an id gets one made from its email's local part.

With --merge-into, the rows update the people of that roster file with
the same id (empty cells keep what it has) and add the others; nobody
is removed, and a group cell may name one of its groups by name. The
roster made is written to -o, or to standard output, and is checked as
relay roster apply would; a file with any problem writes nothing and
lists every problem with its line and column. Comments in the file
merged into are not kept: review the change with relay roster diff.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if csvFile == "" {
				return errors.New("--csv FILE is required: the CSV export to read")
			}
			opts := rostercsv.Options{Country: country}
			if into != "" {
				r, err := readRoster(into)
				if err != nil {
					return err
				}
				opts.Into = r
			}
			f, err := os.Open(csvFile)
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := rostercsv.Import(f, opts)
			if err != nil {
				return fmt.Errorf("%s: no roster made:\n%w", csvFile, err)
			}
			var doc bytes.Buffer
			enc := yaml.NewEncoder(&doc)
			enc.SetIndent(2)
			if err := enc.Encode(res.Roster); err != nil {
				return err
			}
			if err := enc.Close(); err != nil {
				return err
			}
			// The node decodes what is written, strictly: check it does.
			if _, err := relay.DecodeRoster(bytes.NewReader(doc.Bytes())); err != nil {
				return fmt.Errorf("%s: the roster made is refused:\n%w", csvFile, err)
			}
			if output == "" || output == "-" {
				if _, err := e.stdout.Write(doc.Bytes()); err != nil {
					return err
				}
			} else if err := writeFileAtomic(output, doc.Bytes()); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "%s (%s): %s added, %s updated; the roster has %s and %s\n", cell(csvFile), res.Encoding,
				plural(res.Added, "person", "people"), plural(res.Updated, "person", "people"),
				plural(len(res.Roster.People), "person", "people"), plural(len(res.Roster.Groups), "group", "groups"))
			return nil
		},
	}
	cmd.Flags().StringVar(&csvFile, "csv", "", "the CSV export to read")
	cmd.Flags().StringVar(&country, "country", "", "ISO 3166 region of phone numbers in local form, such as KR")
	cmd.Flags().StringVar(&into, "merge-into", "", "a roster file the rows update and add to")
	cmd.Flags().StringVarP(&output, "output", "o", "", "where to write the roster (default: standard output)")
	return cmd
}

// writeFileAtomic replaces path with data whole, or leaves it as it was.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
