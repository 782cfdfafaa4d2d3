package gossip

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	members     *prometheus.GaugeVec
	received    prometheus.Counter
	sent        *prometheus.CounterVec
	sendErrors  *prometheus.CounterVec
	joinFailure prometheus.Counter
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
	collectors := []prometheus.Collector{m.members, m.received, m.sent, m.sendErrors, m.joinFailure}
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
