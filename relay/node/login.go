package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"fmt"
	"hash/maphash"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oob-relay/relay/relay"
)

// Console configures the node's side of the web console: how long
// sessions and personal links last, and whether deliveries carry links.
type Console struct {
	// SessionTTL is how long a login session lasts; zero means
	// DefaultSessionTTL.
	SessionTTL time.Duration
	// LinkTTL is how long a personal link opens its incident room; zero
	// means DefaultLinkTTL.
	LinkTTL time.Duration
	// NoLinks keeps personal links out of SMS and mail.
	NoLinks bool
	// AuditKeep is how long an entry of the audit trail is kept; zero
	// keeps everything.
	AuditKeep time.Duration
}

// Lifetimes of console tokens.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultLinkTTL    = 24 * time.Hour
	HandoffTTL        = 10 * time.Minute
)

// Limits on codes sent. Past them StartLogin and SendChallenge answer a
// *relay.RateLimitError.
const (
	// CodesPerPerson codes may go to one person per CodeWindow, counted
	// on every node through the log.
	CodesPerPerson = 3
	// CodesPerAddress codes may be asked for from one client address per
	// CodeWindow.
	CodesPerAddress = 10
	CodeWindow      = 10 * time.Minute
	// codeSendTimeout bounds one provider's attempt at sending a code.
	codeSendTimeout = 15 * time.Second
	// maxLimitKeys bounds the keys each in-memory limit keeps.
	maxLimitKeys = 100_000
)

// MinLoginAnswer is the least time StartLogin takes to answer: more
// than writing a challenge takes on a loaded node (a few milliseconds),
// so that known and unknown contacts answer alike.
const MinLoginAnswer = 50 * time.Millisecond

// padAnswer waits until min has passed since start, or ctx is done.
func padAnswer(ctx context.Context, start time.Time, min time.Duration) {
	t := time.NewTimer(min - time.Since(start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// LinkPath is the path, under a node's public URL, of personal links:
// LinkPath + token.
const LinkPath = "/l/"

func (c *Console) setDefaults() {
	c.SessionTTL = cmp.Or(c.SessionTTL, DefaultSessionTTL)
	c.LinkTTL = cmp.Or(c.LinkTTL, DefaultLinkTTL)
}

// SessionTTL returns how long a login session lasts on this node.
func (n *Node) SessionTTL() time.Duration { return n.opts.Console.SessionTTL }

// logins holds what login keeps in memory: limits this node counts
// itself (on top of what the log shows), and the sends in flight.
type logins struct {
	// sends counts codes asked for, by "p:"+person (or "c:"+contact for
	// an unknown contact) and by client address.
	sends, addrSends *windows
	// wrong counts wrong codes for challenges the log does not know, by
	// client address.
	wrong *windows
	locks [64]sync.Mutex
	seed  maphash.Seed

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sent     *prometheus.CounterVec
	attempts *prometheus.CounterVec
}

// Results of typing a code, the label values of relay_login_attempts_total.
var attemptResults = []string{"ok", "wrong", "expired", "locked"}

func newLogins(reg prometheus.Registerer) *logins {
	l := &logins{
		sends:     newWindows(CodesPerPerson, CodeWindow),
		addrSends: newWindows(CodesPerAddress, CodeWindow),
		wrong:     newWindows(relay.MaxAddressFailures, relay.AddressWindow),
		seed:      maphash.MakeSeed(),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_login_codes_sent_total",
			Help: "One-time codes handed to a provider, by channel and result (sent, or failed on every provider)."}, []string{"channel", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relay_login_attempts_total",
			Help: "Codes typed back, by result: ok, wrong, expired (or used), locked (refused unread)."}, []string{"result"}),
	}
	for _, ch := range []string{relay.ChannelSMS, relay.ChannelVoice, relay.ChannelEmail} {
		for _, r := range []string{"sent", "failed"} {
			l.sent.WithLabelValues(ch, r)
		}
	}
	for _, r := range attemptResults {
		l.attempts.WithLabelValues(r)
	}
	reg.MustRegister(l.sent, l.attempts)
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// stop cancels the sends in flight and waits for them.
func (l *logins) stop() {
	l.cancel()
	l.wg.Wait()
}

// StartLogin begins a login for contact, a phone number (any usual
// format) or an email address: it finds the person in the roster the
// deliveries use (Roster) and sends a fresh 6-digit code to that contact
// over the person's channels that reach it, in the person's order, until
// a provider takes it (a phone number: SMS, else a call that reads the
// digits; an address: mail). The code goes out in the background; the
// challenge is in the log before StartLogin returns, so FinishLogin works
// on any node.
//
// An unknown contact, or one none of the node's providers can reach,
// gets a decoy challenge the browser cannot tell apart: same shape, the
// same masked contact in SentTo, no Person; nothing is sent or written.
// Every answer but a malformed contact's takes at least
// MinLoginAnswer, so that its time does not tell a known contact (whose
// challenge is written to disk first) from an unknown one.
// Codes are limited per person (CodesPerPerson, counted on every node)
// and per client address (CodesPerAddress): past a limit the error is a
// *relay.RateLimitError with RetryAfter. A contact that is neither a
// phone number nor an address is relay.ErrContactFormat.
func (n *Node) StartLogin(ctx context.Context, contact string, from netip.Addr) (relay.Challenge, error) {
	c, err := relay.ParseContact(contact)
	if err != nil {
		return relay.Challenge{}, err
	}
	defer padAnswer(ctx, time.Now(), MinLoginAnswer)
	now := n.opts.Now()
	addr := addrKey(from)
	if err := n.addressSendLimit(addr, now); err != nil {
		return relay.Challenge{}, err
	}
	p, dests, shown, err := n.loginDestinations(c)
	if err != nil {
		return relay.Challenge{}, err
	}
	if p == nil || len(dests) == 0 {
		// A decoy: limited as a person would be, by what was typed.
		if retry, ok := n.login.sends.take("c:"+c.Email+c.Phone+c.National, now); !ok {
			return relay.Challenge{}, &relay.RateLimitError{What: "person", RetryAfter: retry}
		}
		return relay.Challenge{ID: newChallengeID(), SentTo: []string{shown}, Expires: now.Add(relay.CodeTTL),
			Purpose: relay.PurposeLogin}, nil
	}
	ch, err := n.sendChallenge(ctx, relay.PurposeLogin, p, dests, from, now)
	if err != nil {
		return relay.Challenge{}, err
	}
	// The browser sees what was typed, masked, whichever channel takes
	// the code: a decoy shows the same.
	ch.SentTo = []string{shown}
	return ch, nil
}

// loginDestinations finds the person whose phone or address is c and
// the destinations of theirs that reach c, in their order, on channels
// this node has providers for; shown is c masked.
func (n *Node) loginDestinations(c relay.Contact) (p *relay.Person, dests []relay.Destination, shown string, err error) {
	r, err := n.Roster()
	if err != nil {
		return nil, nil, "", err
	}
	for i := range r.People {
		q := &r.People[i]
		if c.Email != "" && c.MatchesEmail(q.Email) || c.Email == "" && c.MatchesPhone(q.Phone) {
			if p != nil {
				// Two people share a national number across countries:
				// neither is logged in by it.
				return nil, nil, maskTyped(c), nil
			}
			p = q
		}
	}
	if p == nil {
		return nil, nil, maskTyped(c), nil
	}
	have := n.Channels()
	for _, ch := range p.ContactChannels() {
		if !slices.Contains(have, ch) {
			continue
		}
		switch {
		case ch == relay.ChannelEmail && c.Email != "":
			dests = append(dests, relay.Destination{Channel: ch, Address: p.Email})
		case (ch == relay.ChannelSMS || ch == relay.ChannelVoice) && c.Email == "":
			dests = append(dests, relay.Destination{Channel: ch, Address: p.Phone})
		}
	}
	if c.Email != "" {
		return p, dests, relay.MaskEmail(p.Email), nil
	}
	return p, dests, relay.MaskPhone(p.Phone), nil
}

// maskTyped masks a contact as typed, as loginDestinations masks a
// person's: a national number is shown as Korean, relay's default.
func maskTyped(c relay.Contact) string {
	switch {
	case c.Email != "":
		return relay.MaskEmail(c.Email)
	case c.Phone != "":
		return relay.MaskPhone(c.Phone)
	}
	return relay.MaskPhone("+82" + c.National)
}

// SendChallenge sends a fresh one-time code for purpose to person over
// the destinations to, in order, until one provider takes it (a contact
// change sends to the one new address only), records the challenge in
// the replicated log and returns it, with SentTo the destinations
// masked. The code goes out in the background, each attempt bounded by a
// timeout, straight through the node's providers: never through the
// delivery engine, an incident or the delivery records. Codes are
// limited per person and per client address (from) as StartLogin's are.
func (n *Node) SendChallenge(ctx context.Context, purpose, person string, to []relay.Destination, from netip.Addr) (relay.Challenge, error) {
	if purpose != relay.PurposeLogin && purpose != relay.PurposeContact {
		return relay.Challenge{}, fmt.Errorf("purpose %q is not %q or %q", purpose, relay.PurposeLogin, relay.PurposeContact)
	}
	if len(to) == 0 || len(to) > relay.MaxCodeDestinations {
		return relay.Challenge{}, fmt.Errorf("a code goes to 1 to %d destinations, not %d", relay.MaxCodeDestinations, len(to))
	}
	for _, d := range to {
		if err := checkDestination(d); err != nil {
			return relay.Challenge{}, err
		}
	}
	r, err := n.Roster()
	if err != nil {
		return relay.Challenge{}, err
	}
	p, ok := r.Person(person)
	if !ok {
		return relay.Challenge{}, fmt.Errorf("person %q: %w", person, relay.ErrUnknownContact)
	}
	now := n.opts.Now()
	if err := n.addressSendLimit(addrKey(from), now); err != nil {
		return relay.Challenge{}, err
	}
	return n.sendChallenge(ctx, purpose, p, to, from, now)
}

// checkDestination refuses a destination no code can go to.
func checkDestination(d relay.Destination) error {
	switch d.Channel {
	case relay.ChannelSMS, relay.ChannelVoice:
		if !relay.ValidE164(d.Address) {
			return fmt.Errorf("%s: %q is not an E.164 phone number", d.Channel, relay.Printable(d.Address))
		}
	case relay.ChannelEmail:
		if c, err := relay.ParseContact(d.Address); err != nil || c.Email == "" {
			return fmt.Errorf("email: %q is not an email address", relay.Printable(d.Address))
		}
	default:
		return fmt.Errorf("channel %q carries no codes; sms, voice and email do", relay.Printable(d.Channel))
	}
	return nil
}

// addressSendLimit takes one code from the client address's allowance,
// or says when there is room again.
func (n *Node) addressSendLimit(addr string, now time.Time) error {
	if addr == "" {
		return nil
	}
	logged, err := n.store.CodeSteps(addr, true, relay.CodeIssued, now.Add(-CodeWindow))
	if err != nil {
		return err
	}
	if retry, ok := n.login.addrSends.takeWith(addr, now, logged); !ok {
		return &relay.RateLimitError{What: "address", RetryAfter: retry}
	}
	return nil
}

// sendChallenge records a new challenge for p and sends its code in the
// background; the caller checked the client address's allowance.
func (n *Node) sendChallenge(ctx context.Context, purpose string, p *relay.Person, to []relay.Destination, from netip.Addr, now time.Time) (relay.Challenge, error) {
	logged, err := n.store.CodeSteps(p.ID, false, relay.CodeIssued, now.Add(-CodeWindow))
	if err != nil {
		return relay.Challenge{}, err
	}
	if retry, ok := n.login.sends.takeWith("p:"+p.ID, now, logged); !ok {
		return relay.Challenge{}, &relay.RateLimitError{What: "person", RetryAfter: retry}
	}
	digits, salt := newCode(), make([]byte, relay.CodeSaltBytes)
	rand.Read(salt)
	ch := relay.Challenge{ID: newChallengeID(), Person: p.ID, Expires: now.Add(relay.CodeTTL), Purpose: purpose,
		To: slices.Clone(to)}
	for _, d := range to {
		ch.SentTo = append(ch.SentTo, d.Mask())
	}
	ev := &relay.CodeEvent{Challenge: ch.ID, Person: p.ID, Step: relay.CodeIssued, At: now.UTC(), From: addrKey(from),
		Purpose: purpose, Salt: salt, Hash: codeHash(salt, digits), SentTo: ch.SentTo, To: ch.To, Expires: ch.Expires.UTC()}
	if _, err := n.store.Append(ctx, relay.Event{Code: ev}); err != nil {
		return relay.Challenge{}, err
	}
	code := &relay.OneTimeCode{Digits: digits, Purpose: purpose, Issued: now, Expires: ch.Expires}
	person := *p
	n.login.wg.Add(1)
	go func() {
		defer n.login.wg.Done()
		n.sendCode(n.login.ctx, ch.ID, &person, code, to)
	}()
	return ch, nil
}

// sendCode hands code to the providers of each destination in turn until
// one takes it. It logs where the code went, never the code.
func (n *Node) sendCode(ctx context.Context, challenge string, p *relay.Person, code *relay.OneTimeCode, to []relay.Destination) {
	for _, d := range to {
		person := relay.Person{ID: p.ID, Name: p.Name, Lang: p.Lang}
		if d.Channel == relay.ChannelEmail {
			person.Email = d.Address
		} else {
			person.Phone = d.Address
		}
		out := &relay.Outgoing{DeliveryID: "code-" + challenge + "-" + d.Channel, Channel: d.Channel, Attempt: 1,
			Person: &person, Code: code}
		for _, pr := range n.opts.Providers {
			if pr.Channel != d.Channel {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, codeSendTimeout)
			_, err := pr.Sender.Send(actx, out)
			cancel()
			if err == nil {
				n.login.sent.WithLabelValues(d.Channel, "sent").Inc()
				n.log.Info("one-time code sent", "person", p.ID, "purpose", code.Purpose, "channel", d.Channel, "provider", pr.Name)
				return
			}
			n.log.Warn("one-time code not taken by provider; trying the next", "person", p.ID, "channel", d.Channel,
				"provider", pr.Name, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
		n.login.sent.WithLabelValues(d.Channel, "failed").Inc()
	}
	n.log.Warn("one-time code could not be sent on any channel", "person", p.ID, "purpose", code.Purpose)
}

// FinishLogin takes the code typed for a login challenge and returns the
// person it proves: CheckChallenge for relay.PurposeLogin.
func (n *Node) FinishLogin(ctx context.Context, challenge, code string, from netip.Addr) (person string, err error) {
	ch, err := n.CheckChallenge(ctx, relay.PurposeLogin, challenge, code, from)
	if err != nil {
		return "", err
	}
	return ch.Person, nil
}

// CheckChallenge takes the code typed for challenge id of purpose and
// returns the challenge with its Person and To. A code is taken once
// (a used event in the log), for relay.CodeTTL, on any node that holds
// the challenge; two nodes given the same right code at the same moment
// may both take it, before either hears of the other's use.
//
// A wrong code is an event too: after relay.MaxCodeFailures wrong codes
// for a person within relay.LockoutWindow (counted on every node, and
// reset by a code taken), or relay.MaxAddressFailures from one client
// address in relay.AddressWindow, every code is refused unread with
// relay.ErrLockedOut in a *relay.RateLimitError until the window lets
// the oldest go; nothing more is written for them meanwhile. Errors are
// relay.ErrCodeWrong (also for an unknown challenge), ErrCodeExpired
// (also for a used one) and ErrLockedOut; none holds the code.
func (n *Node) CheckChallenge(ctx context.Context, purpose, id, code string, from netip.Addr) (relay.Challenge, error) {
	now := n.opts.Now()
	addr := addrKey(from)
	if retry, locked, err := n.addressLocked(addr, now); err != nil {
		return relay.Challenge{}, err
	} else if locked {
		n.login.attempts.WithLabelValues("locked").Inc()
		return relay.Challenge{}, &relay.RateLimitError{What: "lockout", RetryAfter: retry, Err: relay.ErrLockedOut}
	}
	if !relay.ValidID(id) {
		return relay.Challenge{}, n.unknownChallenge(addr, now)
	}
	mu := &n.login.locks[maphash.String(n.login.seed, id)%uint64(len(n.login.locks))]
	mu.Lock()
	defer mu.Unlock()
	rec, ok, err := n.store.Challenge(id)
	if err != nil {
		return relay.Challenge{}, err
	}
	if !ok || !rec.Issued {
		return relay.Challenge{}, n.unknownChallenge(addr, now)
	}
	if retry, locked, err := n.personLocked(rec.Person, now); err != nil {
		return relay.Challenge{}, err
	} else if locked {
		n.login.attempts.WithLabelValues("locked").Inc()
		return relay.Challenge{}, &relay.RateLimitError{What: "lockout", RetryAfter: retry, Err: relay.ErrLockedOut}
	}
	if rec.Used || !now.Before(rec.Expires) {
		n.login.attempts.WithLabelValues("expired").Inc()
		return relay.Challenge{}, relay.ErrCodeExpired
	}
	digits, wellFormed := normalizeCode(code)
	if !wellFormed || rec.Purpose != purpose || subtle.ConstantTimeCompare(codeHash(rec.Salt, digits), rec.Hash) != 1 {
		n.login.attempts.WithLabelValues("wrong").Inc()
		ev := &relay.CodeEvent{Challenge: id, Person: rec.Person, Step: relay.CodeFailed, At: now.UTC(), From: addr}
		if _, err := n.store.Append(ctx, relay.Event{Code: ev}); err != nil {
			return relay.Challenge{}, err
		}
		if _, locked, err := n.personLocked(rec.Person, now); err == nil && locked {
			n.log.Warn("too many wrong codes: person locked out", "person", rec.Person, "for", relay.LockoutWindow)
			_ = n.Audit(ctx, relay.AuditEntry{At: now, Actor: rec.Person, Action: "login.lockout", Target: rec.Person,
				Detail: fmt.Sprintf("%d wrong codes", relay.MaxCodeFailures), Address: addr})
		}
		return relay.Challenge{}, relay.ErrCodeWrong
	}
	ev := &relay.CodeEvent{Challenge: id, Person: rec.Person, Step: relay.CodeUsed, At: now.UTC(), From: addr}
	if _, err := n.store.Append(ctx, relay.Event{Code: ev}); err != nil {
		return relay.Challenge{}, err
	}
	n.login.attempts.WithLabelValues("ok").Inc()
	return relay.Challenge{ID: id, Person: rec.Person, SentTo: rec.SentTo, Expires: rec.Expires, Purpose: rec.Purpose,
		To: rec.To}, nil
}

// unknownChallenge counts a code typed for a challenge the log does not
// know (a decoy's, or none) against the client address, in memory: such
// codes write nothing.
func (n *Node) unknownChallenge(addr string, now time.Time) error {
	n.login.attempts.WithLabelValues("wrong").Inc()
	if addr != "" {
		n.login.wrong.add(addr, now)
	}
	return relay.ErrCodeWrong
}

// personLocked reports whether person has relay.MaxCodeFailures wrong
// codes within relay.LockoutWindow since their last code taken, and how
// long until the oldest of them leaves the window.
func (n *Node) personLocked(person string, now time.Time) (time.Duration, bool, error) {
	since := now.Add(-relay.LockoutWindow)
	used, err := n.store.CodeSteps(person, false, relay.CodeUsed, since)
	if err != nil {
		return 0, false, err
	}
	if len(used) > 0 {
		since = used[len(used)-1].Add(time.Nanosecond)
	}
	failed, err := n.store.CodeSteps(person, false, relay.CodeFailed, since)
	if err != nil || len(failed) < relay.MaxCodeFailures {
		return 0, false, err
	}
	return failed[len(failed)-relay.MaxCodeFailures].Add(relay.LockoutWindow).Sub(now), true, nil
}

// addressLocked is personLocked for a client address: wrong codes in
// the log and, for unknown challenges, in memory.
func (n *Node) addressLocked(addr string, now time.Time) (time.Duration, bool, error) {
	if addr == "" {
		return 0, false, nil
	}
	failed, err := n.store.CodeSteps(addr, true, relay.CodeFailed, now.Add(-relay.AddressWindow))
	if err != nil {
		return 0, false, err
	}
	all := append(failed, n.login.wrong.times(addr, now)...)
	if len(all) < relay.MaxAddressFailures {
		return 0, false, nil
	}
	slices.SortFunc(all, time.Time.Compare)
	return all[len(all)-relay.MaxAddressFailures].Add(relay.AddressWindow).Sub(now), true, nil
}

// addrKey is the client address as limits and events name it; "" when
// unknown.
func addrKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().WithZone("").String()
}

// newCode returns a random code of relay.CodeDigits digits.
func newCode() string {
	v, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand never fails on a supported system
	}
	return fmt.Sprintf("%06d", v.Int64())
}

// newChallengeID returns a random challenge id: 32 hex digits.
func newChallengeID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// codeHash is SHA-256 of the salt followed by the code's digits.
func codeHash(salt []byte, digits string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(digits))
	return h.Sum(nil)
}

// normalizeCode returns the digits of a typed code, spaces and dashes
// dropped, and whether that makes relay.CodeDigits digits.
func normalizeCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	d := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	if len(d) != relay.CodeDigits {
		return "", false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return d, true
}
