package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// bigRoster is testRoster with n more people, each with a phone and a
// mail address.
func bigRoster(n int) *relay.Roster {
	r := testRoster()
	for i := range n {
		r.People = append(r.People, relay.Person{ID: fmt.Sprintf("p%05d", i), Name: fmt.Sprintf("직원 %05d", i),
			Phone: fmt.Sprintf("+8210%08d", i), Email: fmt.Sprintf("p%05d@example.com", i)})
	}
	return r
}

// BenchmarkRoomRender10k measures the server time of GET
// /incidents/{id} for an incident whose message went to 10,000 people
// (20,000 deliveries, settled), with the store changed before each
// request so that every one loads the room again: p50 and p99 in ms, and
// the page's size with its style sheet and script (a first load).
func BenchmarkRoomRender10k(b *testing.B) {
	ns := startClusterWith(b, bigRoster(10_000), "relay-1")
	a := ns[0]
	m := postIncident(b, a, "서울 IDC 화재: 전원 대피", "everyone")
	testkit.Eventually(b, 2*time.Minute, "every delivery settled", func() bool {
		c, err := a.n.Store().Counts(m.ID)
		return err == nil && c[relay.StatusPending] == 0 && c[relay.StatusSending] == 0
	})
	tok, _ := a.n.Tokens().Issue(session.KindSession, "", "lee", "", time.Hour)
	req := httptest.NewRequest(http.MethodGet, "/incidents/"+incident, nil)
	req.AddCookie(&http.Cookie{Name: "relay_session", Value: tok})
	var times []time.Duration
	size := 0
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if err := a.n.Remember(b.Context(), fmt.Sprintf("bench-%d", i), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		b.StartTimer()
		start, used := time.Now(), cpuTime()
		a.con.ServeHTTP(w, req)
		times = append(times, time.Since(start))
		cpu += cpuTime() - used
		if w.Code != http.StatusOK {
			b.Fatalf("room: %d", w.Code)
		}
		size = w.Body.Len()
	}
	b.StopTimer()
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(float64(len(times))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(times)), "cpu-ms/op")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(size+staticSize(b, a)), "first-load-bytes")
}

// staticSize is the size of the style sheet and script a first load
// fetches.
func staticSize(tb testing.TB, tn *tnode) int {
	n := 0
	for _, f := range []string{"console.css", "console.js"} {
		w := httptest.NewRecorder()
		tn.con.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/static/"+f, nil))
		if w.Code != http.StatusOK {
			tb.Fatalf("%s: %d", f, w.Code)
		}
		n += w.Body.Len()
	}
	return n
}

// TestPageWeight: a first load of the room of a 10,000-person incident
// (its page, style sheet and script) stays under 150 KB, the matrix
// showing the unreached first and a link to every row.
func TestPageWeight(t *testing.T) {
	ns := startClusterWith(t, bigRoster(10_000), "relay-1")
	a := ns[0]
	postIncident(t, a, "서울 IDC 화재: 전원 대피", "everyone")
	b := newBrowser(t)
	b.login(a, "lee")
	p := b.get(a.url + "/incidents/" + incident)
	total := len(p.body) + staticSize(t, a)
	t.Logf("first load of the room: %d bytes (page %d)", total, len(p.body))
	if total >= 150<<10 {
		t.Errorf("first load %d bytes, want under 150 KB", total)
	}
	if !strings.Contains(p.body, "?rows=all") {
		t.Error("no link to every row of the matrix")
	}
}

// cpuTime is the CPU time the process used so far: on a machine whose
// cores are shared, what a request costs the node, besides its wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
