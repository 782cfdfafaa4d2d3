package relay

import (
	"strings"
	"text/template"
	"time"
)

// WatchPage is what a page about a watched subject says.
type WatchPage struct {
	// Lang is ko or en; anything else is DefaultLang.
	Lang string
	// Kind is target, heartbeat or node; Name the subject's name.
	Kind string
	Name string
	// Detail says what the subject is: a target's URL, address or host,
	// a node's site, a heartbeat's expected period.
	Detail string
	Down   bool
	Since  time.Time
	// Sites are the sites (for a node: the nodes' sites) that agree.
	Sites  []string
	Reason string
}

// kst is Korea's time, which has had no daylight saving since 1988.
var kst = time.FixedZone("KST", 9*60*60)

// Clock is the page's time of day: Korean time in Korean, UTC in English.
func (p *WatchPage) Clock() string {
	if p.lang() == "en" {
		return p.Since.UTC().Format("15:04") + " UTC"
	}
	return p.Since.In(kst).Format("15:04")
}

// From lists the agreeing sites: "seoul, busan" in Korean, "seoul and
// busan" in English.
func (p *WatchPage) From() string {
	if p.lang() == "en" && len(p.Sites) > 1 {
		return strings.Join(p.Sites[:len(p.Sites)-1], ", ") + " and " + p.Sites[len(p.Sites)-1]
	}
	return strings.Join(p.Sites, ", ")
}

func (p *WatchPage) lang() string {
	if p.Lang == "en" {
		return "en"
	}
	return "ko"
}

// WatchText renders the page, with tmpl when given (its data is the
// *WatchPage) and in the page's language otherwise.
func WatchText(p *WatchPage, tmpl *template.Template) (string, error) {
	if tmpl != nil {
		var b strings.Builder
		if err := tmpl.Execute(&b, p); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	var b strings.Builder
	ko := p.lang() == "ko"
	w := b.WriteString
	switch {
	case p.Down && ko:
		w("[장애] ")
	case p.Down:
		w("[DOWN] ")
	case ko:
		w("[복구] ")
	default:
		w("[RECOVERED] ")
	}
	subject := p.Name
	if p.Detail != "" {
		subject += " (" + p.Detail + ")"
	}
	switch {
	case p.Kind == "heartbeat" && ko && p.Down:
		w("하트비트 " + subject + " 끊김: " + p.Clock() + " 이후 신호 없음")
	case p.Kind == "heartbeat" && ko:
		w("하트비트 " + subject + " 재개: " + p.Clock() + "부터")
	case p.Kind == "heartbeat" && p.Down:
		w("heartbeat " + subject + " stopped: no beat since " + p.Clock())
	case p.Kind == "heartbeat":
		w("heartbeat " + subject + " beating again since " + p.Clock())
	case p.Kind == "node" && ko && p.Down:
		w(subject + " 연결 불가: " + p.From() + "에서 " + p.Clock() + "부터")
	case p.Kind == "node" && ko:
		w(subject + " 복귀: " + p.From() + "에서 " + p.Clock() + "부터")
	case p.Kind == "node" && p.Down:
		w(subject + " unreachable from " + p.From() + " since " + p.Clock())
	case p.Kind == "node":
		w(subject + " back, seen from " + p.From() + " since " + p.Clock())
	case ko && p.Down:
		w(subject + " 응답 없음: " + p.From() + "에서 " + p.Clock() + "부터")
	case ko:
		w(subject + " 정상: " + p.From() + "에서 " + p.Clock() + "부터")
	case p.Down:
		w(subject + " not answering from " + p.From() + " since " + p.Clock())
	default:
		w(subject + " answering again from " + p.From() + " since " + p.Clock())
	}
	if p.Down && p.Reason != "" {
		w(" (" + p.Reason + ")")
	}
	return b.String(), nil
}
