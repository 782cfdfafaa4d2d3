package inbound

import "github.com/prometheus/client_golang/prometheus"

// metrics are the SMTP server's counters.
type metrics struct {
	senderChecks *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		senderChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "smtp", Name: "sender_checks_total",
			Help: "Mail from people to incident addresses by how its From domain was authenticated (dkim, spf, upstream) or not (fail, temperror).",
		}, []string{"result"}),
	}
	for _, r := range []string{checkDKIM, checkSPF, checkUpstream, checkFail, checkTemp} {
		m.senderChecks.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.senderChecks} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
