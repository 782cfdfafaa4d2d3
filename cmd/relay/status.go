package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func statusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster as a node sees it: members, replication lag, pending deliveries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(e)
			if err != nil {
				return err
			}
			v, err := c.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, v)
			}
			ready := "ready"
			if !v.Ready {
				ready = "catching up with its peers"
			}
			fmt.Fprintf(e.stdout, "as seen by %s (%s)\n\n", v.Self, ready)
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tSTATE\tGOSSIP\tAPI\tBEHIND\tLAST ACK\tPENDING")
			for _, m := range v.Members {
				name, acked := m.Name, "-"
				if m.Self {
					name += " *"
				}
				if m.AckedAt != nil {
					acked = m.AckedAt.Local().Format(time.TimeOnly)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\n", name, m.State, dash(m.Address), dash(m.API),
					m.BehindEvents, acked, m.PendingDeliveries)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
