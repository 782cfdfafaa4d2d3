package inbound

import "github.com/prometheus/client_golang/prometheus"

// metrics are the SMTP server's counters.
type metrics struct {
	senderChecks  *prometheus.CounterVec
	connsRefused  *prometheus.CounterVec
	loginFailures prometheus.Counter
	mailLimited   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		senderChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "smtp", Name: "sender_checks_total",
			Help: "Mail from people to incident addresses by how its From domain was authenticated (dkim, spf, upstream) or not (fail, temperror).",
		}, []string{"result"}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "smtp", Name: "connections_refused_total",
			Help: "SMTP connections answered 421 and closed, by the limit they were over (total, per_ip).",
		}, []string{"reason"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "smtp", Name: "login_failures_total",
			Help: "Failed SMTP AUTH attempts.",
		}),
		mailLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "relay", Subsystem: "smtp", Name: "mail_rate_limited_total",
			Help: "Mails refused at MAIL FROM (450 4.7.1) because their client sent too many a minute.",
		}),
	}
	for _, r := range []string{refusedTotal, refusedPerIP} {
		m.connsRefused.WithLabelValues(r)
	}
	for _, r := range []string{checkDKIM, checkSPF, checkUpstream, checkFail, checkTemp} {
		m.senderChecks.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.senderChecks, m.connsRefused, m.loginFailures, m.mailLimited} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
