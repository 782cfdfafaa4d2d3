package node_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// BenchmarkDrillReport10000 measures a drill's report for 10,000 people
// as the API makes it: read from the node's store (the message, 10,000
// deliveries, the acknowledgements, the sites, the earlier drills) and
// written as HTML. html-bytes is the page's size.
func BenchmarkDrillReport10000(b *testing.B) {
	const total = 10000
	roster := &relay.Roster{}
	for i := range total {
		roster.People = append(roster.People, relay.Person{ID: fmt.Sprintf("p%05d", i), Name: surnames[i%10] + givens[(i/10)%10],
			Email: fmt.Sprintf("p%05d@example.com", i)})
	}
	n, err := node.Open(node.Options{
		Name: "seoul-1", DataDir: b.TempDir(), Roster: roster,
		Providers:  []delivery.Provider{{Name: "smtp", Channel: relay.ChannelEmail, Sender: &testkit.Sender{CountOnly: true}}},
		Deadline:   func(relay.Severity) time.Duration { return time.Hour },
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer n.Close(b.Context())
	st, err := n.StartDrill(b.Context(), &relay.DrillStart{To: []string{"everyone"}, Channels: []string{relay.ChannelEmail},
		Text: "정기 비상 연락 훈련입니다."}, node.Author{Name: "ops"}, "")
	if err != nil {
		b.Fatal(err)
	}
	testkit.EventuallyNil(b, time.Minute, func() error {
		c, err := n.Store().Counts(st.Message.ID)
		if err != nil {
			return err
		}
		if c[relay.StatusSent] < total {
			return fmt.Errorf("%d of %d sent", c[relay.StatusSent], total)
		}
		return nil
	})
	var size int
	for b.Loop() {
		rep, err := n.DrillReport(st.Drill.ID, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := rep.WriteHTML(&out, "ko"); err != nil {
			b.Fatal(err)
		}
		size = out.Len()
	}
	b.ReportMetric(float64(size), "html-bytes")
}
