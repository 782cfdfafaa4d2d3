package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oob-relay/relay/relay/api"
	"github.com/oob-relay/relay/relay/client"
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
			fmt.Fprintf(e.stdout, "as seen by %s (%s)\n\n", cell(v.Self), ready)
			if v.Isolated {
				fmt.Fprintf(e.stdout, "%s sees fewer than a majority of the nodes alive: it is cut off, and pages nobody about what it watches\n\n", cell(v.Self))
			}
			hc, err := clientHTTP(e)
			if err != nil {
				return err
			}
			stores := memberStores(cmd.Context(), e, hc, v)
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tSTATE\tGOSSIP\tAPI\tBEHIND\tLAST ACK\tPENDING\tSTORE\tOLDEST EVENT")
			for _, m := range v.Members {
				name, acked := cell(m.Name), "-"
				if m.Self {
					name += " *"
				}
				if m.AckedAt != nil {
					acked = m.AckedAt.Local().Format(time.TimeOnly)
				}
				size, oldest := "-", "-"
				if st, ok := stores[m.Name]; ok {
					size = bytesText(st.Bytes)
					if st.OldestEvent != nil {
						oldest = st.OldestEvent.Local().Format(time.DateTime)
					}
				}
				state := m.State
				if state == "alive" && !m.Trusted {
					state = "alive, untrusted"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", name, cell(state), cell(dash(m.Address)), cell(dash(m.API)),
					m.BehindEvents, acked, m.PendingDeliveries, size, oldest)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// memberStores asks every alive member's API for its store, with the
// same token; a member that does not answer in time is left out, and so
// is one whose API is plain http to another host, which the token is not
// sent to in clear text.
func memberStores(ctx context.Context, e *env, hc *http.Client, v *api.ClusterView) map[string]api.StoreView {
	out := map[string]api.StoreView{v.Self: v.Store}
	tok := e.getenv("RELAY_TOKEN")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range v.Members {
		if m.Self || m.State != "alive" || m.API == "" {
			continue
		}
		u, err := url.Parse(m.API)
		if err != nil || !tokenSafe(u) {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			other, err := client.New([]*url.URL{u}, tok, hc).Cluster(ctx)
			if err != nil || other.Self != m.Name {
				return
			}
			mu.Lock()
			out[m.Name] = other.Store
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// bytesText writes a size for people: 512 B, 3.1 MiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
