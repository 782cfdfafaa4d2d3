package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/watch"
)

// The owner of each watched subject, the live member that ranks highest
// for it by rendezvous hashing (as deliveries are owned), decides from
// the reports of live members, every tick. On a change of verdict it
// posts the page under an idempotency key derived from the subject, the
// outage's number and the new state (relay.WatchKey) to the outage's own
// incident (relay.WatchIncident), and then records the verdict. A
// survivor that repeats the work of an owner that died between the two
// derives the same message, so people are paged once.

// watchOwnerID is the id whose owner decides for subject.
func watchOwnerID(subject string) string { return "watch/" + subject }

// decide looks at every subject this node owns.
func (n *Node) decide(ctx context.Context, sites map[string]string, alive []string) error {
	w := n.watcher
	now := n.opts.Now()
	owns := func(subject string) bool {
		return n.owners.Owner(&relay.Delivery{ID: watchOwnerID(subject)}) == n.opts.Name
	}
	var errs []error
	for _, t := range w.opts.Targets {
		if subject := relay.SubjectTarget + t.Name; owns(subject) {
			errs = append(errs, n.decideTarget(ctx, t, subject, sites, alive, now))
		}
	}
	for _, h := range w.opts.Heartbeats {
		if subject := relay.SubjectHeartbeat + h.Name; owns(subject) {
			errs = append(errs, n.decideHeartbeat(ctx, h, subject, now))
		}
	}
	for name := range sites {
		// A node may own its own subject once it is back: it tells of
		// its return when the others see it alive.
		if subject := relay.SubjectNode + name; owns(subject) {
			errs = append(errs, n.decideNode(ctx, name, subject, sites, alive, now))
		}
	}
	return errors.Join(errs...)
}

// current returns subject's verdict: whether it is down now, and the
// number of its last outage.
func (n *Node) current(subject string) (down bool, outage int, v relay.WatchVerdict, err error) {
	v, ok, err := n.store.Verdict(subject)
	if err != nil || !ok {
		return false, 0, v, err
	}
	return v.Down, v.Outage, v, nil
}

func (n *Node) decideTarget(ctx context.Context, t WatchTarget, subject string, sites map[string]string, alive []string, now time.Time) error {
	down, outage, _, err := n.current(subject)
	if err != nil {
		return err
	}
	reps, err := n.store.WatchReports(subject)
	if err != nil {
		return err
	}
	var reports []watch.Report
	for _, r := range reps {
		if slices.Contains(alive, r.Node) {
			reports = append(reports, watch.Report{Target: t.Name, Node: r.Node, Site: siteOf(sites, r.Node), Up: r.Up, Since: r.Since, Reason: r.Reason})
		}
	}
	tg := t.WithDefaults()
	rule := watch.Rule{Sites: countSites(sites), Quorum: n.watcher.opts.Quorum, For: tg.For, RecoverFor: tg.RecoverFor}
	v, ok := watch.Decide(reports, rule, down, now)
	if !ok {
		return nil
	}
	page := &relay.WatchPage{Lang: t.Lang, Kind: "target", Name: t.Name, Detail: targetDetail(tg), Down: v.Down, Since: v.Since, Sites: v.Sites, Reason: v.Reason}
	return n.announce(ctx, subject, outage, page, t.To, t.Template)
}

func (n *Node) decideHeartbeat(ctx context.Context, h Heartbeat, subject string, now time.Time) error {
	down, outage, _, err := n.current(subject)
	if err != nil {
		return err
	}
	last, err := n.store.LastBeat(h.Name)
	if err != nil {
		return err
	}
	from := last
	if from.IsZero() {
		from = n.watcher.started
	}
	late := now.Sub(from) > h.Every+h.Grace
	switch {
	case late && !down:
		page := &relay.WatchPage{Lang: h.Lang, Kind: "heartbeat", Name: h.Name, Down: true, Since: from}
		if last.IsZero() {
			page.Reason = "no beat since relay started watching"
		}
		return n.announce(ctx, subject, outage, page, h.To, nil)
	case !late && down && !last.IsZero():
		page := &relay.WatchPage{Lang: h.Lang, Kind: "heartbeat", Name: h.Name, Since: last}
		return n.announce(ctx, subject, outage, page, h.To, nil)
	}
	return nil
}

// decideNode pages when a majority of the other nodes the log knows has
// seen node name dead for SiteDark.After, and when a majority sees it
// alive again.
func (n *Node) decideNode(ctx context.Context, name, subject string, sites map[string]string, alive []string, now time.Time) error {
	down, outage, _, err := n.current(subject)
	if err != nil {
		return err
	}
	reps, err := n.store.WatchReports(subject)
	if err != nil {
		return err
	}
	need := (len(sites)-1)/2 + 1
	after := n.watcher.opts.SiteDark.After
	var dead, back []relay.WatchReport
	for _, r := range reps {
		if r.Node == name || !slices.Contains(alive, r.Node) {
			continue
		}
		switch {
		case !r.Up && now.Sub(r.Since) >= after:
			dead = append(dead, r)
		case r.Up:
			back = append(back, r)
		}
	}
	agree, goingDown := dead, true
	if down {
		agree, goingDown = back, false
		if !slices.Contains(alive, name) {
			return nil
		}
	}
	if len(agree) < need {
		return nil
	}
	slices.SortFunc(agree, func(a, b relay.WatchReport) int { return a.Since.Compare(b.Since) })
	page := &relay.WatchPage{Lang: n.watcher.opts.SiteDark.Lang, Kind: "node", Name: name, Detail: siteOf(sites, name),
		Down: goingDown, Since: agree[need-1].Since}
	for _, r := range agree {
		if s := siteOf(sites, r.Node); !slices.Contains(page.Sites, s) {
			page.Sites = append(page.Sites, s)
		}
	}
	slices.Sort(page.Sites)
	return n.announce(ctx, subject, outage, page, n.watcher.opts.SiteDark.To, nil)
}

// announce posts the page of a change of subject's verdict and records
// the verdict. outage is the number of the subject's last outage.
func (n *Node) announce(ctx context.Context, subject string, outage int, page *relay.WatchPage, to []string, tmpl *template.Template) error {
	if page.Down {
		outage++
	}
	text, err := relay.WatchText(page, tmpl)
	if err != nil {
		return fmt.Errorf("render the page of %s: %w", subject, err)
	}
	incident := relay.WatchIncident(subject, outage)
	key := relay.WatchKey(subject, outage, page.Down)
	author := Author{Name: "watch", Via: relay.ViaWatch, Commander: true}
	severity := relay.SeverityCritical
	if !page.Down {
		severity = relay.SeverityWarning
	}
	post := &relay.Post{Incident: incident, To: to, Severity: severity, Text: text}
	msg := relay.IdempotentMessageID(author.Via, author.Name, key)
	acc, err := n.post(ctx, post, author, key, nil, nil)
	var fe *relay.FieldError
	switch {
	case errors.Is(err, ErrKeyReused):
		// Another node paged first, seeing the sites a little
		// differently: that page stands.
	case errors.As(err, &fe):
		n.log.Error("watch page refused; the verdict is recorded without it", "subject", subject, "err", err)
		msg = ""
	case err != nil:
		return err
	case len(acc.Message.Recipients) == 0:
		n.log.Warn("watch page reaches nobody: its audience has no one with a channel", "subject", subject, "to", to)
	}
	ev := &relay.WatchVerdict{Subject: subject, Outage: outage, Down: page.Down, Since: page.Since.UTC(), Sites: page.Sites,
		Reason: truncateReason(page.Reason), Incident: incident, Message: msg, At: n.opts.Now().UTC()}
	if _, err := n.store.Append(ctx, relay.Event{WatchVerdict: ev}); err != nil {
		return err
	}
	state := "up"
	if page.Down {
		state = "down"
	}
	kind, _, _ := strings.Cut(subject, ":")
	n.watcher.pages.WithLabelValues(kind, state).Inc()
	n.log.Warn("watch verdict changed; audience paged", "subject", subject, "state", state, "outage", outage,
		"since", page.Since, "sites", page.Sites, "incident", incident, "message", msg)
	return nil
}

func truncateReason(r string) string {
	for len(r) > relay.MaxWatchReason {
		r = r[:len(r)-1]
	}
	return strings.ToValidUTF8(r, "")
}

func siteOf(sites map[string]string, node string) string {
	if s, ok := sites[node]; ok {
		return s
	}
	return node
}

func countSites(sites map[string]string) int {
	seen := map[string]bool{}
	for _, s := range sites {
		seen[s] = true
	}
	return len(seen)
}

func targetDetail(t watch.Target) string {
	switch t.Kind {
	case watch.KindHTTP:
		return t.URL
	case watch.KindTCP:
		return t.Address
	default:
		return t.Host
	}
}
