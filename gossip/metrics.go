package gossip

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	members     *prometheus.GaugeVec
	received    prometheus.Counter
	sent        *prometheus.CounterVec
	sendErrors  *prometheus.CounterVec
	joinFailure prometheus.Counter
	suspicions  prometheus.Counter
	refutations prometheus.Counter
	verdicts    prometheus.Counter
	// refusedMembers counts members kept out for want of a trusted node
	// key; droppedLogs, memberlist's warnings and errors not logged
	// because too many came at once.
	refusedMembers prometheus.Counter
	droppedLogs    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "members",
			Help: "Cluster members this node knows, by state (alive, dead, left), itself included.",
		}, []string{"state"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "messages_received_total",
			Help: "Messages received from other members, reliable and best-effort.",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "messages_sent_total",
			Help: "Messages handed to the network for another member, by mode (reliable, best_effort).",
		}, []string{"mode"}),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "send_errors_total",
			Help: "Messages that could not be sent to another member, by mode (reliable, best_effort).",
		}, []string{"mode"}),
		joinFailure: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "join_failures_total",
			Help: "Attempts to join the seeds that reached none of them.",
		}),
		suspicions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "suspicions_total",
			Help: "Members this node suspected of failure (a probe went unanswered); false alarms when they refute it.",
		}),
		refutations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "refutations_total",
			Help: "Suspicions of this node, alive, that it refuted: false alarms raised by others.",
		}),
		refusedMembers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "refused_members_total",
			Help: "Alive messages of members kept out of the membership: no trusted node key for their name, or metadata not signed by it.",
		}),
		droppedLogs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "dropped_log_lines_total",
			Help: "Warnings and errors of the gossip layer (garbage packets, refused members) not logged because too many came at once; they are counted here.",
		}),
		verdicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "gossip", Name: "failure_verdicts_total",
			Help: "Members this node declared failed after their suspicion timed out.",
		}),
	}
	for _, s := range []State{StateAlive, StateDead, StateLeft} {
		m.members.WithLabelValues(string(s))
	}
	for _, mode := range []string{modeReliable, modeBestEffort} {
		m.sent.WithLabelValues(mode)
		m.sendErrors.WithLabelValues(mode)
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{m.members, m.received, m.sent, m.sendErrors, m.joinFailure, m.suspicions, m.refutations, m.verdicts, m.refusedMembers, m.droppedLogs}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

const (
	modeReliable   = "reliable"
	modeBestEffort = "best_effort"
)
