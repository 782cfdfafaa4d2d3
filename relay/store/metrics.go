package store

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	commitSeconds prometheus.Histogram
	batchEvents   prometheus.Histogram
	events        *prometheus.CounterVec
	refused       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "relay", Subsystem: "store", Name: "commit_seconds",
			Help:    "Time to write and fsync one store transaction.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "relay", Subsystem: "store", Name: "commit_events",
			Help:    "Events written by one store transaction (group commit size).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "store", Name: "events_total",
			Help: "Events written to the log, by kind and by source (local or remote).",
		}, []string{"kind", "source"}),
	}
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "relay", Subsystem: "store", Name: "refused_events_total",
		Help: "Events from elsewhere refused, by reason (signature, origin, own_origin, clock_ahead).",
	}, []string{"reason"})
	for _, r := range []string{"signature", "origin", "own_origin", "clock_ahead"} {
		m.refused.WithLabelValues(r)
	}
	for _, k := range []string{"message", "deliveries", "roster", "seen", "override", "rollcall", "rollcall_answer"} {
		for _, s := range []string{"local", "remote"} {
			m.events.WithLabelValues(k, s)
		}
	}
	reg.MustRegister(m.commitSeconds, m.batchEvents, m.events, m.refused)
	return m
}
