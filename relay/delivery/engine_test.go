package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a Sender whose answers a test decides per delivery.
type scripted struct {
	mu      sync.Mutex
	calls   map[string]int
	order   []string
	answer  func(out *relay.Outgoing, call int) (relay.Receipt, error)
	started chan string
}

func newScripted(answer func(*relay.Outgoing, int) (relay.Receipt, error)) *scripted {
	return &scripted{calls: map[string]int{}, answer: answer}
}

func (s *scripted) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	s.mu.Lock()
	s.calls[out.DeliveryID]++
	n := s.calls[out.DeliveryID]
	s.order = append(s.order, out.DeliveryID)
	s.mu.Unlock()
	if s.started != nil {
		s.started <- out.DeliveryID
	}
	if s.answer == nil {
		return relay.Receipt{ProviderID: "id-" + out.DeliveryID}, nil
	}
	return s.answer(out, n)
}

func (s *scripted) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

type rig struct {
	t      *testing.T
	dir    string
	store  *store.Store
	engine *Engine
}

func newRig(t *testing.T, dir string, opts Options) *rig {
	t.Helper()
	s, err := store.Open(store.Options{Dir: dir, Node: "seoul"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Node = s, "seoul"
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2}
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, store: s, engine: e}
	t.Cleanup(r.close)
	return r
}

func (r *rig) close() {
	if r.engine == nil {
		return
	}
	r.engine.Stop(context.Background())
	r.store.Close()
	r.engine = nil
}

func message(id string, deadline time.Duration, people ...string) *relay.Message {
	now := time.Now()
	m := &relay.Message{ID: id, Incident: "fire", Text: "2층 대피", Severity: relay.SeverityCritical,
		Author: "bot", AcceptedAt: now, Deadline: now.Add(deadline)}
	for _, p := range people {
		m.Recipients = append(m.Recipients, relay.Recipient{Person: relay.Person{ID: p, Phone: "+821012345678"},
			Channels: []string{relay.ChannelSMS}})
	}
	return m
}

func (r *rig) post(m *relay.Message) {
	r.t.Helper()
	if _, err := r.store.Append(context.Background(), relay.Event{Message: m}); err != nil {
		r.t.Fatal(err)
	}
}

// settle waits until every delivery of msg is settled and returns them.
func (r *rig) settle(msgID string, within time.Duration) []relay.Delivery {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ds, err := r.store.Deliveries(msgID)
		if err != nil {
			r.t.Fatal(err)
		}
		all := len(ds) > 0
		for _, d := range ds {
			all = all && d.Status.Settled()
		}
		if all {
			return ds
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("deliveries of %s not settled within %v: %+v", msgID, within, ds)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEveryDeliverySentOnce(t *testing.T) {
	snd := newScripted(nil)
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}}, Workers: 4})
	var people []string
	for i := range 50 {
		people = append(people, fmt.Sprintf("p%d", i))
	}
	r.post(message("M1", time.Minute, people...))
	for _, d := range r.settle("M1", 5*time.Second) {
		if d.Status != relay.StatusSent || d.Attempts != 1 || d.Provider != "tw" || d.ProviderID != "id-"+d.ID || d.Owner != "seoul" {
			t.Errorf("delivery = %+v, want sent once by tw", d)
		}
		if n := snd.count(d.ID); n != 1 {
			t.Errorf("%s sent %d times", d.ID, n)
		}
	}
}

func TestTemporaryErrorsRetryThenSucceed(t *testing.T) {
	snd := newScripted(func(out *relay.Outgoing, call int) (relay.Receipt, error) {
		if call < 3 {
			return relay.Receipt{}, &relay.SendError{Reason: relay.ReasonProvider, Temporary: true, Code: "503", Err: errors.New("busy")}
		}
		return relay.Receipt{ProviderID: "ok"}, nil
	})
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}}})
	r.post(message("M1", time.Minute, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusSent || d.Attempts != 3 || d.Error != "" {
		t.Fatalf("delivery = %+v, want sent on attempt 3 with the error cleared", d)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	snd := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, &relay.SendError{Reason: relay.ReasonRecipient, Code: "21211", Err: errors.New("invalid number")}
	})
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}}})
	r.post(message("M1", time.Minute, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusFailed || d.Attempts != 1 || d.Reason != relay.ReasonRecipient || d.Code != "21211" {
		t.Fatalf("delivery = %+v, want failed after one attempt with reason recipient and code 21211", d)
	}
}

func TestRetriesStopAtDeadline(t *testing.T) {
	snd := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Temporary(relay.ReasonNetwork, errors.New("connection refused"))
	})
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}},
		Backoff: Backoff{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 1}})
	r.post(message("M1", 150*time.Millisecond, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	// It ends either on its last attempt (reason network) or when a
	// retry falls due after the deadline (reason expired); both keep the
	// provider's last error.
	if d.Status != relay.StatusFailed || (d.Reason != relay.ReasonNetwork && d.Reason != relay.ReasonExpired) ||
		!strings.Contains(d.Error, "connection refused") {
		t.Fatalf("delivery = %+v, want failed, keeping the last error", d)
	}
	// 150 ms of deadline at 20 ms spacing allows at most 8 attempts: no
	// tight loop, and more than one try.
	if d.Attempts < 2 || d.Attempts > 8 {
		t.Fatalf("attempts = %d, want between 2 and 8", d.Attempts)
	}
}

func TestSlowProviderTimesOut(t *testing.T) {
	hang := &hanging{}
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "slow", Channel: "sms", Sender: hang}},
		AttemptTimeout: 20 * time.Millisecond})
	r.post(message("M1", 200*time.Millisecond, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusFailed || (d.Reason != relay.ReasonTimeout && d.Reason != relay.ReasonExpired) {
		t.Fatalf("delivery = %+v, want failed by timeout", d)
	}
}

// ctxSender runs inner but returns as soon as ctx ends, as the Sender
// contract requires.
type ctxSender struct{ inner relay.Sender }

func (c *ctxSender) Send(ctx context.Context, out *relay.Outgoing) (relay.Receipt, error) {
	type res struct {
		r   relay.Receipt
		err error
	}
	ch := make(chan res, 1)
	go func() { r, err := c.inner.Send(ctx, out); ch <- res{r, err} }()
	select {
	case x := <-ch:
		return x.r, x.err
	case <-ctx.Done():
		return relay.Receipt{}, ctx.Err()
	}
}

// hanging never answers before its context ends.
type hanging struct{}

func (hanging) Send(ctx context.Context, _ *relay.Outgoing) (relay.Receipt, error) {
	<-ctx.Done()
	return relay.Receipt{}, ctx.Err()
}

func TestNextProviderAfterFailure(t *testing.T) {
	bad := newScripted(func(*relay.Outgoing, int) (relay.Receipt, error) {
		return relay.Receipt{}, relay.Temporary(relay.ReasonProvider, errors.New("500"))
	})
	good := newScripted(nil)
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{
		{Name: "primary", Channel: "sms", Sender: bad}, {Name: "secondary", Channel: "sms", Sender: good}}})
	r.post(message("M1", time.Minute, "kim"))
	d := r.settle("M1", 5*time.Second)[0]
	if d.Status != relay.StatusSent || d.Provider != "secondary" || d.Attempts != 2 {
		t.Fatalf("delivery = %+v, want sent by secondary on attempt 2", d)
	}
}

func TestResumeAfterRestart(t *testing.T) {
	dir := t.TempDir()
	block := make(chan struct{})
	snd := newScripted(nil)
	snd.started = make(chan string, 100)
	snd.answer = func(out *relay.Outgoing, call int) (relay.Receipt, error) {
		<-block
		return relay.Receipt{}, nil
	}
	hangUntil := &ctxSender{inner: snd}
	r := newRig(t, dir, Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: hangUntil}}, Workers: 2})
	r.post(message("M1", time.Minute, "a", "b", "c", "d", "e"))
	<-snd.started
	<-snd.started
	// Stop while two attempts hang: they are cancelled and stay claimed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	r.engine.Stop(ctx)
	cancel()
	close(block)
	r.store.Close()
	r.engine = nil

	snd2 := newScripted(nil)
	r2 := newRig(t, dir, Options{Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd2}}})
	ds := r2.settle("M1", 5*time.Second)
	for _, d := range ds {
		if d.Status != relay.StatusSent {
			t.Errorf("after restart %s is %s", d.ID, d.Status)
		}
	}
	if len(ds) != 5 {
		t.Fatalf("%d deliveries, want 5", len(ds))
	}
}

func TestHighPriorityOvertakesBacklog(t *testing.T) {
	// One worker and one claim in flight: the reply goes within the next
	// few sends, not after the remaining ~295 of the blast.
	if after := replyPosition(t, 300, Provider{Name: "tw", Channel: "sms", Rate: 200, Burst: 1}, 1); after > 5 {
		t.Fatalf("reply sent after %d sends of the blast that began once it was posted, want 5 at most", after)
	}
}

// replyPosition posts a blast to people persons through p with workers
// workers, then, once 5 sends started, a high-priority reply; it returns
// how many sends of the blast began between the reply's post returning
// and the reply's own send. Counting from the post's return, not from the
// fifth send, keeps a slow fsync (a loaded disk) out of the figure.
func replyPosition(t *testing.T, people int, p Provider, workers int) int {
	t.Helper()
	snd := newScripted(nil)
	snd.started = make(chan string, people+10)
	p.Sender = snd
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{p}, Workers: workers})
	var ids []string
	for i := range people {
		ids = append(ids, fmt.Sprintf("p%d", i))
	}
	r.post(message("BLAST", time.Minute, ids...))
	for range 5 {
		<-snd.started
	}
	reply := message("REPLY", time.Minute, "kim")
	reply.Priority = relay.PriorityHigh
	r.post(reply)
	snd.mu.Lock()
	posted := len(snd.order)
	snd.mu.Unlock()
	r.settle("REPLY", 5*time.Second)
	snd.mu.Lock()
	pos := -1
	for i, id := range snd.order {
		if id == relay.DeliveryID("REPLY", "sms", "kim") {
			pos = i
		}
	}
	snd.mu.Unlock()
	if pos < 0 {
		t.Fatal("the reply was never sent")
	}
	// The rest of the blast only has to end before the rig closes: a
	// loaded machine with the race detector sends it slowly.
	r.settle("BLAST", time.Minute)
	return max(pos-posted, 0)
}

// TestStopLeavesClaimedWorkForOthers: stopping finishes the attempts in
// flight but starts none of the deliveries claimed and not yet begun; it
// hands them back (pending, due now), so that another node, or this one
// after a restart, sends them without waiting for a lease or asking the
// provider first.
func TestStopLeavesClaimedWorkForOthers(t *testing.T) {
	release := make(chan struct{})
	snd := newScripted(func(out *relay.Outgoing, _ int) (relay.Receipt, error) {
		<-release // one slow attempt in flight per worker
		return relay.Receipt{ProviderID: "id-" + out.DeliveryID}, nil
	})
	snd.started = make(chan string, 100)
	r := newRig(t, t.TempDir(), Options{Workers: 2, Providers: []Provider{{Name: "tw", Channel: "sms", Sender: snd}}})
	var people []string
	for i := range 40 {
		people = append(people, fmt.Sprintf("p%02d", i))
	}
	r.post(message("M1", time.Hour, people...))
	// Both workers are in an attempt, and more deliveries are claimed.
	<-snd.started
	<-snd.started
	stopped := make(chan error, 1)
	go func() { stopped <- r.engine.Stop(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop still waiting after 5 s")
	}
	ds, err := r.store.Deliveries("M1")
	if err != nil {
		t.Fatal(err)
	}
	sent, pending := 0, 0
	for _, d := range ds {
		switch d.Status {
		case relay.StatusSent:
			sent++
		case relay.StatusPending:
			pending++
		default:
			t.Errorf("delivery %s left %s after Stop, want sent or handed back pending", d.ID, d.Status)
		}
	}
	if sent != 2 || sent+pending != 40 {
		t.Fatalf("after Stop: %d sent, %d pending; want the 2 in flight sent and the other 38 pending", sent, pending)
	}
	r.store.Close()
	r.engine = nil
}

// TestClaimsReachThePeersBeforeTheAttempt: on a channel whose provider
// can be asked about an attempt, the attempt of a claimed delivery waits
// until the peers hold the claim (Options.Copied), so a member taking
// over after this node's death finds it claimed and asks the provider
// before sending again. Mail, which cannot be asked, does not wait.
func TestClaimsReachThePeersBeforeTheAttempt(t *testing.T) {
	sms := &tracking{scripted: newScripted(nil)}
	mail := newScripted(nil)
	smsID, mailID := relay.DeliveryID("M1", relay.ChannelSMS, "p0"), relay.DeliveryID("M1", relay.ChannelEmail, "p0")
	asked := make(chan int, 1) // the SMS sent when Copied was first asked
	release := make(chan struct{})
	var once, freed sync.Once
	free := func() { freed.Do(func() { close(release) }) }
	// The peers hold nothing until release.
	copied := func(ctx context.Context, seq uint64) bool {
		once.Do(func() { asked <- sms.count(smsID) })
		select {
		case <-release:
			return true
		case <-ctx.Done():
			return false
		}
	}
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: relay.ChannelSMS, Sender: sms},
		{Name: "smtp", Channel: relay.ChannelEmail, Sender: mail}}, Workers: 2, Copied: copied})
	t.Cleanup(free) // runs before the rig stops, which waits for Copied
	m := message("M1", time.Minute, "p0")
	m.Recipients[0].Person.Email = "p0@example.com"
	m.Recipients[0].Channels = []string{relay.ChannelSMS, relay.ChannelEmail}
	r.post(m)
	select {
	case n := <-asked:
		if n != 0 {
			t.Fatalf("the peers were first asked to hold something after %d SMS", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the claim was never copied")
	}
	deadline := time.Now().Add(5 * time.Second)
	for mail.count(mailID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the mail waited for the SMS claim's copies")
		}
		time.Sleep(time.Millisecond)
	}
	if n := sms.count(smsID); n != 0 {
		t.Fatalf("SMS sent %d times while the peers did not hold its claim", n)
	}
	free()
	r.settle("M1", 5*time.Second)
	if n := sms.count(smsID); n != 1 {
		t.Errorf("SMS sent %d times", n)
	}
}

// TestSlowPeersDelayAnSMSRatherThanRepeatIt: when the peers take longer
// than one wait of Copied to confirm a claim, the SMS waits on, asking
// again, and goes out once they hold it; when they never confirm, it goes
// out once its claim is a quarter of the lease old, never held back for
// good by a peer that does not answer.
func TestSlowPeersDelayAnSMSRatherThanRepeatIt(t *testing.T) {
	for _, never := range []bool{false, true} {
		name := map[bool]string{false: "confirmed at the fourth wait", true: "never confirmed"}[never]
		t.Run(name, func(t *testing.T) {
			sms := &tracking{scripted: newScripted(nil)}
			id := relay.DeliveryID("M1", relay.ChannelSMS, "p0")
			var waits, sentEarly atomic.Int32
			var claim atomic.Uint64 // the first seq asked about: the claim's
			copied := func(ctx context.Context, seq uint64) bool {
				if claim.CompareAndSwap(0, seq); seq != claim.Load() {
					return true // the attempt's result, after the SMS
				}
				n := waits.Add(1)
				if sms.count(id) != 0 {
					sentEarly.Add(1)
				}
				select { // one wait of the node's copy timeout, short here
				case <-time.After(20 * time.Millisecond):
				case <-ctx.Done():
					return false
				}
				return !never && n >= 4
			}
			lease := 2 * time.Second
			r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "tw", Channel: relay.ChannelSMS, Sender: sms}},
				Workers: 1, Copied: copied, Lease: lease})
			start := time.Now()
			r.post(message("M1", time.Minute, "p0"))
			r.settle("M1", 10*time.Second)
			if n := sms.count(id); n != 1 {
				t.Fatalf("SMS sent %d times", n)
			}
			took := time.Since(start)
			switch {
			case sentEarly.Load() != 0:
				t.Errorf("the SMS went out before its claim's copy was confirmed (%d waits)", waits.Load())
			case !never && waits.Load() < 4:
				t.Errorf("%d waits for the claim's copy, want the SMS held until the fourth confirmed it", waits.Load())
			case never && took < lease/4:
				t.Errorf("the SMS went out after %v with its claim never confirmed, want at least a quarter of the lease (%v)", took, lease/4)
			}
		})
	}
}

// TestSlowPeersHoldBackAttemptsRatherThanLetMoreGoUnconfirmed: while the
// peers do not confirm the attempt results a node wrote, its lane makes
// no more attempts than it has tokens, however many times one wait of
// Copied runs out: the attempts a takeover after this node's death could
// repeat stay within the lane's slots. Once the peers confirm, the rest
// go out.
func TestSlowPeersHoldBackAttemptsRatherThanLetMoreGoUnconfirmed(t *testing.T) {
	mail := newScripted(nil)
	var confirming atomic.Bool
	var waits atomic.Int32
	copied := func(ctx context.Context, seq uint64) bool {
		if confirming.Load() {
			return true
		}
		waits.Add(1)
		select { // one wait of the node's copy timeout, short here
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
		return false
	}
	r := newRig(t, t.TempDir(), Options{Providers: []Provider{{Name: "smtp", Channel: relay.ChannelEmail, Sender: mail}},
		Workers: 1, Copied: copied, Lease: time.Hour})
	t.Cleanup(func() { confirming.Store(true) }) // runs before the rig stops
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%d", i)
	}
	m := message("M1", time.Minute, ids...)
	for i := range m.Recipients {
		m.Recipients[i].Person.Email = m.Recipients[i].Person.ID + "@example.com"
		m.Recipients[i].Channels = []string{relay.ChannelEmail}
	}
	r.post(m)
	slots := claimAhead // Workers × claimAhead on a lane without a rate limit
	sent := func() int {
		n := 0
		for _, rc := range m.Recipients {
			n += mail.count(relay.DeliveryID("M1", relay.ChannelEmail, rc.Person.ID))
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent() < slots && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Let one wait of Copied run out many times over.
	for start := waits.Load(); waits.Load() < start+20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := sent(); n != slots {
		t.Fatalf("%d mails sent while the peers confirmed no result, want the lane's %d slots", n, slots)
	}
	confirming.Store(true)
	for _, d := range r.settle("M1", 10*time.Second) {
		if n := mail.count(d.ID); n != 1 {
			t.Errorf("%s sent %d times", d.ID, n)
		}
	}
}
