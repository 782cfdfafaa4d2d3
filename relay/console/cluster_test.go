package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
)

var siteRow = regexp.MustCompile(`<tr data-site="([^"]+)" data-dark="(true|false)"[^>]*><th scope="row">[^<]*</th><td>[^<]*</td><td>(\d+/\d+)</td>`)

// sitesOf reads the sites table of a cluster page: site → dark and
// live/all nodes.
func sitesOf(body string) map[string]string {
	out := map[string]string{}
	for _, m := range siteRow.FindAllStringSubmatch(body, -1) {
		state := "up"
		if m[2] == "true" {
			state = "dark"
		}
		out[m[1]] = state + " " + m[3]
	}
	return out
}

// TestClusterPageShowsSites: the cluster page gives each member's site,
// each site's live nodes, and a site whose every node is gone as dark;
// the watch verdicts list every node the cluster knows with its site.
func TestClusterPageShowsSites(t *testing.T) {
	ns := startClusterOpts(t, clusterOpts{sites: map[string]string{"relay-1": "seoul", "relay-2": "seoul", "relay-3": "busan"}},
		"relay-1", "relay-2", "relay-3")
	a := ns[0]
	b := newBrowser(t)
	b.login(a, "park")
	var p page
	testkit.Eventually(t, 10*time.Second, "both sites up on the cluster page", func() bool {
		p = b.get(a.url + "/admin/cluster")
		s := sitesOf(p.body)
		return p.status == http.StatusOK && s["seoul"] == "up 2/2" && s["busan"] == "up 1/1"
	})
	if !strings.Contains(p.body, `<tr data-node="relay-3" data-state="alive"><th scope="row">relay-3</th><td>busan</td>`) {
		t.Errorf("the members table does not give relay-3's site:\n%s", p.body)
	}
	for _, n := range []string{"relay-1", "relay-2", "relay-3"} {
		if !regexp.MustCompile(`<tr data-kind="node" data-name="` + n + `" data-down="false"><td>[^<]+</td><th scope="row">` + n + `</th><td>(seoul|busan)</td>`).MatchString(p.body) {
			t.Errorf("the watch verdicts do not list node %s with its site:\n%s", n, p.body)
		}
	}
	ns[2].stop()
	testkit.Eventually(t, 20*time.Second, "busan dark on the cluster page", func() bool {
		p = b.get(a.url + "/admin/cluster")
		s := sitesOf(p.body)
		return s["busan"] == "dark 0/1" && s["seoul"] == "up 2/2"
	})
	if i, j := strings.Index(p.body, `data-site="busan"`), strings.Index(p.body, `data-site="seoul"`); i > j {
		t.Errorf("the dark site is not listed first")
	}
}
