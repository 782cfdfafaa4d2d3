package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// WatchStatus is what the cluster sees of the watched subjects, as this
// node's store says.
type WatchStatus struct {
	Isolation  Isolation
	Targets    []SubjectStatus
	Heartbeats []HeartbeatStatus
	Nodes      []SubjectStatus
}

// SubjectStatus is the verdict on a target or a node and each node's
// view of it.
type SubjectStatus struct {
	Name string
	// Detail is a target's URL, address or host, or a node's site.
	Detail string
	// Down is the cluster's verdict; Since when it last changed (zero
	// when it never did); Incident the last outage's incident.
	Down     bool
	Since    time.Time
	Incident string
	Views    []View
}

// View is one node's view of a subject.
type View struct {
	Node   string
	Site   string
	Up     bool
	Since  time.Time
	Reason string
	// Live says the node is a live member now: only live members' views
	// count.
	Live bool
}

// HeartbeatStatus is a heartbeat's state.
type HeartbeatStatus struct {
	Name     string
	Every    time.Duration
	Grace    time.Duration
	Down     bool
	Since    time.Time
	LastBeat time.Time
	Incident string
}

// WatchStatus returns the watched subjects' state.
func (n *Node) WatchStatus() (*WatchStatus, error) {
	sites, err := n.store.Sites()
	if err != nil {
		return nil, err
	}
	alive := n.repl.Members()
	st := &WatchStatus{Isolation: n.Isolation()}
	subject := func(prefix, name, detail string) (SubjectStatus, error) {
		s := SubjectStatus{Name: name, Detail: detail}
		v, ok, err := n.store.Verdict(prefix + name)
		if err != nil {
			return s, err
		}
		if ok {
			s.Down, s.Since, s.Incident = v.Down, v.Since, v.Incident
		}
		reps, err := n.store.WatchReports(prefix + name)
		if err != nil {
			return s, err
		}
		for _, r := range reps {
			s.Views = append(s.Views, View{Node: r.Node, Site: siteOf(sites, r.Node), Up: r.Up, Since: r.Since, Reason: r.Reason,
				Live: slices.Contains(alive, r.Node)})
		}
		slices.SortFunc(s.Views, func(a, b View) int { return strings.Compare(a.Site+"\x00"+a.Node, b.Site+"\x00"+b.Node) })
		return s, nil
	}
	for _, t := range n.opts.Watch.Targets {
		s, err := subject(relay.SubjectTarget, t.Name, targetDetail(t.Target))
		if err != nil {
			return nil, err
		}
		st.Targets = append(st.Targets, s)
	}
	for _, h := range n.opts.Watch.Heartbeats {
		hs := HeartbeatStatus{Name: h.Name, Every: h.Every, Grace: h.Grace}
		v, ok, err := n.store.Verdict(relay.SubjectHeartbeat + h.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			hs.Down, hs.Since, hs.Incident = v.Down, v.Since, v.Incident
		}
		if hs.LastBeat, err = n.store.LastBeat(h.Name); err != nil {
			return nil, err
		}
		st.Heartbeats = append(st.Heartbeats, hs)
	}
	names := make([]string, 0, len(sites))
	for name := range sites {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s, err := subject(relay.SubjectNode, name, sites[name])
		if err != nil {
			return nil, err
		}
		st.Nodes = append(st.Nodes, s)
	}
	return st, nil
}

// Beat records a beat of heartbeat name, sent by by. It returns
// relay.ErrNotFound when the node watches no heartbeat of that name.
func (n *Node) Beat(ctx context.Context, name, by string) error {
	if !slices.ContainsFunc(n.opts.Watch.Heartbeats, func(h Heartbeat) bool { return h.Name == name }) {
		return fmt.Errorf("heartbeat %q: %w", name, relay.ErrNotFound)
	}
	_, err := n.store.Append(ctx, relay.Event{Beat: &relay.Beat{Heartbeat: name, At: n.opts.Now().UTC(), By: by}})
	return err
}

// Heartbeat reports whether the node watches a heartbeat of that name.
func (n *Node) Heartbeat(name string) bool {
	return slices.ContainsFunc(n.opts.Watch.Heartbeats, func(h Heartbeat) bool { return h.Name == name })
}
