package console

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
	"github.com/oob-relay/relay/relay/store"
)

// siteRow is one site on the cluster page: its nodes, how many of them
// are live members, and whether none is (the site is dark).
type siteRow struct {
	Site  string
	Nodes []string
	Alive int
	Dark  bool
}

// clusterMember is a member with its site.
type clusterMember struct {
	node.MemberStatus
	Site string
}

// watchRow is one watched subject's verdict on the cluster page.
type watchRow struct {
	Kind, Name, Detail, Incident string
	Down                         bool
	Since                        time.Time
}

type clusterData struct {
	Ready    bool
	Members  []clusterMember
	Sites    []siteRow
	Watch    []watchRow
	Store    store.Stats
	Circuits []delivery.Circuit
}

func (c *Console) clusterPage(w http.ResponseWriter, r *http.Request, u *user) {
	cl, err := c.n.Cluster()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	ss, err := c.n.StoreStats()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	sites, err := c.n.Sites()
	if err != nil {
		c.fail(w, r, u, http.StatusInternalServerError, "error.store", "")
		return
	}
	d := &clusterData{Ready: cl.Ready, Store: ss, Circuits: c.n.Circuits()}
	alive := map[string]bool{}
	for _, m := range cl.Members {
		d.Members = append(d.Members, clusterMember{MemberStatus: m, Site: siteOf(sites, m.Name)})
		alive[m.Name] = m.Self || m.State == "alive"
	}
	d.Sites = siteRows(sites, alive)
	if ws, err := c.n.WatchStatus(); err != nil {
		c.log.Warn("watch status not readable", "err", err)
	} else {
		d.Watch = watchRows(ws)
	}
	v := c.newView(r, u, "cluster.title")
	v.Data = d
	c.render(w, http.StatusOK, "cluster", v)
}

func siteOf(sites map[string]string, name string) string {
	if s, ok := sites[name]; ok {
		return s
	}
	return name
}

// siteRows groups the nodes the cluster knows of by site, dark sites
// first.
func siteRows(sites map[string]string, alive map[string]bool) []siteRow {
	by := map[string]*siteRow{}
	add := func(name string) {
		s := siteOf(sites, name)
		row := by[s]
		if row == nil {
			row = &siteRow{Site: s}
			by[s] = row
		}
		if !slices.Contains(row.Nodes, name) {
			row.Nodes = append(row.Nodes, name)
			if alive[name] {
				row.Alive++
			}
		}
	}
	for name := range sites {
		add(name)
	}
	for name := range alive {
		add(name)
	}
	out := make([]siteRow, 0, len(by))
	for _, row := range by {
		slices.Sort(row.Nodes)
		row.Dark = row.Alive == 0
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b siteRow) int {
		if a.Dark != b.Dark {
			if a.Dark {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Site, b.Site)
	})
	return out
}

// watchRows summarises the watch verdicts: nodes, targets, heartbeats.
func watchRows(ws *node.WatchStatus) []watchRow {
	var out []watchRow
	for _, s := range ws.Nodes {
		out = append(out, watchRow{Kind: "node", Name: s.Name, Detail: s.Detail, Down: s.Down, Since: s.Since, Incident: s.Incident})
	}
	for _, s := range ws.Targets {
		out = append(out, watchRow{Kind: "target", Name: s.Name, Detail: s.Detail, Down: s.Down, Since: s.Since, Incident: s.Incident})
	}
	for _, h := range ws.Heartbeats {
		out = append(out, watchRow{Kind: "heartbeat", Name: h.Name, Down: h.Down, Since: h.Since, Incident: h.Incident})
	}
	return out
}
