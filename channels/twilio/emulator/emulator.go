package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// DefaultCallbackDelay is the time between two status steps of a message
// or a call when Options.CallbackDelay is zero: short enough for tests,
// long enough that steps arrive in order.
const DefaultCallbackDelay = 50 * time.Millisecond

// DefaultServiceFrom is the sender a messaging service picks from its pool
// when Options.ServiceFrom is empty. It is Twilio's magic test number.
const DefaultServiceFrom = "+15005550006"

// APIVersion is the only version of Twilio's REST API the emulator speaks.
const APIVersion = "2010-04-01"

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	alphanumeric      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Options configure an Emulator.
type Options struct {
	// Spec is Twilio's OpenAPI description. When set, every request and
	// every answer is checked against it, and mismatches are recorded as
	// violations. Nil turns the check off.
	Spec *Spec
	// Accounts maps account SIDs (AC + 32 hex digits) to their auth tokens
	// (letters and digits, as twilio-go requires). Requests must carry HTTP
	// basic auth matching one of them, and callbacks for an account are
	// signed with its token. At least one is required.
	Accounts map[string]string
	// Logger receives debug and warning logs; nil discards them.
	Logger *slog.Logger
	// Now tells the time for dates in answers and callbacks; nil means
	// time.Now.
	Now func() time.Time
	// CallbackClient posts status callbacks, answer and Gather webhooks and
	// inbound messages. Nil means a client of the emulator's own that
	// Close shuts down.
	CallbackClient *http.Client
	// CallbackDelay is the time between two status steps; zero means
	// DefaultCallbackDelay.
	CallbackDelay time.Duration
	// Seed makes random failures (RandomFailures) and SIDs reproducible.
	Seed uint64
	// ServiceFrom is the sender of messages sent through a messaging
	// service; empty means DefaultServiceFrom.
	ServiceFrom string
	// OnMessage, when set, is called with each message as it is accepted,
	// before the answer is sent, so a local demo can print it. Calls of
	// OnMessage and OnCall never overlap.
	OnMessage func(Message)
	// OnCall, when set, is called with each call as it is accepted.
	OnCall func(Call)
}

// Emulator is an HTTP server that answers like Twilio's REST API: it
// accepts messages and calls, reports their progress to status callbacks
// signed the way Twilio signs them, and fails on command. Its methods are
// safe for concurrent use.
type Emulator struct {
	opts    Options
	log     *slog.Logger
	client  *http.Client
	handler http.Handler

	ctx    context.Context // canceled by Close; every goroutine watches it
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers and background goroutines
	hookMu sync.Mutex     // serializes OnMessage and OnCall

	mu         sync.Mutex
	closed     bool
	srv        *http.Server
	ln         net.Listener
	rng        *rand.Rand
	requests   int
	violations []string
	messages   []*Message
	calls      []*Call
	changed    chan struct{} // closed and replaced whenever a record changes
	faults     faults
	// webhooks are the numbers' messaging webhooks; responders the
	// auto-responding phones and their texts; answering counts their
	// answers under way (autorespond.go).
	webhooks      map[string]messagingWebhook
	responders    map[string]string
	autoResponses []AutoResponse
	answering     int
}

// New returns an emulator. It serves nothing until Start, or until its
// Handler is mounted in another server.
func New(opts Options) (*Emulator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CallbackDelay == 0 {
		opts.CallbackDelay = DefaultCallbackDelay
	}
	if opts.ServiceFrom == "" {
		opts.ServiceFrom = DefaultServiceFrom
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := opts.CallbackClient
	if client == nil {
		client = &http.Client{
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
			// Twilio waits 15 seconds for a webhook to answer.
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Emulator{
		opts:    opts,
		log:     log,
		client:  client,
		ctx:     ctx,
		cancel:  cancel,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		changed: make(chan struct{}),
		faults:  newFaults(),

		webhooks:   map[string]messagingWebhook{},
		responders: map[string]string{},
	}
	e.handler = e.routes()
	return e, nil
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Accounts) == 0 {
		errs = append(errs, errors.New("emulator: at least one account is required"))
	}
	for sid, token := range o.Accounts {
		if !accountSIDPattern.MatchString(sid) {
			errs = append(errs, fmt.Errorf("emulator: account %q: SID must be AC followed by 32 hex digits", sid))
		}
		if !alphanumeric.MatchString(token) {
			errs = append(errs, fmt.Errorf("emulator: account %s: auth token must be letters and digits", sid))
		}
	}
	if o.CallbackDelay < 0 {
		errs = append(errs, errors.New("emulator: callback delay must not be negative"))
	}
	if o.ServiceFrom != "" && !e164.MatchString(o.ServiceFrom) {
		errs = append(errs, fmt.Errorf("emulator: service sender %q must be an E.164 number", o.ServiceFrom))
	}
	return errors.Join(errs...)
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves the
// API until Close.
func (e *Emulator) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           e.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	e.mu.Lock()
	if e.closed || e.srv != nil {
		e.mu.Unlock()
		ln.Close()
		return errors.New("emulator: already started or closed")
	}
	e.srv, e.ln = srv, ln
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Warn("twilio emulator stopped serving", "err", err)
		}
	}()
	return nil
}

// URL returns the base URL of the started server, such as
// http://127.0.0.1:41234, or "" before Start.
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln == nil {
		return ""
	}
	return "http://" + e.ln.Addr().String()
}

// Handler returns the API as an http.Handler, for mounting in another
// server. Close still stops its pending work.
func (e *Emulator) Handler() http.Handler { return e.handler }

// Close stops the server, abandons hanging and slow answers and pending
// callbacks, and returns when every goroutine the emulator started has
// ended. It is safe to call more than once.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	srv := e.srv
	e.mu.Unlock()

	e.cancel()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	e.wg.Wait()
	e.client.CloseIdleConnections()
	return err
}

// goTracked runs f in a goroutine that Close waits for. It reports false,
// and does not run f, once Close has begun.
func (e *Emulator) goTracked(f func()) bool {
	if !e.track() {
		return false
	}
	go func() {
		defer e.wg.Done()
		f()
	}()
	return true
}

// track counts one unit of work Close must wait for; the caller ends it
// with e.wg.Done.
func (e *Emulator) track() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// Violations returns what the contract check found wrong, one line per
// request or answer that did not match Twilio's description.
func (e *Emulator) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.violations...)
}

// WaitRequests blocks until the emulator has received at least n API
// requests, or returns ctx's error.
func (e *Emulator) WaitRequests(ctx context.Context, n int) error {
	return e.wait(ctx, func() bool { return e.requests >= n })
}

// Requests returns how many API requests the emulator has received,
// including refused and failed ones.
func (e *Emulator) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

func (e *Emulator) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.log.Warn("twilio contract violation", "violation", msg)
	e.mu.Lock()
	e.violations = append(e.violations, msg)
	e.mu.Unlock()
}

// notifyLocked wakes every waiter; e.mu must be held.
func (e *Emulator) notifyLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// wait blocks until cond, called with e.mu held, reports true, or ctx or
// the emulator is done.
func (e *Emulator) wait(ctx context.Context, cond func() bool) error {
	for {
		e.mu.Lock()
		ok, changed := cond(), e.changed
		e.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ctx.Done():
			return errors.New("emulator: closed")
		}
	}
}

// sleep waits d, or returns false when ctx or the emulator is done first.
func (e *Emulator) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-e.ctx.Done():
		return false
	}
}

// sid returns a new SID with the given two-letter prefix.
func (e *Emulator) sid(prefix string) string {
	e.mu.Lock()
	a, b := e.rng.Uint64(), e.rng.Uint64()
	e.mu.Unlock()
	return fmt.Sprintf("%s%016x%016x", prefix, a, b)
}

func (e *Emulator) now() time.Time { return e.opts.Now().UTC() }

// hook calls f while holding the hook lock, so hooks run one at a time.
func (e *Emulator) hook(f func()) {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	f()
}
