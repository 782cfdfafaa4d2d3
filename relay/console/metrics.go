package console

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	streams prometheus.Gauge
	renders prometheus.Counter
	csrf    prometheus.Counter
	moved   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "relay", Subsystem: "console", Name: "live_streams",
			Help: "Live incident-room streams open on this node."}),
		renders: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "relay", Subsystem: "console", Name: "live_renders_total",
			Help: "Renders of an incident room's live parts after a change."}),
		csrf: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "relay", Subsystem: "console", Name: "refused_posts_total",
			Help: "Console POSTs refused for coming from another origin or without a valid form token."}),
		moved: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "relay", Subsystem: "console", Name: "resumed_sessions_total",
			Help: "Sessions resumed on this node from another node's hand-off."}),
	}
	for _, col := range []prometheus.Collector{m.streams, m.renders, m.csrf, m.moved} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
