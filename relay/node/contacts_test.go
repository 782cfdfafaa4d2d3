package node_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/delivery"
	"github.com/oob-relay/relay/relay/node"
)

// sentCode returns the one-time code in the last attempt rec took to
// address, or fails the test.
func sentCode(t *testing.T, rec *testkit.Sender, address string) string {
	t.Helper()
	var code string
	testkit.Eventually(t, 10*time.Second, "a code sent to "+address, func() bool {
		for _, out := range rec.Sent() {
			if out.Person != nil && (out.Person.Phone == address || out.Person.Email == address) && out.Code != nil {
				code = out.Code.Digits
			}
		}
		return code != ""
	})
	return code
}

// contactRoster is the roster file of the contact tests.
func contactRoster() *relay.Roster {
	return &relay.Roster{People: []relay.Person{
		{ID: "kim", Name: "김민준", Phone: "+821011112222", Email: "kim@example.com"},
		{ID: "lee", Name: "이서연", Phone: "+821033334444"},
	}}
}

// TestContactChangeAcrossNodes: a phone number verified on A is in effect
// on B, whose posts deliver to it and whose replies from it find the
// person; applying the roster file again on B keeps it; a file that
// changes the same number later wins.
func TestContactChangeAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recA, recB := &testkit.Sender{}, &testkit.Sender{}
	opts := func(rec *testkit.Sender) node.Options {
		return node.Options{
			Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: rec}},
			Deadline:  func(relay.Severity) time.Duration { return time.Minute },
			Roster:    contactRoster(),
		}
	}
	a := startMemberWith(t, "a", "", nil, opts(recA))
	b := startMemberWith(t, "b", a.ms.LocalAddr(), nil, opts(recB))
	settleMembership(t, a, b)
	from := netip.MustParseAddr("203.0.113.9")

	const newPhone = "+821055556666"
	ch, err := a.n.StartContactChange(ctx, "kim", "phone", "+82 10-5555-6666", from)
	if err != nil {
		t.Fatal(err)
	}
	code := sentCode(t, recA, newPhone)
	for _, out := range recA.Sent() {
		if out.Person != nil && out.Person.Phone == "+821011112222" {
			t.Fatalf("the code went to the old number too")
		}
	}
	if r, _ := a.n.Roster(); mustPerson(t, r, "kim").Phone != "+821011112222" {
		t.Fatal("the new number is in effect before its code came back")
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if err := a.n.ConfirmContactChange(ctx, "kim", ch.ID, wrong, from); !errors.Is(err, relay.ErrCodeWrong) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := a.n.ConfirmContactChange(ctx, "lee", ch.ID, code, from); err == nil {
		t.Fatal("kim's code changed lee's contacts")
	}
	if err := a.n.ConfirmContactChange(ctx, "kim", ch.ID, code, from); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "b has kim's new number", func() bool {
		r, err := b.n.Roster()
		return err == nil && mustPerson(t, r, "kim").Phone == newPhone
	})

	acc, err := b.n.Post(ctx, &relay.Post{Incident: "fire", Text: "2층 대피", Severity: relay.SeverityWarning, To: []string{"person:kim"}},
		node.Author{Name: "ops-bot"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := acc.Message.Recipients[0].Person.Phone; got != newPhone {
		t.Fatalf("the message resolved kim to %s", got)
	}
	id := relay.DeliveryID(acc.Message.ID, relay.ChannelSMS, "kim")
	testkit.Eventually(t, 10*time.Second, "the delivery sent", func() bool {
		for _, rec := range []*testkit.Sender{recA, recB} {
			for _, out := range rec.Sent() {
				if out.DeliveryID == id {
					return out.Person.Phone == newPhone
				}
			}
		}
		return false
	})
	if _, err := b.n.Receive(ctx, &relay.Inbound{Channel: relay.ChannelSMS, From: newPhone, Text: "확인했습니다", Incident: "fire"}); errors.Is(err, relay.ErrUnknownSender) {
		t.Fatal("a reply from the new number found nobody")
	}

	// The file applied again keeps the change; one that changes the
	// same number wins.
	if err := b.n.SetRoster(ctx, contactRoster(), "file"); err != nil {
		t.Fatal(err)
	}
	if r, _ := b.n.Roster(); mustPerson(t, r, "kim").Phone != newPhone {
		t.Fatal("applying the file again undid kim's change")
	}
	changed := contactRoster()
	changed.People[0].Phone = "+821077778888"
	if err := b.n.SetRoster(ctx, changed, "file"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "a has the file's number", func() bool {
		r, err := a.n.Roster()
		return err == nil && mustPerson(t, r, "kim").Phone == "+821077778888"
	})
	states, err := a.n.Contacts("kim")
	if err != nil || len(states) != 1 || states[0].InEffect || states[0].File != "+821077778888" {
		t.Fatalf("kim's changes: %+v, %v", states, err)
	}
}

func mustPerson(t *testing.T, r *relay.Roster, id string) *relay.Person {
	t.Helper()
	p, ok := r.Person(id)
	if !ok {
		t.Fatalf("no %s in the roster", id)
	}
	return p
}

// TestRemoveContact: removing an email takes it and its channel out of
// the roster in effect; removing the last way to reach someone is
// refused and changes nothing.
func TestRemoveContact(t *testing.T) {
	ctx := context.Background()
	ros := contactRoster()
	ros.People[0].Channels = []string{relay.ChannelEmail, relay.ChannelSMS}
	m := startMemberWith(t, "a", "", nil, node.Options{
		Providers: []delivery.Provider{{Name: "sms", Channel: relay.ChannelSMS, Sender: &testkit.Sender{}}},
		Deadline:  func(relay.Severity) time.Duration { return time.Minute },
		Roster:    ros,
	})
	if err := m.n.RemoveContact(ctx, "kim", "email", "admin"); err != nil {
		t.Fatal(err)
	}
	r, err := m.n.Roster()
	if err != nil {
		t.Fatal(err)
	}
	kim := mustPerson(t, r, "kim")
	if kim.Email != "" || len(kim.Channels) != 1 || kim.Channels[0] != relay.ChannelSMS {
		t.Fatalf("kim after removing the email: %+v", kim)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("the roster in effect does not validate: %v", err)
	}
	marks, _ := m.n.Store().Marks()
	var bad *node.InvalidContactError
	if err := m.n.RemoveContact(ctx, "kim", "phone", "admin"); !errors.As(err, &bad) {
		t.Fatalf("removing the last contact: %v", err)
	}
	if err := m.n.RemoveContact(ctx, "kim", "email", "admin"); !errors.Is(err, relay.ErrNotFound) {
		t.Fatalf("removing it twice: %v", err)
	}
	if err := m.n.RemoveContact(ctx, "choi", "email", "admin"); !errors.Is(err, node.ErrNoPerson) {
		t.Fatalf("an unknown person: %v", err)
	}
	if after, _ := m.n.Store().Marks(); len(after) != len(marks) || after[m.n.Store().Origin()] != marks[m.n.Store().Origin()] {
		t.Fatalf("refusals wrote to the log: %v → %v", marks, after)
	}
}
