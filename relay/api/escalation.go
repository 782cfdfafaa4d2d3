package api

import (
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

// escalationView returns where m's escalation stands, or nil when m
// follows no escalation policy.
func escalationView(st *store.Store, m *relay.Message, acks []relay.Ack) (*relay.EscalationProgress, error) {
	if m.Escalation == nil {
		return nil, nil
	}
	steps, err := st.Escalations(m.ID)
	if err != nil {
		return nil, err
	}
	return relay.Progress(m, steps, acks), nil
}
