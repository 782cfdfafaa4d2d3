package console_test

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// reportCSP is the policy of a drill's report page alone.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

var reachedShare = regexp.MustCompile(`data-share="reached">([^<]*)<`)

// TestDrillPages: commanders and admins (and an admin's token) see the
// drills, each drill's report as its own page in their language under a
// policy of its own, and its CSV; a responder is refused all three and
// has no link to them; an unknown drill is a 404 page.
func TestDrillPages(t *testing.T) {
	ns := startCluster(t, "relay-1", "relay-2")
	a := ns[0]
	st, err := a.n.StartDrill(t.Context(), &relay.DrillStart{To: []string{"group:db-oncall"}, Channels: []string{relay.ChannelSMS, relay.ChannelEmail}, Text: "분기 훈련: 확인 바랍니다", Lang: "ko"},
		node.Author{Name: "park", Via: relay.ViaAPI}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := st.Drill.ID
	paths := []string{"/drills", "/drills/" + id, "/drills/" + id + "/report.csv"}

	// A responder: refused, with no link.
	kim := newBrowser(t)
	kim.login(a, "kim")
	for _, path := range paths {
		if p := kim.get(a.url + path); p.status != http.StatusForbidden {
			t.Errorf("kim GET %s: %d, want 403", path, p.status)
		} else {
			checkHeaders(t, "kim "+path, p, ns[1].url)
		}
	}
	if p := kim.get(a.url + "/"); strings.Contains(p.body, `href="/drills"`) {
		t.Errorf("a responder's navigation links the drills")
	}

	// The list: the people reached once the mails went out.
	park := newBrowser(t)
	park.login(a, "park")
	if p := park.get(a.url + "/"); !strings.Contains(p.body, `<a href="/drills">훈련</a>`) {
		t.Errorf("an admin's navigation does not link the drills:\n%s", p.body)
	}
	var list page
	testkit.Eventually(t, 30*time.Second, "the drill reached its two people", func() bool {
		list = park.get(a.url + "/drills")
		m := reachedShare.FindStringSubmatch(list.body)
		return list.status == http.StatusOK && m != nil && m[1] == "100% (2)"
	})
	checkHeaders(t, "park /drills", list, ns[1].url)
	for _, want := range []string{`data-drill="` + id + `"`, "park", "group:db-oncall", `data-share="acked">0% (0)<`,
		`href="/drills/` + id + `"`, `href="/drills/` + id + `/report.csv"`, `<html lang="ko">`} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the list lacks %q:\n%s", want, list.body)
		}
	}

	// The report, in each reader's language, under its own policy.
	for _, who := range []struct{ person, lang, title string }{{"park", "ko", "<title>훈련 "}, {"lee", "en", "<title>Drill "}} {
		b := newBrowser(t)
		b.login(a, who.person)
		p := b.get(a.url + "/drills/" + id)
		if p.status != http.StatusOK {
			t.Fatalf("%s GET the report: %d\n%s", who.person, p.status, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); csp != reportCSP {
			t.Errorf("%s: the report's Content-Security-Policy %q, want %q", who.person, csp, reportCSP)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: the report lacks the other security headers: %v", who.person, p.header)
		}
		for _, want := range []string{`<html lang="` + who.lang + `">`, who.title, "김민준 (kim)", "Lee Seo-yeon (lee)", "분기 훈련: 확인 바랍니다"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s: the report lacks %q:\n%s", who.person, want, p.body)
			}
		}
		// The policy is the report's alone: the list keeps the console's.
		if p := b.get(a.url + "/drills"); p.header.Get("Content-Security-Policy") == reportCSP {
			t.Errorf("%s: the list is served under the report's policy", who.person)
		}
	}

	// The CSV: one row per delivery, Korean names as they are.
	p := park.get(a.url + "/drills/" + id + "/report.csv")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") ||
		p.header.Get("Content-Disposition") != `attachment; filename="drill-`+id+`.csv"` {
		t.Fatalf("CSV: %d %v", p.status, p.header)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, row := range rows[1:] {
		names[row[1]] = true
	}
	if rows[0][0] != "person" || !names["김민준"] || !names["Lee Seo-yeon"] || len(names) != 2 {
		t.Errorf("CSV rows %q", rows)
	}

	// An admin's token sees them; a viewer's is refused.
	for _, path := range paths {
		req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if p := newBrowser(t).do(req); p.status != http.StatusOK {
			t.Errorf("admin token GET %s: %d", path, p.status)
		}
		req.Header.Set("Authorization", "Bearer "+viewerToken)
		if p := newBrowser(t).do(req); p.status != http.StatusUnauthorized {
			t.Errorf("viewer token GET %s: %d, want 401", path, p.status)
		}
	}

	// The other node shows the same drill; an unknown one is a 404 page.
	other := newBrowser(t)
	other.login(ns[1], "lee")
	testkit.Eventually(t, 30*time.Second, "the drill on relay-2", func() bool {
		return strings.Contains(other.get(ns[1].url+"/drills").body, `data-drill="`+id+`"`)
	})
	for _, path := range []string{"/drills/01NOSUCHDRILL", "/drills/01NOSUCHDRILL/report.csv", "/drills/" + strings.Repeat("X", 200)} {
		if p := park.get(a.url + path); p.status != http.StatusNotFound || !strings.Contains(p.body, "그런 훈련이 없습니다.") {
			t.Errorf("GET %s: %d, want the 404 page", path, p.status)
		}
	}
}
