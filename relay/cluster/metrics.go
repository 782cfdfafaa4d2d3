package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	pushes         *prometheus.CounterVec
	pushedEvents   prometheus.Counter
	mergedEvents   prometheus.Counter
	repairedEvents prometheus.Counter
	refused        *prometheus.CounterVec
	dropped        prometheus.Counter
	resends        prometheus.Counter
	datagrams      prometheus.Counter
	// datagramsUnanswered counts datagram pushes sent again reliably.
	datagramsUnanswered prometheus.Counter
	snapshots           *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, r *Replicator) *metrics {
	m := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_cluster_pushes_total",
			Help: "Pushes of this node's events to peers, by result."}, []string{"result"}),
		pushedEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_pushed_events_total",
			Help: "Events of this node pushed to peers."}),
		mergedEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_merged_events_total",
			Help: "Events from peers that were new here."}),
		repairedEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_antientropy_events_total",
			Help: "Events sent to peers that lacked them, found by anti-entropy."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_cluster_refused_messages_total",
			Help: "Cluster messages and push/pull states refused, by reason: malformed, unsigned, unknown_node (no trusted key), signature, sender (signed as another node), recipient (meant for another node), stale (too old or too far ahead)."},
			[]string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_dropped_frames_total",
			Help: "Frames from peers dropped because their sender's queue was full; the sender sends them again."}),
		resends: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_resends_total",
			Help: "Times a sender sent events again because the peer confirmed nothing in time."}),
		datagrams: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_datagrams_total",
			Help: "Pushes of a few new events, and answers to them, sent to a peer as one datagram rather than over a stream."}),
		datagramsUnanswered: prometheus.NewCounter(prometheus.CounterOpts{Name: "relay_cluster_datagrams_unanswered_total",
			Help: "Datagram pushes the peer did not confirm in time, sent again over the stream."}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_cluster_snapshots_total",
			Help: "Snapshots taken from a peer to catch up, by result (installed, failed)."}, []string{"result"}),
	}
	for _, reason := range refusedReasons {
		m.refused.WithLabelValues(reason)
	}
	for _, r := range []string{"installed", "failed"} {
		m.snapshots.WithLabelValues(r)
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_cluster_replication_lag_events",
		Help: "The most events of this node any live peer has not confirmed."}, func() float64 {
		worst := uint64(0)
		for _, p := range r.Peers() {
			worst = max(worst, p.Behind)
		}
		return float64(worst)
	})
	peers := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "relay_cluster_peers",
		Help: "Live peers this node replicates to."}, func() float64 { return float64(len(r.Peers())) })
	reg.MustRegister(m.pushes, m.pushedEvents, m.mergedEvents, m.repairedEvents, m.refused, m.dropped, m.resends, m.datagrams, m.datagramsUnanswered, m.snapshots, lag, peers)
	return m
}
