package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// Self-service contacts: a person's own phone or email, verified by a
// code sent to the new address before it is used, kept in the log as a
// layer over the applied roster (relay.ContactChange). Roster returns
// the applied roster with the layer on top; everything that finds people
// (audiences, deliveries, login, replies) reads it.

// MaxPendingContacts is how many contact changes a person may have
// waiting for their code at once (on one node).
const MaxPendingContacts = 3

// ErrNoPerson is returned for a person the roster does not have.
var ErrNoPerson = fmt.Errorf("person %w", relay.ErrNotFound)

// InvalidContactError is a contact change refused for its content, each
// problem naming its field.
type InvalidContactError struct{ Problems []*relay.FieldError }

func (e *InvalidContactError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid contact change: " + strings.Join(parts, "; ")
}

// Unwrap returns the problems, each a *relay.FieldError.
func (e *InvalidContactError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

func invalidContact(field, format string, args ...any) error {
	return &InvalidContactError{[]*relay.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// Roster returns the roster in effect: the applied roster with the
// contact changes people made themselves on top (an empty roster when
// none was ever applied). Deliveries, audiences, login and replies use
// it. It is shared: read it, do not change it.
func (n *Node) Roster() (*relay.Roster, error) {
	r, _, _, err := n.store.EffectiveRoster()
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &relay.Roster{}
	}
	return r, nil
}

// AppliedRoster returns the roster as last applied (the roster file, or
// PUT /v1/roster), without the contact changes people made themselves.
func (n *Node) AppliedRoster() (*relay.Roster, error) {
	r, _, err := n.store.Roster()
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &relay.Roster{}
	}
	return r, nil
}

// ContactState is one contact change a person made themselves, and
// whether it is in effect.
type ContactState struct {
	relay.ContactChange
	// At is when it was made.
	At time.Time
	// InEffect is false when the roster file changed the same field
	// later: File is then what the file says, and what is used.
	InEffect bool
	File     string
}

// Contacts returns the contact changes people made themselves (of person
// only, unless person is empty), in person then kind order, each saying
// whether it is in effect.
func (n *Node) Contacts(person string) ([]ContactState, error) {
	_, conflicts, _, err := n.store.EffectiveRoster()
	if err != nil {
		return nil, err
	}
	layer, err := n.store.Contacts()
	if err != nil {
		return nil, err
	}
	out := []ContactState{}
	for _, c := range layer {
		if person != "" && c.Person != person {
			continue
		}
		s := ContactState{ContactChange: c.ContactChange, At: c.Clock.Time().UTC(), InEffect: true}
		if i := slices.IndexFunc(conflicts, func(x relay.ContactConflict) bool {
			return x.Change.Person == c.Person && x.Change.Kind == c.Kind
		}); i >= 0 {
			s.InEffect, s.File = false, conflicts[i].File
		}
		out = append(out, s)
	}
	return out, nil
}

// StartContactChange begins a change of person's phone (channel "phone",
// or "sms" or "voice") or email ("email") to address: it checks the
// address (a phone number in E.164 once read, an email address as
// net/mail parses it), sends a code to the new address only, and returns
// the challenge. Nothing changes until ConfirmContactChange takes the
// code. A person may have MaxPendingContacts changes waiting at once;
// codes are limited as logins' are (*relay.RateLimitError).
func (n *Node) StartContactChange(ctx context.Context, person, channel, address string, from netip.Addr) (relay.Challenge, error) {
	kind, ok := relay.ContactKind(channel)
	if !ok {
		return relay.Challenge{}, invalidContact("channel", "%s is not phone or email", quoteField(channel))
	}
	r, err := n.Roster()
	if err != nil {
		return relay.Challenge{}, err
	}
	p, ok := r.Person(person)
	if !ok {
		return relay.Challenge{}, ErrNoPerson
	}
	addr, err := relay.CheckContact(kind, address, p.Phone)
	if err != nil {
		var fe *relay.FieldError
		if errors.As(err, &fe) {
			return relay.Challenge{}, &InvalidContactError{[]*relay.FieldError{fe}}
		}
		return relay.Challenge{}, err
	}
	if strings.EqualFold(p.Contact(kind), addr) {
		return relay.Challenge{}, invalidContact("address", "is already %s's %s", person, kind)
	}
	for i := range r.People {
		if o := &r.People[i]; o.ID != person && strings.EqualFold(o.Contact(kind), addr) {
			return relay.Challenge{}, invalidContact("address", "is another person's %s; each person needs their own", kind)
		}
	}
	dest, err := n.contactChannel(kind)
	if err != nil {
		return relay.Challenge{}, err
	}
	now := n.opts.Now()
	if wait := n.contacts.reserve(person, now); wait > 0 {
		return relay.Challenge{}, &relay.RateLimitError{What: "contact", RetryAfter: wait}
	}
	ch, err := n.SendChallenge(ctx, relay.PurposeContact, person, []relay.Destination{{Channel: dest, Address: addr}}, from)
	if err != nil {
		n.contacts.release(person, now)
		return relay.Challenge{}, err
	}
	n.contacts.hold(person, now, ch.Expires)
	return ch, nil
}

// contactChannel is the channel a code for a new address of kind goes
// out on: SMS for a phone (voice when the node has no SMS), email.
func (n *Node) contactChannel(kind string) (string, error) {
	have := n.Channels()
	for _, ch := range []string{relay.ChannelSMS, relay.ChannelVoice, relay.ChannelEmail} {
		if k, _ := relay.ContactKind(ch); k == kind && slices.Contains(have, ch) {
			return ch, nil
		}
	}
	return "", invalidContact("channel", "this node has no channel that reaches a new %s to send its code", kind)
}

// ConfirmContactChange takes the code typed for a contact change's
// challenge: once it matches, the change is in the log and in effect on
// every node. A wrong code, one for another person, or one that expired
// changes nothing (relay.ErrCodeWrong, relay.ErrCodeExpired,
// relay.ErrLockedOut).
func (n *Node) ConfirmContactChange(ctx context.Context, person, challenge, code string, from netip.Addr) error {
	if !relay.ValidID(person) {
		return ErrNoPerson
	}
	// Another person's challenge is not theirs to take: refused before
	// its code is read, so that it stays for its person.
	if rec, ok, err := n.store.Challenge(challenge); err != nil {
		return err
	} else if ok && rec.Issued && (rec.Person != person || rec.Purpose != relay.PurposeContact) {
		return relay.ErrCodeWrong
	}
	ch, err := n.CheckChallenge(ctx, relay.PurposeContact, challenge, code, from)
	if err != nil {
		return err
	}
	if ch.Person != person || len(ch.To) != 1 {
		return relay.ErrCodeWrong
	}
	kind, ok := relay.ContactKind(ch.To[0].Channel)
	if !ok {
		return relay.ErrCodeWrong
	}
	n.contacts.done(person)
	return n.changeContact(ctx, person, kind, ch.To[0].Address, person)
}

// RemoveContact removes person's phone (channel "phone", "sms" or
// "voice") or email ("email"), over the applied roster; by is who asked
// (a person id, or "token:" and an API token's name). It is refused
// when the person has no such contact, or it is the last way to reach
// them.
func (n *Node) RemoveContact(ctx context.Context, person, channel, by string) error {
	kind, ok := relay.ContactKind(channel)
	if !ok {
		return invalidContact("channel", "%s is not phone or email", quoteField(channel))
	}
	r, err := n.Roster()
	if err != nil {
		return err
	}
	p, ok := r.Person(person)
	if !ok {
		return ErrNoPerson
	}
	if p.Contact(kind) == "" {
		return fmt.Errorf("%s of %s: %w", kind, person, relay.ErrNotFound)
	}
	other := relay.ContactEmail
	if kind == relay.ContactEmail {
		other = relay.ContactPhone
	}
	if p.Contact(other) == "" {
		return invalidContact("channel", "the %s is the only way to reach %s; add another first", kind, person)
	}
	return n.changeContact(ctx, person, kind, "", by)
}

// changeContact records a contact change, with what the applied roster
// says of the field now as its base. The audit trail is the caller's
// (the console, the API): it knows who acted and from where.
func (n *Node) changeContact(ctx context.Context, person, kind, address, by string) error {
	mu := &n.keyed[stripe("contact:"+person)]
	mu.Lock()
	defer mu.Unlock()
	applied, err := n.AppliedRoster()
	if err != nil {
		return err
	}
	base := ""
	if p, ok := applied.Person(person); ok {
		base = p.Contact(kind)
	}
	c := &relay.ContactChange{Person: person, Kind: kind, Address: address, Base: base, By: by}
	if _, err := n.store.Append(ctx, relay.Event{Contact: c}); err != nil {
		return err
	}
	n.log.Info("contact changed", "person", person, "kind", kind, "removed", address == "", "by", by)
	return nil
}

// quoteField quotes a value for an error message, cut when long.
func quoteField(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", relay.Printable(s))
}

// contactLimits counts, per person, the contact changes waiting for
// their code on this node. The zero value is ready; it forgets what
// expired, so it stays small.
type contactLimits struct {
	mu      sync.Mutex
	pending map[string][]time.Time // person → when each pending code expires
}

// reserve takes a place for a new pending change of person, or says how
// long until one frees.
func (l *contactLimits) reserve(person string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string][]time.Time{}
	}
	for p, exp := range l.pending {
		exp = slices.DeleteFunc(exp, func(t time.Time) bool { return !t.After(now) })
		if len(exp) == 0 {
			delete(l.pending, p)
		} else {
			l.pending[p] = exp
		}
	}
	exp := l.pending[person]
	if len(exp) >= MaxPendingContacts {
		return slices.MinFunc(exp, time.Time.Compare).Sub(now)
	}
	l.pending[person] = append(exp, now.Add(relay.CodeTTL))
	return 0
}

// release gives back a place reserve took at now for a code not sent.
func (l *contactLimits) release(person string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	exp := l.pending[person]
	if i := slices.Index(exp, now.Add(relay.CodeTTL)); i >= 0 {
		l.pending[person] = slices.Delete(exp, i, i+1)
	}
}

// hold sets the expiry of the place reserved at now to the code's.
func (l *contactLimits) hold(person string, now, expires time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	exp := l.pending[person]
	if i := slices.Index(exp, now.Add(relay.CodeTTL)); i >= 0 && !expires.IsZero() {
		exp[i] = expires
	}
}

// done forgets person's pending changes once one is confirmed.
func (l *contactLimits) done(person string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, person)
}
