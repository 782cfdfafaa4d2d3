package drill_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/drill"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var start = time.Date(2026, 12, 2, 14, 0, 0, 0, time.FixedZone("KST", 9*3600))

func person(id, name string) relay.Recipient {
	return relay.Recipient{Person: relay.Person{ID: id, Name: name}, Channels: []string{"sms"}}
}

func delivery(person, channel, provider, owner string, status relay.Status, sent, done time.Duration) relay.Delivery {
	d := relay.Delivery{ID: "m1." + channel + "." + person, MessageID: "m1", Person: person, Channel: channel, Provider: provider,
		Owner: owner, Status: status, Attempts: 1, Deadline: start.Add(time.Hour)}
	if sent > 0 {
		d.SentAt = start.Add(sent)
	}
	d.UpdatedAt = start.Add(done)
	return d
}

// input is a drill to eight people with every outcome: reached by SMS
// and by mail, acknowledged, an invalid number, STOP, a receipt that
// never came, one still pending, and one with no contact method.
func input() drill.Input {
	msg := relay.Message{ID: "m1", Incident: "drill-2026-12", Text: drill.Marker + " 판교 화재 대피 훈련입니다. 받으면 1을 눌러 주세요.",
		Author: "ops-admin", To: []string{"group:all"}, AcceptedAt: start, Deadline: start.Add(time.Hour),
		Recipients: []relay.Recipient{person("kim", "김민준"), person("lee", "이서연"), person("park", "박지훈"), person("choi", "최유나"),
			person("jung", "정하늘"), person("kang", "강도윤"), person("yoon", "윤서아")},
		Unreachable: []string{"han"}}
	stop := delivery("jung", "sms", "twilio-kr", "relay-2", relay.StatusFailed, 0, 3*time.Second)
	stop.Reason = relay.ReasonUnsubscribe
	invalid := delivery("choi", "sms", "twilio-kr", "relay-1", relay.StatusFailed, 0, 2*time.Second)
	invalid.Reason, invalid.Error = relay.ReasonRecipient, "21211 invalid 'To' phone number"
	lost := delivery("kang", "sms", "twilio-kr", "relay-2", relay.StatusSent, 2*time.Second, 2*time.Second)
	lost.Deadline = start.Add(10 * time.Minute)
	return drill.Input{
		Message: msg,
		Deliveries: []relay.Delivery{
			delivery("kim", "sms", "twilio-kr", "relay-1", relay.StatusDelivered, time.Second, 4*time.Second),
			delivery("kim", "email", "smtp-main", "relay-1", relay.StatusDelivered, time.Second, 2*time.Second),
			delivery("lee", "sms", "twilio-kr", "relay-2", relay.StatusDelivered, time.Second, 8*time.Second),
			delivery("park", "sms", "twilio-us", "relay-3", relay.StatusDelivered, 2*time.Second, 40*time.Second),
			invalid, stop, lost,
			delivery("yoon", "sms", "twilio-kr", "relay-3", relay.StatusPending, 0, 0),
		},
		Acks:     []relay.Ack{{Message: "m1", Person: "lee", Channel: "sms", At: start.Add(30 * time.Second)}, {Message: "m1", Person: "lee", Channel: "voice", At: start.Add(50 * time.Second)}},
		Sites:    map[string]string{"relay-1": "seoul", "relay-2": "busan", "relay-3": "tokyo"},
		Previous: []drill.Summary{{Message: "m0", At: start.AddDate(0, -1, 0), People: 8, Reached: 5, Acked: 2, P90Delivery: 12 * time.Second}},
		At:       start.Add(20 * time.Minute),
	}
}

func TestBuild(t *testing.T) {
	r := drill.Build(input())
	if r.Summary.People != 8 || r.Reached != 3 || r.Acked != 1 {
		t.Errorf("people %d reached %d acked %d, want 8, 3, 1", r.Summary.People, r.Reached, r.Acked)
	}
	want := map[string]string{
		"kim": drill.OutcomeReached, "lee": drill.OutcomeAcked, "park": drill.OutcomeReached, "choi": drill.OutcomeInvalid,
		"jung": drill.OutcomeStopped, "kang": drill.OutcomeNoReceipt, "yoon": drill.OutcomePending, "han": drill.OutcomeNoContact,
	}
	for _, p := range r.People {
		if p.Outcome != want[p.ID] {
			t.Errorf("%s: %s (%s), want %s", p.ID, p.Outcome, p.Reason, want[p.ID])
		}
		switch p.ID {
		case "kim":
			// The mail came first.
			if p.Channel != "email" || p.ToDelivery != 2*time.Second {
				t.Errorf("kim first reached by %s after %s, want email after 2s", p.Channel, p.ToDelivery)
			}
		case "lee":
			if p.AckChannel != "sms" || p.ToAck != 30*time.Second {
				t.Errorf("lee acknowledged by %s after %s, want the earliest: sms after 30s", p.AckChannel, p.ToAck)
			}
		}
	}
	if r.People[0].ID != "han" {
		t.Errorf("first row %s, want the person with no contact method first", r.People[0].ID)
	}
	var kr drill.Group
	for _, g := range r.Providers {
		if g.Name == "twilio-kr" {
			kr = g
		}
	}
	// twilio-kr: kim 4s, lee 8s delivered; choi, jung, kang failed; yoon pending.
	if kr.Deliveries != 6 || kr.Delivered != 2 || kr.Failed != 3 || kr.P50 != 4*time.Second || kr.P99 != 8*time.Second {
		t.Errorf("twilio-kr %+v", kr)
	}
	sites := map[string]drill.Group{}
	for _, g := range r.Sites {
		sites[g.Name] = g
	}
	if sites["seoul"].Deliveries != 3 || sites["busan"].Deliveries != 3 || sites["tokyo"].Deliveries != 2 {
		t.Errorf("sites %+v", r.Sites)
	}
	if r.P90Delivery != 40*time.Second {
		t.Errorf("p90 to first delivery %s, want 40s", r.P90Delivery)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestGoldenReports(t *testing.T) {
	r := drill.Build(input())
	var csvOut, html, text, htmlEN bytes.Buffer
	if err := r.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html, "ko"); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&htmlEN, "en"); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&text, "ko"); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.csv", csvOut.Bytes())
	golden(t, "report.ko.html", html.Bytes())
	golden(t, "report.en.html", htmlEN.Bytes())
	golden(t, "report.ko.txt", text.Bytes())

	rows, err := csv.NewReader(bytes.NewReader(csvOut.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// A header, eight people, kim twice.
	if len(rows) != 10 {
		t.Errorf("%d CSV rows, want 10", len(rows))
	}
	if !strings.Contains(csvOut.String(), "김민준") {
		t.Error("Korean names missing from the CSV")
	}
}

// TestHTMLIsSelfContained: no script, nothing fetched from elsewhere, and
// the page parses.
func TestHTMLIsSelfContained(t *testing.T) {
	r := drill.Build(input())
	var b bytes.Buffer
	if err := r.WriteHTML(&b, "ko"); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	svgs := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script", "iframe", "object", "embed", "link":
			t.Errorf("the report has a <%s>", n.Data)
		case "svg":
			svgs++
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "#") {
				t.Errorf("<%s %s=%q> fetches from elsewhere", n.Data, a.Key, a.Val)
			}
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has the handler %s", n.Data, a.Key)
			}
		}
	}
	if svgs != 3 {
		t.Errorf("%d charts, want 3 (outcomes, latency, trend)", svgs)
	}
}

// TestCSVCellsAreNotFormulas: a name a spreadsheet would run is quoted.
func TestCSVCellsAreNotFormulas(t *testing.T) {
	in := input()
	in.Message.Recipients[0].Person.Name = "=HYPERLINK(\"http://x\")"
	r := drill.Build(in)
	var b bytes.Buffer
	r.WriteCSV(&b)
	if strings.Contains(b.String(), ",=HYPERLINK") || !strings.Contains(b.String(), "'=HYPERLINK") {
		t.Errorf("a formula went into the CSV as is:\n%s", b.String())
	}
}

func BenchmarkReport10000(b *testing.B) {
	in := input()
	in.Message.Recipients = nil
	in.Deliveries = nil
	for i := range 10000 {
		id := "p" + string(rune('a'+i%26)) + strings.Repeat("x", i%3) + "-" + itoa(i)
		in.Message.Recipients = append(in.Message.Recipients, person(id, "김민준"))
		st := relay.StatusDelivered
		if i%17 == 0 {
			st = relay.StatusFailed
		}
		in.Deliveries = append(in.Deliveries, delivery(id, "sms", "twilio-kr", "relay-"+itoa(1+i%3), st, time.Second, time.Duration(1+i%90)*time.Second))
	}
	var size int
	for b.Loop() {
		r := drill.Build(in)
		var out bytes.Buffer
		if err := r.WriteHTML(&out, "ko"); err != nil {
			b.Fatal(err)
		}
		size = out.Len()
	}
	b.ReportMetric(float64(size), "html-bytes")
}

func itoa(i int) string { return strconv.Itoa(i) }
