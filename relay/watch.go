package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Watching: each node probes the watched targets from its own site and
// keeps its own view of every other node; it writes a WatchReport when
// its view of a subject changes. Heartbeats from outside are Beats. The
// node that owns a subject (rendezvous hashing over live members) decides
// from the reports of live members and records each change of the
// cluster's verdict as a WatchVerdict, after paging its audience.

// Subjects watched, by prefix: a watched target, a heartbeat, or a node
// of the cluster (site dark).
const (
	SubjectTarget    = "target:"
	SubjectHeartbeat = "heartbeat:"
	SubjectNode      = "node:"
)

// ViaWatch is the way pages about watched subjects come; their author is
// "watch".
const ViaWatch = "watch"

// MaxWatchReason bounds the reason a report or verdict gives.
const MaxWatchReason = 512

// WatchReport is what one node sees of a subject: up or down, since when
// its view has not changed, and why it sees it down. Only Node itself
// writes its reports; the latest of each (node, subject) wins.
type WatchReport struct {
	Node    string    `json:"node"`
	Subject string    `json:"subject"`
	Up      bool      `json:"up"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason,omitempty"`
}

// Beat is one heartbeat received from outside (a cron job, Alertmanager's
// Watchdog alert): the heartbeat is alive at At. The latest beat of a
// heartbeat wins.
type Beat struct {
	Heartbeat string    `json:"heartbeat"`
	At        time.Time `json:"at"`
	// By names who sent it: an API token's name, or alertmanager.
	By string `json:"by"`
}

// WatchVerdict is a change of the cluster's verdict on a subject, written
// by the node that owned it after paging. Outage counts the subject's
// outages from 1: outage n goes down, then recovers. The verdict with the
// highest (Outage, recovered) wins, so verdicts fold in any order.
type WatchVerdict struct {
	Subject string    `json:"subject"`
	Outage  int       `json:"outage"`
	Down    bool      `json:"down"`
	Since   time.Time `json:"since"`
	// Sites are the sites (or, for a node, the nodes) that agreed.
	Sites  []string `json:"sites,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Incident and Message are the page's; Message is empty when the
	// page could not be posted (an audience the roster lacks).
	Incident string    `json:"incident"`
	Message  string    `json:"message,omitempty"`
	At       time.Time `json:"at"`
}

// Step orders a subject's verdicts: outage n's page, then its recovery.
func (v *WatchVerdict) Step() int {
	s := 2 * v.Outage
	if v.Down {
		s--
	}
	return s
}

// CheckSubject reports what is wrong with a subject.
func CheckSubject(s string) error {
	for _, p := range []string{SubjectTarget, SubjectHeartbeat, SubjectNode} {
		if name, ok := strings.CutPrefix(s, p); ok {
			if !ValidID(name) {
				return fmt.Errorf("subject %q: name %s", s, errBadID)
			}
			return nil
		}
	}
	return fmt.Errorf("subject %q is none of target:, heartbeat:, node: and a name", s)
}

func checkReason(r string) error {
	if len(r) > MaxWatchReason || !utf8.ValidString(r) {
		return fmt.Errorf("reason is not valid UTF-8 of at most %d bytes", MaxWatchReason)
	}
	return nil
}

// Check reports what is wrong with a report.
func (r *WatchReport) Check() error {
	if !ValidID(r.Node) {
		return fmt.Errorf("watch report: node %q %s", r.Node, errBadID)
	}
	if err := CheckSubject(r.Subject); err != nil {
		return fmt.Errorf("watch report: %w", err)
	}
	if r.Since.IsZero() {
		return fmt.Errorf("watch report of %s without a since time", r.Subject)
	}
	if err := checkReason(r.Reason); err != nil {
		return fmt.Errorf("watch report: %w", err)
	}
	return nil
}

// Check reports what is wrong with a beat.
func (b *Beat) Check() error {
	if !ValidID(b.Heartbeat) {
		return fmt.Errorf("beat: heartbeat %q %s", b.Heartbeat, errBadID)
	}
	if b.At.IsZero() {
		return fmt.Errorf("beat of %s without a time", b.Heartbeat)
	}
	if len(b.By) > 64 || !utf8.ValidString(b.By) {
		return fmt.Errorf("beat: by is not valid UTF-8 of at most 64 bytes")
	}
	return nil
}

// Check reports what is wrong with a verdict.
func (v *WatchVerdict) Check() error {
	if err := CheckSubject(v.Subject); err != nil {
		return fmt.Errorf("watch verdict: %w", err)
	}
	if v.Outage < 1 || !ValidID(v.Incident) || len(v.Sites) > 1000 {
		return fmt.Errorf("watch verdict of %s: outage %d, incident %q or %d sites out of bounds", v.Subject, v.Outage, v.Incident, len(v.Sites))
	}
	if err := checkReason(v.Reason); err != nil {
		return fmt.Errorf("watch verdict: %w", err)
	}
	return nil
}

// WatchIncident names the incident of a subject's outage, the same on
// every node: the page and its recovery go to it.
func WatchIncident(subject string, outage int) string {
	kind, name, _ := strings.Cut(subject, ":")
	id := "watch-" + kind + "-" + name + "-" + strconv.Itoa(outage)
	if ValidID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(subject))
	return "watch-" + kind + "-" + hex.EncodeToString(sum[:8]) + "-" + strconv.Itoa(outage)
}

// WatchKey is the idempotency key of the page of a subject's outage, or
// of its recovery: a survivor that repeats the work of a dead owner
// derives the same message.
func WatchKey(subject string, outage int, down bool) string {
	state := "up"
	if down {
		state = "down"
	}
	return "watch:" + subject + ":" + strconv.Itoa(outage) + ":" + state
}
