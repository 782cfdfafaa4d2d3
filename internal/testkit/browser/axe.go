package browser

import (
	_ "embed"
	"fmt"
	"strings"
	"testing"
)

// axeSource is axe-core 4.14.1's axe.min.js, from the npm registry's
// axe-core package, under the Mozilla Public License 2.0 (axe/LICENSE);
// its licence header is kept as published.
//
//go:embed axe/axe.min.js
var axeSource string

// AxeVersion is the vendored axe-core's version.
const AxeVersion = "4.14.1"

// Violation is one accessibility rule a page breaks, as axe-core reports
// it.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	URL    string   `json:"helpUrl"`
	Nodes  []string `json:"nodes"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s; at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, " | "))
}

// Axe runs axe-core's WCAG 2 A and AA rules (and its best practices) on
// the page in the browser's tab and returns the violations of impact
// serious or critical.
func (b *Browser) Axe(tb testing.TB) []Violation {
	tb.Helper()
	if !Eval[bool](tb, b, `typeof window.axe === "object"`) {
		Eval[bool](tb, b, "(function(){"+axeSource+"\n})(), true")
	}
	all := Eval[[]Violation](tb, b, `axe.run(document, {resultTypes: ["violations"],
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => n.target.join(" "))})))`)
	var out []Violation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// RequireAccessible fails the test when axe-core finds a serious or
// critical violation on the page, listing each.
func (b *Browser) RequireAccessible(tb testing.TB, page string) {
	tb.Helper()
	vs := b.Axe(tb)
	for _, v := range vs {
		tb.Errorf("%s: accessibility: %s", page, v)
	}
	if len(vs) == 0 {
		tb.Logf("%s: axe-core %s: no serious or critical violation", page, AxeVersion)
	}
}
