package api

import (
	"net/http"
	"time"
)

// ClusterView is a node's view of its cluster.
type ClusterView struct {
	Self    string       `json:"self"`
	Ready   bool         `json:"ready"`
	Members []MemberView `json:"members"`
	// Store is what the answering node's store holds.
	Store StoreView `json:"store"`
	// Isolated is true when the answering node sees fewer than a majority
	// of the nodes its log knows alive, itself included: it is the one
	// cut off, and pages nobody about what it watches.
	Isolated bool `json:"isolated"`
}

// StoreView is what a node's store holds.
type StoreView struct {
	// Bytes is the size of its file; FreeBytes the free pages in it.
	Bytes     int64 `json:"bytes"`
	FreeBytes int64 `json:"free_bytes"`
	// Events counts the events its log keeps; OldestEvent is when the
	// oldest of them was written.
	Events      int        `json:"events"`
	OldestEvent *time.Time `json:"oldest_event,omitempty"`
	Messages    int        `json:"messages"`
}

// MemberView is one member as the answering node sees it.
type MemberView struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	State   string `json:"state"`
	API     string `json:"api,omitempty"`
	Self    bool   `json:"self"`
	// BehindEvents counts the answering node's events this member has
	// not confirmed: the replication lag towards it.
	BehindEvents uint64     `json:"behind_events"`
	AckedAt      *time.Time `json:"acked_at,omitempty"`
	// PendingDeliveries counts the unsettled deliveries the member owns.
	PendingDeliveries int `json:"pending_deliveries"`
	// Trusted says the member proved it holds a trusted node key: only
	// trusted members get events and share deliveries.
	Trusted bool `json:"trusted"`
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request) {
	st, err := a.opts.Node.Cluster()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	ss, err := a.opts.Node.StoreStats()
	if err != nil {
		a.failErr(w, r, err)
		return
	}
	v := ClusterView{Self: st.Self, Ready: st.Ready, Members: make([]MemberView, 0, len(st.Members)),
		Store:    StoreView{Bytes: ss.Bytes, FreeBytes: ss.Free, Events: ss.Events, Messages: ss.Messages},
		Isolated: a.opts.Node.Isolation().Isolated}
	if !ss.Oldest.IsZero() {
		t := ss.Oldest.UTC()
		v.Store.OldestEvent = &t
	}
	for _, m := range st.Members {
		mv := MemberView{Name: m.Name, Address: m.Addr, State: m.State, API: m.API, Self: m.Self,
			BehindEvents: m.Behind, PendingDeliveries: m.Pending, Trusted: m.Trusted}
		if !m.AckedAt.IsZero() {
			t := m.AckedAt
			mv.AckedAt = &t
		}
		v.Members = append(v.Members, mv)
	}
	writeJSON(w, http.StatusOK, v)
}
