package rosterdiff

import (
	"math"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/hlc"
)

// ContactDiff is a phone number or address a person changed themselves
// (relay.ContactChange) that a roster file does not have.
type ContactDiff struct {
	Person string `json:"person"`
	Kind   string `json:"kind"`
	// Address is the person's own (empty when they removed it); File is
	// what the file has.
	Address string `json:"address"`
	File    string `json:"file"`
	By      string `json:"by"`
	// Kept is true when applying the file leaves the person's change in
	// effect (the file has what the roster had when they made it); false
	// when the file changes the same field, so applying it replaces
	// their change.
	Kept bool `json:"kept"`
}

// Applied returns what would be in effect if file were applied now, with
// the contact changes people made themselves: each stays unless the file
// changes the same field (see relay.Roster.WithContacts).
func Applied(file *relay.Roster, changes []relay.ContactChange) *relay.Roster {
	layer := make([]relay.SelfContact, len(changes))
	for i, c := range changes {
		layer[i] = relay.SelfContact{ContactChange: c}
	}
	r, _ := file.WithContacts(layer, hlc.Timestamp(math.MaxUint64))
	return r
}

// Contacts lists the contact changes people made themselves that file
// does not have, for people file has, in the order of changes.
func Contacts(file *relay.Roster, changes []relay.ContactChange) []ContactDiff {
	var out []ContactDiff
	for _, c := range changes {
		p, ok := file.Person(c.Person)
		if !ok || p.Contact(c.Kind) == c.Address {
			continue
		}
		have := p.Contact(c.Kind)
		out = append(out, ContactDiff{Person: c.Person, Kind: c.Kind, Address: c.Address, File: have, By: c.By, Kept: have == c.Base})
	}
	return out
}
