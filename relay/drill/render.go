package drill

import (
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/width"
)

// WriteCSV writes one row per delivery (a person with no contact method
// has one row with no channel), for the post-mortem.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"person", "name", "channel", "provider", "node", "site", "status", "outcome", "reason",
		"attempts", "to_send_s", "to_delivery_s", "acknowledged", "ack_channel", "to_ack_s"})
	for _, p := range r.People {
		acked := strconv.FormatBool(p.Outcome == OutcomeAcked)
		ack := ""
		if p.Outcome == OutcomeAcked {
			ack = seconds(p.ToAck)
		}
		if len(p.Rows) == 0 {
			cw.Write(cells(p.ID, p.Name, "", "", "", "", "", p.Outcome, p.Reason, "0", "", "", acked, p.AckChannel, ack))
			continue
		}
		for _, row := range p.Rows {
			cw.Write(cells(p.ID, p.Name, row.Channel, row.Provider, row.Node, row.Site, string(row.Status), row.Outcome, row.Reason,
				strconv.Itoa(row.Attempts), seconds(row.ToSend), seconds(row.ToDelivery), acked, p.AckChannel, ack))
		}
	}
	cw.Flush()
	return cw.Error()
}

// cells keeps a spreadsheet from taking a cell for a formula.
func cells(vs ...string) []string {
	for i, v := range vs {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			vs[i] = "'" + v
		}
	}
	return vs
}

func seconds(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer, lang string) error {
	l := labels(lang)
	fmt.Fprintf(w, "%s %s  %s\n", l["drill"], r.Message, r.Summary.At.Format(time.RFC3339))
	fmt.Fprintf(w, "%s\n\n", r.Text)
	fmt.Fprintf(w, "%s %d  %s %d (%.0f%%)  %s %d (%.0f%%)  %s p90 %s\n", l["people"], r.Summary.People,
		l["reached_h"], r.Reached, 100*r.ReachedRate(), l["acked"], r.Acked, 100*r.AckedRate(), l["to_delivery"], short(r.P90Delivery))
	for _, o := range outcomeOrder {
		if n := r.Outcomes[o]; n > 0 {
			fmt.Fprintf(w, "  %s %d\n", pad(l[o], 20), n)
		}
	}
	for _, sec := range []struct {
		title string
		gs    []Group
	}{{l["providers"], r.Providers}, {l["sites"], r.Sites}, {l["channels"], r.Channels}} {
		fmt.Fprintf(w, "\n%s\n", sec.title)
		for _, g := range sec.gs {
			fmt.Fprintf(w, "  %-16s %5d  %5.1f%%  p50 %-7s p90 %-7s p99 %s\n", g.Name, g.Deliveries, 100*g.Rate(), short(g.P50), short(g.P90), short(g.P99))
		}
	}
	fmt.Fprintf(w, "\n%s\n", l["not_reached"])
	for _, p := range r.People {
		if p.Outcome == OutcomeReached || p.Outcome == OutcomeAcked {
			continue
		}
		fmt.Fprintf(w, "  %s %s %s\n", pad(p.ID, 16), pad(p.Name, 12), p.Reason)
	}
	if len(r.Previous) > 0 {
		fmt.Fprintf(w, "\n%s\n", l["trend"])
		for _, s := range append(r.Previous, r.Summary) {
			fmt.Fprintf(w, "  %s  %s %5.1f%%  %s %5.1f%%  p90 %s\n", s.At.Format(time.DateOnly), l["reached_h"], 100*s.ReachedRate(), l["acked"], 100*s.AckedRate(), short(s.P90Delivery))
		}
	}
	return nil
}

var outcomeOrder = []string{OutcomeAcked, OutcomeReached, OutcomePending, OutcomeNoReceipt, OutcomeFailed,
	OutcomeStopped, OutcomeInvalid, OutcomeUnreachable, OutcomeNoContact}

// pad fills s with spaces to n terminal columns: Hangul and other wide
// characters take two.
func pad(s string, n int) string {
	cols := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			cols += 2
		default:
			cols++
		}
	}
	return s + strings.Repeat(" ", max(n-cols, 0))
}

func short(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

func labels(lang string) map[string]string {
	if strings.HasPrefix(lang, "en") {
		return labelsEN
	}
	return labelsKO
}

var labelsKO = map[string]string{
	"drill": "훈련", "people": "인원", "reached_h": "도달", "acked": "확인", "to_delivery": "도달 시간",
	"providers": "공급자별", "sites": "사이트별", "channels": "채널별", "not_reached": "도달하지 못한 사람", "trend": "이전 훈련과 비교",
	OutcomeAcked: "확인함", OutcomeReached: "도달", OutcomePending: "진행 중", OutcomeNoReceipt: "수신 확인 없음",
	OutcomeFailed: "실패", OutcomeStopped: "수신 거부(STOP)", OutcomeInvalid: "잘못된 번호", OutcomeUnreachable: "연락 불가",
	OutcomeNoContact: "연락처 없음", "person": "사람", "channel": "채널", "outcome": "결과", "reason": "사유",
	"deliveries": "발송", "rate": "성공률", "outcomes": "결과 분포", "latency": "첫 도달까지 걸린 시간",
}

var labelsEN = map[string]string{
	"drill": "Drill", "people": "people", "reached_h": "reached", "acked": "acknowledged", "to_delivery": "time to delivery",
	"providers": "By provider", "sites": "By site", "channels": "By channel", "not_reached": "Not reached", "trend": "Against earlier drills",
	OutcomeAcked: "acknowledged", OutcomeReached: "reached", OutcomePending: "pending", OutcomeNoReceipt: "no receipt",
	OutcomeFailed: "failed", OutcomeStopped: "stopped (STOP)", OutcomeInvalid: "invalid number", OutcomeUnreachable: "unreachable",
	OutcomeNoContact: "no contact method", "person": "person", "channel": "channel", "outcome": "outcome", "reason": "reason",
	"deliveries": "deliveries", "rate": "success", "outcomes": "Outcomes", "latency": "Time to first delivery",
}

//go:embed report.html.tmpl
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"short": short,
	"even":  func(i int) bool { return i%2 == 0 },
	"groupArgs": func(l map[string]string, g []Group) map[string]any {
		return map[string]any{"L": l, "G": g}
	},
	"pct":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"date": func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") },
}).ParseFS(templates, "report.html.tmpl"))

// WriteHTML writes the report as one self-contained page: its style in
// the page, its charts in SVG, no script and nothing fetched.
func (r *Report) WriteHTML(w io.Writer, lang string) error {
	if !strings.HasPrefix(lang, "en") {
		lang = "ko"
	}
	return page.Execute(w, map[string]any{"R": r, "L": labels(lang), "Lang": lang,
		"Outcomes": outcomeBar(r), "Latency": latencyBars(r), "Trend": trendBars(r), "Order": outcomeOrder})
}

// bar is one rectangle of a chart, with its label.
type bar struct {
	X, Y, W, H float64
	Fill       string
	Label      string
	Value      string
}

var outcomeColors = map[string]string{
	OutcomeAcked: "#1b7f3b", OutcomeReached: "#5cb85c", OutcomePending: "#9aa5b1", OutcomeNoReceipt: "#e0a800",
	OutcomeFailed: "#c62828", OutcomeStopped: "#8e24aa", OutcomeInvalid: "#d84315", OutcomeUnreachable: "#6d4c41", OutcomeNoContact: "#37474f",
}

// outcomeBar is one stacked bar of the people by outcome, 600 wide.
func outcomeBar(r *Report) []bar {
	var out []bar
	x := 0.0
	total := float64(max(r.Summary.People, 1))
	for _, o := range outcomeOrder {
		n := r.Outcomes[o]
		if n == 0 {
			continue
		}
		w := 600 * float64(n) / total
		out = append(out, bar{X: x, Y: 0, W: w, H: 28, Fill: outcomeColors[o], Label: labels("en")[o], Value: strconv.Itoa(n)})
		x += w
	}
	return out
}

// latencyBuckets are the columns of the time-to-delivery histogram.
var latencyBuckets = []struct {
	upTo  time.Duration
	label string
}{{5 * time.Second, "<5s"}, {10 * time.Second, "<10s"}, {30 * time.Second, "<30s"}, {time.Minute, "<1m"},
	{2 * time.Minute, "<2m"}, {5 * time.Minute, "<5m"}, {math.MaxInt64, "≥5m"}}

func latencyBars(r *Report) []bar {
	counts := make([]int, len(latencyBuckets))
	for _, p := range r.People {
		if p.Channel == "" {
			continue
		}
		for i, b := range latencyBuckets {
			if p.ToDelivery < b.upTo {
				counts[i]++
				break
			}
		}
	}
	top := 1
	for _, c := range counts {
		top = max(top, c)
	}
	out := make([]bar, len(counts))
	for i, c := range counts {
		h := 120 * float64(c) / float64(top)
		out[i] = bar{X: float64(i) * 80, Y: 130 - h, W: 64, H: h, Fill: "#1565c0", Label: latencyBuckets[i].label, Value: strconv.Itoa(c)}
	}
	return out
}

// trendBars pairs each drill's reached and acknowledged shares, oldest
// first, the last being this drill.
func trendBars(r *Report) []bar {
	all := append(append([]Summary{}, r.Previous...), r.Summary)
	if len(all) > 12 {
		all = all[len(all)-12:]
	}
	var out []bar
	for i, s := range all {
		x := float64(i) * 50
		for j, v := range []float64{s.ReachedRate(), s.AckedRate()} {
			h := 120 * v
			fill := []string{"#5cb85c", "#1b7f3b"}[j]
			out = append(out, bar{X: x + float64(j)*20, Y: 130 - h, W: 18, H: h, Fill: fill, Label: s.At.Format("01-02"),
				Value: strconv.FormatFloat(100*v, 'f', 0, 64) + "%"})
		}
	}
	return out
}
