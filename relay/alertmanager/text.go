package alertmanager

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// Bounds on rendered text, so that a message stays readable on a phone and
// far below relay.MaxTextBytes whatever the alerts carry.
const (
	// maxListed is how many alerts of a group are listed one per line.
	maxListed = 10
	// maxNames is how many alert names the first line lists.
	maxNames = 3
	// maxNameBytes bounds an alert name or a label value.
	maxNameBytes = 120
	// maxLineBytes bounds a summary or a list of labels.
	maxLineBytes = 500
	// maxDescriptionBytes bounds a description.
	maxDescriptionBytes = 1000
	// maxURLBytes is the longest link included: a cut link is useless.
	maxURLBytes = 2000
)

// ellipsis ends a value that was cut.
const ellipsis = "…"

// words is the fixed text of a message in one language.
type words struct {
	tag          string
	firing       string
	resolved     string
	summary      string
	description  string
	labels       string
	link         string
	alertmanager string
	unnamed      string
	// count is the first line's count of a group's alerts, of which
	// resolved are resolved while others fire.
	count func(alerts, resolved int, firing bool) string
	// others follows the names on the first line when there are more.
	others    func(n int) string
	more      func(n int) string
	truncated func(n int) string
}

var korean = words{
	tag:          "ko",
	firing:       "[발생]",
	resolved:     "[해결됨]",
	summary:      "요약",
	description:  "설명",
	labels:       "레이블",
	link:         "링크",
	alertmanager: "Alertmanager",
	unnamed:      "이름 없는 경보",
	count: func(alerts, resolved int, firing bool) string {
		if firing && resolved > 0 {
			return fmt.Sprintf(" (%d건, 해결 %d건)", alerts, resolved)
		}
		return fmt.Sprintf(" (%d건)", alerts)
	},
	others:    func(n int) string { return fmt.Sprintf(" 외 %d종", n) },
	more:      func(n int) string { return fmt.Sprintf("… 외 %d건", n) },
	truncated: func(n int) string { return fmt.Sprintf("Alertmanager가 경보 %d건을 생략했습니다.", n) },
}

var english = words{
	tag:          "en",
	firing:       "[FIRING]",
	resolved:     "[RESOLVED]",
	summary:      "Summary",
	description:  "Description",
	labels:       "Labels",
	link:         "Link",
	alertmanager: "Alertmanager",
	unnamed:      "unnamed alert",
	count: func(alerts, resolved int, firing bool) string {
		if firing && resolved > 0 {
			return fmt.Sprintf(" (%d alerts, %d resolved)", alerts, resolved)
		}
		return fmt.Sprintf(" (%d alerts)", alerts)
	},
	others:    func(n int) string { return fmt.Sprintf(" and %d more", n) },
	more:      func(n int) string { return fmt.Sprintf("… and %d more", n) },
	truncated: func(n int) string { return fmt.Sprintf("Alertmanager left out %d more alerts.", n) },
}

// wordsFor picks the text for a language: English for "en", otherwise
// Korean.
func wordsFor(lang string) *words {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if base == english.tag {
		return &english
	}
	return &korean
}

// render writes the text of a message about alerts, which are some or all
// of n's. The first line says whether they fire or are resolved and names
// them; a lone alert follows with its summary, description, labels and
// link, several with what they share and then one line each. Labels named
// in hide (the alert name, the severity label) are left out of label
// lists: the first line and the message's severity already carry them.
func (w *words) render(n *Notification, alerts []Alert, hide ...string) string {
	hide = append(hide, "alertname")
	resolved := 0
	for _, a := range alerts {
		if !a.Firing() {
			resolved++
		}
	}
	firing := resolved < len(alerts)
	var b strings.Builder
	if firing {
		b.WriteString(w.firing)
	} else {
		b.WriteString(w.resolved)
	}
	names := w.names(alerts)
	b.WriteString(" " + w.title(names))
	if len(alerts) > 1 {
		b.WriteString(w.count(len(alerts), resolved, firing))
	}
	line := func(label, value string) {
		if value != "" {
			b.WriteString("\n" + label + ": " + value)
		}
	}

	summary := common(alerts, func(a Alert) string { return oneLine(a.Annotations["summary"], maxLineBytes) })
	description := common(alerts, func(a Alert) string { return oneLine(a.Annotations["description"], maxDescriptionBytes) })
	if description == summary || !firing {
		description = ""
	}
	line(w.summary, summary)
	line(w.description, description)
	shared := sharedLabels(alerts, hide)
	line(w.labels, labelList(shared, alerts[0].Labels))

	if len(alerts) > 1 {
		hide = append(hide, shared...)
		for i, a := range alerts {
			if i == maxListed {
				b.WriteString("\n" + w.more(len(alerts)-maxListed))
				break
			}
			b.WriteString("\n- ")
			if firing && !a.Firing() {
				b.WriteString(w.resolved + " ")
			}
			if len(names) > 1 {
				b.WriteString(w.name(a) + " ")
			}
			own := labelList(ownLabels(a.Labels, hide), a.Labels)
			if own == "" {
				own = fmt.Sprintf("#%d", i+1)
			}
			b.WriteString(own)
			detail := ""
			if summary == "" {
				detail = oneLine(a.Annotations["summary"], maxLineBytes)
			}
			if detail == "" && description == "" && firing && a.Firing() {
				detail = oneLine(a.Annotations["description"], maxLineBytes)
			}
			if detail != "" {
				b.WriteString(": " + detail)
			}
		}
	}
	if firing {
		generator := common(alerts, func(a Alert) string { return link(a.GeneratorURL) })
		if generator != "" {
			line(w.link, generator)
		} else {
			line(w.alertmanager, link(n.ExternalURL))
		}
	}
	if n.TruncatedAlerts > 0 {
		b.WriteString("\n" + w.truncated(n.TruncatedAlerts))
	}
	// Every value went through oneLine or link; this keeps the promise
	// that the text passes relay.CheckText whatever changes above.
	return relay.CleanText(cut(b.String(), relay.MaxTextBytes))
}

// name returns an alert's alertname label, fit for one line.
func (w *words) name(a Alert) string {
	if name := oneLine(a.Labels["alertname"], maxNameBytes); name != "" {
		return name
	}
	return w.unnamed
}

// names lists the alerts' distinct names in order.
func (w *words) names(alerts []Alert) []string {
	var names []string
	for _, a := range alerts {
		if name := w.name(a); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// title joins the names, the first few of them when there are many.
func (w *words) title(names []string) string {
	if len(names) <= maxNames {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNames], ", ") + w.others(len(names)-maxNames)
}

// common returns the value every alert has, or "" when they differ.
func common(alerts []Alert, value func(Alert) string) string {
	v := value(alerts[0])
	for _, a := range alerts[1:] {
		if value(a) != v {
			return ""
		}
	}
	return v
}

// sharedLabels returns the names of the labels every alert has with the
// same value, sorted, leaving out those in hide.
func sharedLabels(alerts []Alert, hide []string) []string {
	var out []string
	for _, name := range sortedKeys(alerts[0].Labels) {
		if slices.Contains(hide, name) {
			continue
		}
		v := alerts[0].Labels[name]
		if !slices.ContainsFunc(alerts[1:], func(a Alert) bool {
			w, ok := a.Labels[name]
			return !ok || w != v
		}) {
			out = append(out, name)
		}
	}
	return out
}

// ownLabels returns the names of the labels not in hide, sorted.
func ownLabels(labels map[string]string, hide []string) []string {
	var out []string
	for _, name := range sortedKeys(labels) {
		if !slices.Contains(hide, name) {
			out = append(out, name)
		}
	}
	return out
}

// labelList writes the named labels as "name=value, ...".
func labelList(names []string, labels map[string]string) string {
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = oneLine(name, maxNameBytes) + "=" + oneLine(labels[name], maxNameBytes)
	}
	return cut(strings.Join(parts, ", "), maxLineBytes)
}

// link returns a URL fit to include: on one line and not too long to
// work, or "".
func link(u string) string {
	u = strings.TrimSpace(u)
	if len(u) > maxURLBytes || strings.IndexFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || relay.UnsafeRune(r) }) >= 0 {
		return ""
	}
	return u
}

// oneLine folds runs of white space and control characters into single
// spaces, removes bidirectional formatting characters, trims the ends and
// cuts the result to max bytes.
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			space = true
			continue
		}
		if relay.UnsafeRune(r) {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > max {
			break // enough to cut from
		}
	}
	return cut(b.String(), max)
}

// cut shortens s to at most max bytes at a character boundary, ending it
// in an ellipsis when it was cut.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	end := max - len(ellipsis)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return strings.TrimRight(s[:end], " \n") + ellipsis
}
