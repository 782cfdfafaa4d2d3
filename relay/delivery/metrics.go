package delivery

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

type metrics struct {
	reg            prometheus.Registerer
	attempts       *prometheus.CounterVec
	failures       *prometheus.CounterVec
	outcomes       *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	breakerOpen    *prometheus.GaugeVec
	demoted        *prometheus.GaugeVec
	staleClaims    *prometheus.CounterVec
	lookups        *prometheus.CounterVec
	receiptChecks  *prometheus.CounterVec
	unconfirmed    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, providers []Provider) *metrics {
	m := &metrics{
		reg: reg,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "attempts_total",
			Help: "Delivery attempts by channel, provider and result (ok, temporary, permanent).",
		}, []string{"channel", "provider", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "failures_total",
			Help: "Failed delivery attempts by channel, provider and reason.",
		}, []string{"channel", "provider", "reason"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "settled_total",
			Help: "Deliveries settled by this node, by channel and status (sent, delivered, failed).",
		}, []string{"channel", "status"}),
		attemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "attempt_seconds",
			Help:    "Duration of one delivery attempt, by channel and provider.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"channel", "provider"}),
		demoted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "provider_demoted",
			Help: "1 while a provider is demoted behind the other providers of its channel because its canary's receipt was late, missing or failed.",
		}, []string{"channel", "provider"}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "provider_circuit_open",
			Help: "1 while a provider's circuit breaker is open and its deliveries go to other providers.",
		}, []string{"channel", "provider"}),
		staleClaims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "stale_claims_total",
			Help: "Claimed attempts not made because the claim waited half its lease for a worker; the delivery was queued again.",
		}, []string{"channel"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "lookups_total",
			Help: "Attempts left in flight by a node that died, looked up at the provider before being made again, by channel and result (found, not_found, error, unsupported).",
		}, []string{"channel", "result"}),
		receiptChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "receipt_checks_total",
			Help: "Deliveries whose receipt was late, asked about at the provider, by channel and result (final, pending, error, unsupported).",
		}, []string{"channel", "result"}),
		unconfirmed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "delivery", Name: "unconfirmed_total",
			Help: "Claims (before an SMS or call) and attempt results the peers had not confirmed holding when the node stopped waiting for them, a quarter of the lease on; a crash of this node could repeat these attempts, by channel and what (claim, result).",
		}, []string{"channel", "what"}),
	}
	for _, p := range providers {
		for _, r := range []string{"found", "not_found", "error", "unsupported"} {
			m.lookups.WithLabelValues(p.Channel, r)
		}
		for _, r := range []string{"final", "pending", "error", "unsupported"} {
			m.receiptChecks.WithLabelValues(p.Channel, r)
		}
		m.breakerOpen.WithLabelValues(p.Channel, p.Name)
		m.demoted.WithLabelValues(p.Channel, p.Name)
		m.staleClaims.WithLabelValues(p.Channel)
		m.unconfirmed.WithLabelValues(p.Channel, "claim")
		m.unconfirmed.WithLabelValues(p.Channel, "result")
		for _, r := range []string{"ok", "temporary", "permanent"} {
			m.attempts.WithLabelValues(p.Channel, p.Name, r)
		}
		for _, r := range relay.Reasons {
			m.failures.WithLabelValues(p.Channel, p.Name, string(r))
		}
		for _, s := range []relay.Status{relay.StatusSent, relay.StatusDelivered, relay.StatusFailed, relay.StatusSkipped} {
			m.outcomes.WithLabelValues(p.Channel, string(s))
		}
	}
	reg.MustRegister(m.attempts, m.failures, m.outcomes, m.attemptSeconds, m.breakerOpen, m.demoted, m.staleClaims, m.lookups, m.receiptChecks, m.unconfirmed)
	return m
}

func (m *metrics) settled(channel string, s relay.Status) {
	m.outcomes.WithLabelValues(channel, string(s)).Inc()
}

func (m *metrics) queueDepth(channel string, depth func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "relay", Subsystem: "delivery", Name: "queue_depth",
		Help:        "Deliveries waiting in a channel's queue, due or not.",
		ConstLabels: prometheus.Labels{"channel": channel},
	}, func() float64 { return float64(depth()) }))
}
