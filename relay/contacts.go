package relay

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/oob-relay/relay/relay/hlc"
)

// Self-service contacts. A person may add, change or remove their own
// phone number or email address; a new one is used only after a code sent
// to it came back. Each change is a ContactChange in the log, kept apart
// from the roster file like the overrides of schedules: the roster in
// effect (Roster.WithContacts) is the applied roster with these changes
// on top, and applying the file again does not undo them.
//
// Who wins when the file changes the same field: a change records the
// file's value when it was made (Base). While the applied roster still
// says Base, the file has not touched the field since and the person's
// change stands. When the file says something else, the newer of the two
// wins by clock: a roster applied after the person's change replaces it
// (a ContactConflict says so), one applied before it does not.

// Contact kinds: the roster fields a person may change themselves.
const (
	// ContactPhone is the person's phone number, used by SMS and voice.
	ContactPhone = "phone"
	// ContactEmail is the person's email address.
	ContactEmail = "email"
)

// ContactKinds lists the contact kinds.
var ContactKinds = []string{ContactPhone, ContactEmail}

// ContactKind returns the contact kind a channel name stands for: "phone"
// (or "sms" and "voice", which use it) or "email".
func ContactKind(channel string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(channel)) {
	case ContactPhone, ChannelSMS, ChannelVoice:
		return ContactPhone, true
	case ContactEmail:
		return ContactEmail, true
	}
	return "", false
}

// ContactChange is a person's own change of one contact method, verified
// by a code sent to the new address, over the applied roster. The latest
// change of a person's kind (by event clock, then origin) is the one kept,
// whatever order changes arrive in.
type ContactChange struct {
	Person string `json:"person"`
	// Kind is ContactPhone or ContactEmail.
	Kind string `json:"kind"`
	// Address is the new number (E.164) or address; empty removes it.
	Address string `json:"address,omitempty"`
	// Base is what the applied roster said when the change was made.
	Base string `json:"base,omitempty"`
	// By names who made it: the person, or an API token's name.
	By string `json:"by"`
}

// Check says what is wrong with a change received from elsewhere.
func (c *ContactChange) Check() error {
	if !ValidID(c.Person) {
		return fmt.Errorf("contact change without a valid person")
	}
	if c.Kind != ContactPhone && c.Kind != ContactEmail {
		return fmt.Errorf("contact change of %s: kind %q is not phone or email", c.Person, Printable(c.Kind))
	}
	// Only the form is checked here: whether a number is in use is the
	// phone metadata's to say, which differs between releases, and a
	// change one node took must fold on every node.
	ok := true
	switch {
	case c.Address == "":
	case c.Kind == ContactPhone:
		ok = ValidE164(c.Address)
	default:
		a, err := mail.ParseAddress(c.Address)
		ok = err == nil && a.Name == "" && a.Address == c.Address && len(c.Address) <= maxEmailBytes && CheckLine("address", c.Address) == nil
	}
	if !ok {
		return fmt.Errorf("contact change of %s: %q is not a valid %s", c.Person, Printable(c.Address), c.Kind)
	}
	return nil
}

// SelfContact is a contact change as the store keeps it: the latest of a
// person's kind, with the clock and origin of its event.
type SelfContact struct {
	ContactChange
	Clock  hlc.Timestamp `json:"clock"`
	Origin string        `json:"origin"`
}

// Newer reports whether c was made after o (by clock, then origin).
func (c *SelfContact) Newer(o *SelfContact) bool {
	return c.Clock > o.Clock || (c.Clock == o.Clock && c.Origin > o.Origin)
}

// ContactConflict is a person's change that the roster file replaced:
// the file changed the same field after the person did.
type ContactConflict struct {
	Change SelfContact
	// File is what the applied roster says, and what is used.
	File string
}

// CheckContact returns the canonical form of a new phone number (E.164)
// or email address of kind, or an error naming what is wrong. A phone
// number may be written as people write them ("+82 10-1234-5678"); a
// number in local form ("010-1234-5678") is read in the country of
// current, the number it replaces, when there is one.
func CheckContact(kind, address, current string) (string, error) {
	if err := CheckLine("address", address); err != nil {
		return "", err
	}
	address = strings.TrimSpace(address)
	if address == "" {
		return "", &FieldError{"address", "is empty"}
	}
	switch kind {
	case ContactPhone:
		return checkPhone(address, current)
	case ContactEmail:
		if len(address) > maxEmailBytes {
			return "", &FieldError{"address", fmt.Sprintf("is %d bytes; the limit is %d", len(address), maxEmailBytes)}
		}
		a, err := mail.ParseAddress(address)
		if err != nil || a.Name != "" || a.Address != address || !strings.Contains(a.Address, "@") {
			return "", &FieldError{"address", fmt.Sprintf("%s is not a plain email address such as kim@example.com", quoteShort(address))}
		}
		return a.Address, nil
	}
	return "", &FieldError{"channel", fmt.Sprintf("%s is not phone or email", quoteShort(kind))}
}

// maxPhoneInput bounds a phone number as typed: 15 digits with room for
// spaces, dashes and brackets.
const maxPhoneInput = 32

func checkPhone(raw, current string) (string, error) {
	if len(raw) > maxPhoneInput {
		return "", &FieldError{"address", fmt.Sprintf("is %d bytes; a phone number is at most %d", len(raw), maxPhoneInput)}
	}
	region := ""
	if !strings.HasPrefix(raw, "+") {
		if cur, err := phonenumbers.Parse(current, ""); current != "" && err == nil {
			region = phonenumbers.GetRegionCodeForNumber(cur)
		}
		if region == "" {
			return "", &FieldError{"address", fmt.Sprintf("%s is in local form: write it with its country code, such as +82 10-1234-5678", quoteShort(raw))}
		}
	}
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", &FieldError{"address", fmt.Sprintf("%s is not a valid phone number (too short, too long or not in use)", quoteShort(raw))}
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if !ValidE164(e164) {
		return "", &FieldError{"address", fmt.Sprintf("%s is not a number SMS and voice can reach", quoteShort(raw))}
	}
	return e164, nil
}

// contactField returns the roster field of kind.
func contactField(p *Person, kind string) *string {
	if kind == ContactPhone {
		return &p.Phone
	}
	return &p.Email
}

// Contact returns the person's address of kind ("" when none).
func (p *Person) Contact(kind string) string {
	if kind != ContactPhone && kind != ContactEmail {
		return ""
	}
	return *contactField(p, kind)
}

// kindChannels lists the channels that use a contact kind.
func kindChannels(kind string) []string {
	if kind == ContactPhone {
		return []string{ChannelSMS, ChannelVoice}
	}
	return []string{ChannelEmail}
}

// WithContacts returns the roster with people's own contact changes on
// top (see ContactChange for who wins), and the changes the roster file
// replaced. Changes of people the roster no longer has are ignored. The
// roster is not changed: when no change applies it is returned itself,
// otherwise a copy. clock is when the roster was applied.
//
// A person's explicit channel list follows the changes: a removed
// address takes its channels out of it, an address the file did not have
// adds its first channel (sms, email) at the end when none of its
// channels is listed. A removal that would
// leave a person with no way to be reached is not applied.
func (r *Roster) WithContacts(layer []SelfContact, clock hlc.Timestamp) (*Roster, []ContactConflict) {
	var conflicts []ContactConflict
	var out *Roster
	index := map[string]int{}
	for i := range layer {
		c := &layer[i]
		if len(index) == 0 {
			for j := range r.People {
				index[r.People[j].ID] = j
			}
		}
		j, ok := index[c.Person]
		if !ok {
			continue
		}
		file := r.People[j].Contact(c.Kind)
		if file != c.Base && clock > c.Clock {
			if file != c.Address {
				conflicts = append(conflicts, ContactConflict{Change: *c, File: file})
			}
			continue
		}
		if file == c.Address {
			continue
		}
		cur := r
		if out != nil {
			cur = out
		}
		p := cur.People[j]
		p.Channels = withoutChannels(p.Channels, c.Kind, c.Address)
		if add := kindChannels(c.Kind)[0]; c.Address != "" && len(p.Channels) > 0 && !slices.ContainsFunc(p.Channels, func(ch string) bool { return slices.Contains(kindChannels(c.Kind), ch) }) {
			p.Channels = append(slices.Clone(p.Channels), add)
		}
		*contactField(&p, c.Kind) = c.Address
		if len(p.ContactChannels()) == 0 {
			continue // the last way to reach them stays
		}
		if out == nil {
			out = r.Clone()
		}
		out.People[j] = p
	}
	if out == nil {
		return r, conflicts
	}
	return out, conflicts
}

// withoutChannels returns channels without those of kind when address is
// empty, as a new slice; channels itself otherwise.
func withoutChannels(channels []string, kind, address string) []string {
	if address != "" || len(channels) == 0 {
		return channels
	}
	drop := kindChannels(kind)
	var out []string
	for _, ch := range channels {
		if !slices.Contains(drop, ch) {
			out = append(out, ch)
		}
	}
	return out
}
