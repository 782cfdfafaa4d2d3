package alertmanager_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/alertmanager"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func decode(t testing.TB, body []byte) *alertmanager.Notification {
	t.Helper()
	n, err := alertmanager.Decode(bytes.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// everyone sends every alert to everyone, in lang.
func everyone(lang string) *alertmanager.Config {
	c := baseConfig()
	c.Routes, c.Lang = nil, lang
	return c
}

// many is a group of fifteen alerts of four names, with white space and
// control characters in their labels and annotations.
func many() *alertmanager.Notification {
	var alerts []alertmanager.Alert
	names := []string{"HighLatency", "HighErrorRate", "PodCrashLooping", "QueueBacklog"}
	for i := range 15 {
		a := alert("alertname", names[i%4], "pod", fmt.Sprintf("api-%02d", i), "namespace", "payments", "severity", "warning")
		a.Annotations = map[string]string{"summary": fmt.Sprintf("결제 API\t지연\n%d초", i+1)}
		if i == 3 {
			a.Status = alertmanager.StatusResolved
		}
		alerts = append(alerts, a)
	}
	n := notification(alerts...)
	n.ExternalURL = "http://alertmanager.example.co.kr:9093"
	return n
}

func TestTextGolden(t *testing.T) {
	cases := map[string]func(t *testing.T) *alertmanager.Notification{"many": func(*testing.T) *alertmanager.Notification { return many() }}
	for _, name := range fixtures {
		cases[name] = func(t *testing.T) *alertmanager.Notification { return decode(t, fixture(t, name)) }
	}
	for name, n := range cases {
		for _, lang := range alertmanager.Langs {
			t.Run(name+"/"+lang, func(t *testing.T) {
				reqs, err := alertmanager.Posts(n(t), everyone(lang))
				if err != nil {
					t.Fatal(err)
				}
				if len(reqs) != 1 {
					t.Fatalf("%d posts, want 1", len(reqs))
				}
				got := reqs[0].Post.Text
				path := filepath.Join("testdata", "golden", name+"."+lang+".txt")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -run TestTextGolden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("text differs from %s (run with -update after checking the change):\n%s", path, got)
				}
			})
		}
	}
}

// The Korean in annotations arrives byte for byte in the post.
// TestHostileTextRemoved renders alerts whose labels, annotations and
// links carry terminal escapes, bidirectional overrides and line
// separators: the text keeps none of them, and keeps the Korean and the
// emoji around them byte for byte, so that the alert is posted rather
// than refused.
func TestHostileTextRemoved(t *testing.T) {
	a := alert("alertname", "Disk\u202eLLUF", "team", "db\x1b[2J", "pod", "api\u2066-01")
	a.Annotations = map[string]string{"summary": "디스크 부족 🔥\x1b]0;owned\x07 확인 \u202e필요", "description": "줄\u2028바꿈\r\n끝\u009b"}
	a.GeneratorURL = "http://prometheus.example.com/\u202egraph"
	for _, lang := range []string{"ko", "en"} {
		reqs, err := alertmanager.Posts(notification(a, alert("alertname", "Other\u200f")), everyone(lang))
		if err != nil {
			t.Fatal(err)
		}
		text := reqs[0].Post.Text
		if err := relay.CheckText("text", text); err != nil {
			t.Fatalf("%s text keeps a hostile character: %v\n%q", lang, err, text)
		}
		if err := reqs[0].Post.Validate(); err != nil {
			t.Fatalf("%s post refused: %v", lang, err)
		}
		for _, want := range []string{"DiskLLUF", "디스크 부족 🔥 ]0;owned 확인 필요", "team=db [2J", "pod=api-01"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s text lacks %q:\n%s", lang, want, text)
			}
		}
		if strings.Contains(text, "prometheus.example.com") {
			t.Errorf("%s text keeps a link with a bidirectional override:\n%s", lang, text)
		}
	}
}

func TestKoreanIntact(t *testing.T) {
	n := decode(t, fixture(t, "firing"))
	reqs, err := alertmanager.Posts(n, everyone("ko"))
	if err != nil {
		t.Fatal(err)
	}
	text := reqs[0].Post.Text
	for _, s := range []string{"[발생] ProbeFailure", n.Alerts[0].Annotations["summary"], n.Alerts[0].Annotations["description"]} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
}

func TestPostFields(t *testing.T) {
	n := decode(t, fixture(t, "multiple"))
	reqs, err := alertmanager.Posts(n, baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d posts, want one for team=db and one for team=web", len(reqs))
	}
	db, web := reqs[0], reqs[1]
	if db.Route != "routes[0]" || db.Post.Severity != relay.SeverityCritical || strings.Join(db.Post.To, ",") != "group:db-oncall" || len(db.Post.Channels) != 0 {
		t.Errorf("team=db post: %+v", db)
	}
	if web.Route != "routes[1]" || web.Post.Severity != relay.SeverityWarning || strings.Join(web.Post.To, ",") != "person:lee" || strings.Join(web.Post.Channels, ",") != "email" {
		t.Errorf("team=web post: %+v", web)
	}
	if !strings.HasPrefix(web.Post.Text, "[발생] InstanceDown (2건, 해결 1건)\n") || strings.Contains(web.Post.Text, "db-1") {
		t.Errorf("team=web text is not about its own alerts:\n%s", web.Post.Text)
	}
	id := alertmanager.IncidentID(n)
	if db.Post.Incident != id || web.Post.Incident != id {
		t.Errorf("incidents %q and %q, want both %q", db.Post.Incident, web.Post.Incident, id)
	}
	if db.Key == web.Key {
		t.Error("two posts of one notification share an idempotency key")
	}
	for _, r := range reqs {
		if err := r.Post.Validate(); err != nil {
			t.Errorf("%s: invalid post: %v", r.Route, err)
		}
		if len(r.Key) > relay.MaxIdempotencyKey || r.Key == "" {
			t.Errorf("%s: key %q", r.Route, r.Key)
		}
	}
}

func TestIncidentID(t *testing.T) {
	n := decode(t, fixture(t, "firing"))
	id := alertmanager.IncidentID(n)
	if !relay.ValidID(id) || !strings.HasPrefix(id, "am-") || len(id) != 19 {
		t.Fatalf("incident id %q", id)
	}
	if alertmanager.IncidentID(decode(t, fixture(t, "resolved"))) != id {
		t.Error("the resolution of a group goes to another incident")
	}
	// The id is fixed forever: every node and every release must derive
	// the same one, or a group's messages split across incidents.
	if id != "am-"+goldenIncident {
		t.Errorf("incident id %q changed from am-%s", id, goldenIncident)
	}
	other := *n
	other.GroupKey += "x"
	if alertmanager.IncidentID(&other) == id {
		t.Error("another group key gives the same incident")
	}
	other = *n
	other.Receiver = "relay-2"
	if alertmanager.IncidentID(&other) == id {
		t.Error("another receiver gives the same incident")
	}
}

const goldenIncident = "575323a9131c2bf6"

// keyOf returns the idempotency key of a notification's only post.
func keyOf(t *testing.T, n *alertmanager.Notification) string {
	t.Helper()
	reqs, err := alertmanager.Posts(n, everyone("ko"))
	if err != nil {
		t.Fatal(err)
	}
	return reqs[0].Key
}

func TestIdempotencyKey(t *testing.T) {
	base := func() *alertmanager.Notification { return decode(t, fixture(t, "multiple")) }
	key := keyOf(t, base())
	if keyOf(t, base()) != key {
		t.Fatal("the same notification decoded twice gives two keys")
	}
	same := map[string]*alertmanager.Notification{
		// What Alertmanager's retry may change without it being another
		// notification: nothing the key or the text reads.
		"group labels":  func() *alertmanager.Notification { n := base(); n.GroupLabels = nil; return n }(),
		"common labels": func() *alertmanager.Notification { n := base(); n.CommonLabels = nil; return n }(),
	}
	for name, n := range same {
		if keyOf(t, n) != key {
			t.Errorf("%s: another key", name)
		}
	}
	differ := map[string]func(*alertmanager.Notification){
		"status":         func(n *alertmanager.Notification) { n.Status = alertmanager.StatusResolved },
		"group key":      func(n *alertmanager.Notification) { n.GroupKey = "other" },
		"receiver":       func(n *alertmanager.Notification) { n.Receiver = "other" },
		"alert resolved": func(n *alertmanager.Notification) { n.Alerts[0].Status = alertmanager.StatusResolved },
		"fired again":    func(n *alertmanager.Notification) { n.Alerts[1].StartsAt = n.Alerts[1].StartsAt.Add(3600e9) },
		"ended later":    func(n *alertmanager.Notification) { n.Alerts[2].EndsAt = n.Alerts[2].EndsAt.Add(60e9) },
		"fingerprint":    func(n *alertmanager.Notification) { n.Alerts[0].Fingerprint = "0000000000000000" },
		"alert added":    func(n *alertmanager.Notification) { n.Alerts = append(n.Alerts, alert("instance", "web-3:9100")) },
		"annotation":     func(n *alertmanager.Notification) { n.Alerts[0].Annotations["summary"] = "지연 7초" },
	}
	for name, mutate := range differ {
		n := base()
		mutate(n)
		if keyOf(t, n) == key {
			t.Errorf("%s: the same key as before", name)
		}
	}
	// The key depends on the rendered text, so changing the text or the
	// digest makes a retry that reaches a node of another release post
	// again: do it only on purpose, and update goldenKey then.
	if key != goldenKey {
		t.Errorf("key %q changed from %q", key, goldenKey)
	}
}

const goldenKey = "am-b10397569d481994da6ed7d8aa3b80399a0e61db"

// Whatever the alerts carry, the text stays valid UTF-8, readable and far
// below relay.MaxTextBytes, and the post valid.
func TestTextBounds(t *testing.T) {
	huge := strings.Repeat("가", 20_000)
	var alerts []alertmanager.Alert
	for i := range 300 {
		a := alert("alertname", fmt.Sprintf("%s-%d", huge, i%7), "pod", fmt.Sprintf("%s-%d", huge, i), "severity", "critical")
		a.Annotations = map[string]string{"summary": huge + "\x00\x1b[31m", "description": huge}
		a.GeneratorURL = "http://x/" + huge
		alerts = append(alerts, a)
	}
	n := notification(alerts...)
	n.TruncatedAlerts = 1_000_000
	for _, lang := range alertmanager.Langs {
		reqs, err := alertmanager.Posts(n, everyone(lang))
		if err != nil {
			t.Fatal(err)
		}
		text := reqs[0].Post.Text
		if !utf8.ValidString(text) || len(text) > 32<<10 || strings.ContainsAny(text, "\x00\x1b") {
			t.Errorf("%s: %d bytes, valid UTF-8 %v", lang, len(text), utf8.ValidString(text))
		}
		if lines := strings.Count(text, "\n") + 1; lines > 20 {
			t.Errorf("%s: %d lines", lang, lines)
		}
		if err := reqs[0].Post.Validate(); err != nil {
			t.Errorf("%s: %v", lang, err)
		}
	}
}
