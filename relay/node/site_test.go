package node_test

import (
	"maps"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/node"
)

// Every node learns every node's site, a dead one's included; a node
// without a site is its own site.
func TestNodesLearnEachOthersSites(t *testing.T) {
	var all []*member
	seed := ""
	for _, ns := range [][2]string{{"seoul-1", "seoul"}, {"busan-1", "busan"}, {"tokyo-1", ""}} {
		m := startMemberWith(t, ns[0], seed, nil, node.Options{
			Site:     ns[1],
			Deadline: func(relay.Severity) time.Duration { return time.Minute },
		})
		if seed == "" {
			seed = m.ms.LocalAddr()
		}
		all = append(all, m)
	}
	if got := all[2].n.Site(); got != "tokyo-1" {
		t.Errorf("a node without a site is in %q, want its name", got)
	}
	want := map[string]string{"seoul-1": "seoul", "busan-1": "busan", "tokyo-1": "tokyo-1"}
	for _, m := range all {
		testkit.Eventually(t, 10*time.Second, "every site on "+m.n.Name(), func() bool {
			got, err := m.n.Sites()
			return err == nil && maps.Equal(got, want)
		})
	}
	all[1].stop()
	for _, m := range []*member{all[0], all[2]} {
		if got, err := m.n.Sites(); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s after busan-1 stopped: %v %v, want %v", m.n.Name(), got, err, want)
		}
	}
}
