package console

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay/store"
)

// roomCache keeps each incident's room as loaded after the store's
// latest change, so that every live page of an incident shares one load
// per change.
type roomCache struct {
	mu    sync.Mutex
	rooms map[string]*cachedRoom
}

type cachedRoom struct {
	// valid is the store's change channel taken before the load: the
	// room is current while it is open.
	valid <-chan struct{}
	once  sync.Once
	rs    *roomState
	err   error
}

// maxCachedRooms bounds the cache; past it, it starts again empty.
const maxCachedRooms = 256

func newRoomCache() *roomCache { return &roomCache{rooms: map[string]*cachedRoom{}} }

func (rc *roomCache) get(st *store.Store, id string, load func(string) (*roomState, error)) (*roomState, error) {
	rc.mu.Lock()
	cr := rc.rooms[id]
	if cr != nil {
		select {
		case <-cr.valid:
			cr = nil
		default:
		}
	}
	if cr == nil {
		if len(rc.rooms) >= maxCachedRooms {
			rc.rooms = map[string]*cachedRoom{}
		}
		cr = &cachedRoom{valid: st.Changes()}
		rc.rooms[id] = cr
	}
	rc.mu.Unlock()
	cr.once.Do(func() { cr.rs, cr.err = load(id) })
	if cr.err != nil {
		rc.mu.Lock()
		if rc.rooms[id] == cr {
			delete(rc.rooms, id)
		}
		rc.mu.Unlock()
	}
	return cr.rs, cr.err
}

// streams bounds the live streams, in total and per session.
type streams struct {
	mu         sync.Mutex
	total      int
	max, per   int
	perSession map[string]int
}

func newStreams(max, per int) *streams {
	return &streams{max: max, per: per, perSession: map[string]int{}}
}

func (s *streams) acquire(session string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.max || s.perSession[session] >= s.per {
		return false
	}
	s.total++
	s.perSession[session]++
	return true
}

func (s *streams) release(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.perSession[session]--; s.perSession[session] <= 0 {
		delete(s.perSession, session)
	}
}

// livePart is one part of the room a stream sends again when it
// changes.
type livePart struct {
	ID   string `json:"id"`
	HTML string `json:"html"`
}

// live streams the room's parts (timeline, roll-call tally, delivery
// matrix) as server-sent events whenever they change, at most once per
// RenderEvery; a heartbeat comment every Heartbeat; and a fresh hand-off
// every HandoffEvery, which the page keeps to continue on another node.
func (c *Console) live(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	if _, ok := c.roomOr404(w, r, u); !ok {
		return
	}
	key := u.actor()
	if u.person != nil {
		key = u.claims.ID
	}
	if !c.streams.acquire(key) {
		w.Header().Set("Retry-After", "30")
		c.fail(w, r, u, http.StatusTooManyRequests, "error.streams", "")
		return
	}
	defer c.streams.release(key)
	c.wg.Add(1)
	defer c.wg.Done()
	c.m.streams.Inc()
	defer c.m.streams.Dec()

	rc := http.NewResponseController(w)
	// The server's ReadTimeout would end the stream: nothing more is read.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event, data string) bool {
		rc.SetWriteDeadline(time.Now().Add(c.opts.Heartbeat + 10*time.Second))
		if event != "" {
			fmt.Fprintf(w, "event: %s\n", event)
		}
		_, err := fmt.Fprintf(w, "data: %s\n\n", data)
		return err == nil && rc.Flush() == nil
	}
	handoff := func() bool {
		if u.person == nil {
			return true
		}
		peers, _ := json.Marshal(c.peers())
		return send("peers", string(peers)) && send("handoff", c.n.Tokens().Handoff(u.claims, c.handoffTTL()))
	}
	// Send the node's name and retry delay first, and the first hand-off.
	rc.SetWriteDeadline(time.Now().Add(c.opts.Heartbeat + 10*time.Second))
	fmt.Fprintf(w, "retry: 2000\n")
	if !send("node", c.n.Name()) || !handoff() {
		return
	}

	lang := c.lang(r, u)
	sent := map[string][32]byte{}
	beat := time.NewTicker(c.opts.Heartbeat)
	defer beat.Stop()
	renew := time.NewTicker(c.opts.HandoffEvery)
	defer renew.Stop()
	var last time.Time
	st := c.n.Store()
	for {
		changed := st.Changes()
		if !c.pushParts(r, u, id, lang, sent, send) {
			return
		}
		last = time.Now()
	wait:
		for {
			select {
			case <-r.Context().Done():
				return
			case <-c.done:
				send("bye", "")
				return
			case <-st.Done():
				return
			case <-beat.C:
				rc.SetWriteDeadline(time.Now().Add(c.opts.Heartbeat + 10*time.Second))
				if _, err := fmt.Fprint(w, ": beat\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-renew.C:
				if !handoff() {
					return
				}
			case <-changed:
				break wait
			}
		}
		if wait := c.opts.RenderEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-c.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

func (c *Console) handoffTTL() time.Duration { return 10 * time.Minute }

// pushParts renders the room's parts and sends those that changed since
// the last send. It ends the stream when the session ended or the
// incident is gone.
func (c *Console) pushParts(r *http.Request, u *user, id, lang string, sent map[string][32]byte, send func(string, string) bool) bool {
	if u.person != nil && c.n.SessionRevoked(u.claims) {
		send("ended", "")
		return false
	}
	rs, err := c.room(id)
	if err != nil {
		c.log.Warn("live room failed to load", "incident", id, "err", err)
		send("ended", "")
		return false
	}
	c.m.renders.Inc()
	v := &view{Lang: lang, User: u, Node: c.n.Name(), cat: catalogue[lang], Data: rs.forViewer(u, c.opts.MatrixRows)}
	for _, p := range []struct{ id, tmpl string }{{"timeline", "timeline"}, {"tally", "tally"}, {"matrix-part", "matrix"}} {
		html, err := c.fragment("room", p.tmpl, v)
		if err != nil {
			c.log.Error("live part failed to render", "part", p.id, "err", err)
			return false
		}
		sum := sha256.Sum256([]byte(html))
		if prev, ok := sent[p.id]; ok && prev == sum {
			continue
		}
		b, _ := json.Marshal(livePart{ID: p.id, HTML: html})
		if !send("part", string(b)) {
			return false
		}
		sent[p.id] = sum
	}
	return true
}
