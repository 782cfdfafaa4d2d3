package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/oob-relay/relay/relay"
)

// TestReplicasConverge writes random events on three stores, then merges
// every event into two fresh replicas in different random orders, batches
// and with duplicates. The replicas must end with identical state.
func TestReplicasConverge(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		var writers []*Store
		for i := 0; i < 3; i++ {
			s := open(t, t.TempDir(), fmt.Sprintf("w%d", i))
			defer s.Close()
			writers = append(writers, s)
		}
		people := []string{"kim", "lee", "park"}
		var all []relay.Event
		nOps := rapid.IntRange(1, 30).Draw(rt, "ops")
		for op := 0; op < nOps; op++ {
			w := writers[rapid.IntRange(0, 2).Draw(rt, "writer")]
			var draft relay.Event
			switch rapid.IntRange(0, 3).Draw(rt, "kind") {
			case 0:
				// A message id is derived from its request, so two
				// acceptances of one id share incident and text; only the
				// resolved audience and times may differ.
				n := rapid.IntRange(0, 3).Draw(rt, "msg")
				draft.Message = testMessage(fmt.Sprintf("M%d", n), fmt.Sprintf("inc%d", n%2), people[:rapid.IntRange(1, 3).Draw(rt, "n")]...)
				draft.Message.AcceptedAt = draft.Message.AcceptedAt.Add(time.Duration(rapid.IntRange(0, 5).Draw(rt, "at")) * time.Second)
				draft.Message.Deadline = draft.Message.AcceptedAt.Add(time.Hour)
			case 1:
				draft.Roster = &relay.RosterChange{Roster: relay.Roster{People: []relay.Person{{ID: people[rapid.IntRange(0, 2).Draw(rt, "p")]}}}}
			default:
				st := rapid.SampledFrom(relay.Statuses).Draw(rt, "status")
				draft.Deliveries = []relay.DeliveryChange{{
					ID:      fmt.Sprintf("M%d.%s.%s", rapid.IntRange(0, 3).Draw(rt, "msg"), rapid.SampledFrom([]string{"sms", "email"}).Draw(rt, "ch"), rapid.SampledFrom(people).Draw(rt, "person")),
					Status:  st,
					Attempt: rapid.IntRange(0, 3).Draw(rt, "attempt"),
					Error:   rapid.SampledFrom([]string{"", "boom"}).Draw(rt, "err"),
				}}
			}
			evs, err := w.Append(ctx, draft)
			if err != nil {
				rt.Fatal(err)
			}
			all = append(all, evs...)
			if rapid.Bool().Draw(rt, "gossip") { // writers sometimes see each other's events
				other := writers[rapid.IntRange(0, 2).Draw(rt, "to")]
				if other != w {
					if _, err := other.Merge(ctx, evs); err != nil {
						rt.Fatal(err)
					}
				}
			}
		}
		var replicas []*Store
		for r := 0; r < 2; r++ {
			s := open(t, t.TempDir(), fmt.Sprintf("r%d", r))
			defer s.Close()
			replicas = append(replicas, s)
			order := rapid.Permutation(all).Draw(rt, "order")
			for len(order) > 0 {
				n := rapid.IntRange(1, len(order)).Draw(rt, "batch")
				batch := append([]relay.Event(nil), order[:n]...)
				if rapid.Bool().Draw(rt, "dup") {
					batch = append(batch, order[0])
				}
				if _, err := s.Merge(ctx, batch); err != nil {
					rt.Fatal(err)
				}
				order = order[n:]
			}
		}
		a, b := snapshot(rt, replicas[0]), snapshot(rt, replicas[1])
		for id := range a.Deliveries {
			for i := range a.Deliveries[id] {
				if i < len(b.Deliveries[id]) && !reflect.DeepEqual(a.Deliveries[id][i], b.Deliveries[id][i]) {
					rt.Fatalf("delivery diverged:\n%+v\n%+v", a.Deliveries[id][i], b.Deliveries[id][i])
				}
			}
		}
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		for i := 0; i < va.NumField(); i++ {
			if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
				ja, _ := json.MarshalIndent(va.Field(i).Interface(), "", " ")
				jb, _ := json.MarshalIndent(vb.Field(i).Interface(), "", " ")
				rt.Fatalf("replicas diverged in %s:\n%s\n----\n%s", va.Type().Field(i).Name, ja, jb)
			}
		}
	})
}

type state struct {
	Messages   map[string]*relay.Message
	Deliveries map[string][]relay.Delivery
	Counts     map[string]StatusCounts
	Incidents  []relay.Incident
	Timelines  map[string][]string
	Roster     *relay.Roster
	Marks      map[string]uint64
	Open       int
}

func snapshot(rt *rapid.T, s *Store) state {
	st := state{Messages: map[string]*relay.Message{}, Deliveries: map[string][]relay.Delivery{},
		Counts: map[string]StatusCounts{}, Timelines: map[string][]string{}}
	for i := 0; i < 4; i++ {
		id := fmt.Sprintf("M%d", i)
		if m, err := s.Message(id); err == nil {
			st.Messages[id] = m
		}
		ds, _ := s.Deliveries(id)
		st.Deliveries[id] = ds
		st.Counts[id], _ = s.Counts(id)
	}
	st.Incidents, _ = s.Incidents()
	for _, inc := range st.Incidents {
		ms, _ := s.IncidentMessages(inc.ID)
		for _, m := range ms {
			st.Timelines[inc.ID] = append(st.Timelines[inc.ID], m.ID)
		}
	}
	st.Roster, _, _ = s.Roster()
	st.Marks, _ = s.Marks()
	open, err := s.OpenDeliveries()
	if err != nil {
		rt.Fatal(err)
	}
	st.Open = len(open)
	return st
}
