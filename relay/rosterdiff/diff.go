// Package rosterdiff tells what replacing one roster with another would
// change: the entries of each list (people, groups, and any list a
// roster gains later) added, removed and changed, field by field.
//
// It works on the roster file's YAML form, not on Go fields: each
// top-level key whose value is a list of mappings with an id is compared
// entry by entry, by id; each field of an entry by its canonical YAML. A
// key that is not such a list is compared whole. So a section added to
// the roster is covered without a change here.
package rosterdiff

import (
	"bytes"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/relay"
)

// Diff is what replacing one roster with another changes, section by
// section in the roster file's order. Sections without changes are left
// out.
type Diff struct {
	Sections []Section `json:"sections"`
}

// Empty reports whether nothing would change.
func (d *Diff) Empty() bool { return len(d.Sections) == 0 }

// Section is what changes in one top-level key of the roster, such as
// "people" or "groups".
type Section struct {
	Name    string   `json:"name"`
	Added   []Entry  `json:"added,omitempty"`
	Removed []Entry  `json:"removed,omitempty"`
	Changed []Change `json:"changed,omitempty"`
	// Whole is set when the section is not a list of entries with ids,
	// so it is compared whole.
	Whole *Field `json:"whole,omitempty"`
}

// Entry is an entry added or removed, whole.
type Entry struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Value any    `json:"value"`
}

// Change is an entry that is in both rosters, with the fields that
// differ.
type Change struct {
	ID     string  `json:"id"`
	Name   string  `json:"name,omitempty"`
	Fields []Field `json:"fields"`
}

// Field is one field that differs. Old or New is absent when the field is
// absent on that side. A field whose order carries no meaning (a group's
// members) says instead which items are Added and Removed.
type Field struct {
	Field   string   `json:"field"`
	Old     any      `json:"old,omitempty"`
	New     any      `json:"new,omitempty"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// setFields are the fields, in any section, that are lists of ids whose
// order means nothing: only who is added or removed is told.
var setFields = map[string]bool{"members": true}

// Compare tells what replacing old with new would change. A nil roster
// is an empty one.
func Compare(old, new *relay.Roster) (*Diff, error) {
	if old == nil {
		old = &relay.Roster{}
	}
	if new == nil {
		new = &relay.Roster{}
	}
	return CompareValues(old, new)
}

// CompareValues is Compare for any two values whose YAML form is a
// mapping, such as a roster of a later release with more sections.
func CompareValues(old, new any) (*Diff, error) {
	a, err := sections(old)
	if err != nil {
		return nil, err
	}
	b, err := sections(new)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, kv := range b {
		names = append(names, kv.key)
	}
	for _, kv := range a {
		if !slices.Contains(names, kv.key) {
			names = append(names, kv.key)
		}
	}
	d := &Diff{Sections: []Section{}}
	for _, name := range names {
		s := compareSection(name, lookup(a, name), lookup(b, name))
		if len(s.Added)+len(s.Removed)+len(s.Changed) > 0 || s.Whole != nil {
			d.Sections = append(d.Sections, s)
		}
	}
	return d, nil
}

type keyed struct {
	key   string
	value *yaml.Node
}

func lookup(list []keyed, key string) *yaml.Node {
	for _, kv := range list {
		if kv.key == key {
			return kv.value
		}
	}
	return nil
}

// sections is the roster's YAML form as its top-level keys and values.
func sections(r any) ([]keyed, error) {
	var n yaml.Node
	if err := n.Encode(r); err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("roster: is a %s, not a mapping", n.Tag)
	}
	return pairs(&n), nil
}

// pairs lists the keys and values of a mapping node.
func pairs(n *yaml.Node) []keyed {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]keyed, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, keyed{n.Content[i].Value, n.Content[i+1]})
	}
	return out
}

func compareSection(name string, a, b *yaml.Node) Section {
	s := Section{Name: name}
	ea, okA := entries(a)
	eb, okB := entries(b)
	if !okA || !okB {
		if canonical(a) != canonical(b) {
			s.Whole = &Field{Field: name, Old: value(a), New: value(b)}
		}
		return s
	}
	old := make(map[string]*yaml.Node, len(ea))
	for _, e := range ea {
		old[e.key] = e.value
	}
	seen := make(map[string]bool, len(eb))
	for _, e := range eb {
		seen[e.key] = true
		was, ok := old[e.key]
		if !ok {
			s.Added = append(s.Added, Entry{ID: e.key, Name: scalar(e.value, "name"), Value: value(e.value)})
			continue
		}
		if fields := compareEntry(was, e.value); len(fields) > 0 {
			s.Changed = append(s.Changed, Change{ID: e.key, Name: scalar(e.value, "name"), Fields: fields})
		}
	}
	for _, e := range ea {
		if !seen[e.key] {
			s.Removed = append(s.Removed, Entry{ID: e.key, Name: scalar(e.value, "name"), Value: value(e.value)})
		}
	}
	return s
}

// entries lists a sequence of mappings by their ids; ok is false when n
// is not such a list (an entry without an id, or an id used twice). An
// absent section is an empty list.
func entries(n *yaml.Node) (list []keyed, ok bool) {
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	seen := make(map[string]bool, len(n.Content))
	for _, item := range n.Content {
		id := scalar(item, "id")
		if item.Kind != yaml.MappingNode || id == "" || seen[id] {
			return nil, false
		}
		seen[id] = true
		list = append(list, keyed{id, item})
	}
	return list, true
}

// compareEntry lists the fields of two entries that differ, in the new
// entry's order, then those only the old one has.
func compareEntry(a, b *yaml.Node) []Field {
	pa, pb := pairs(a), pairs(b)
	var out []Field
	for _, kv := range pb {
		if f, ok := compareField(kv.key, lookup(pa, kv.key), kv.value); ok {
			out = append(out, f)
		}
	}
	for _, kv := range pa {
		if lookup(pb, kv.key) == nil {
			out = append(out, Field{Field: kv.key, Old: value(kv.value)})
		}
	}
	return out
}

func compareField(name string, a, b *yaml.Node) (Field, bool) {
	if setFields[name] {
		if sa, ok := scalars(a); ok {
			if sb, ok := scalars(b); ok {
				f := Field{Field: name, Added: minus(sb, sa), Removed: minus(sa, sb)}
				return f, len(f.Added)+len(f.Removed) > 0
			}
		}
	}
	if canonical(a) == canonical(b) {
		return Field{}, false
	}
	return Field{Field: name, Old: value(a), New: value(b)}, true
}

// scalars is a sequence of scalars as strings; an absent one is empty.
func scalars(n *yaml.Node) ([]string, bool) {
	if n == nil {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		if item.Kind != yaml.ScalarNode {
			return nil, false
		}
		out = append(out, item.Value)
	}
	return out, true
}

// minus lists the items of a that b lacks, in a's order.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}

// scalar is the value of a mapping's scalar key, or "".
func scalar(n *yaml.Node, key string) string {
	if v := lookup(pairs(n), key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// canonical is a node's YAML text; absent and null are the same.
func canonical(n *yaml.Node) string {
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return ""
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		// A node encoded from a roster always encodes again.
		panic(fmt.Sprintf("rosterdiff: %v", err))
	}
	enc.Close()
	return buf.String()
}

// value is a node as plain Go values, for JSON; nil when absent.
func value(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		panic(fmt.Sprintf("rosterdiff: %v", err))
	}
	return v
}

// Inline writes a value on one line in YAML's flow style, for people to
// read: [sms, email], {id: kim, phone: "+821012345678"}. An absent value
// is "(none)".
func Inline(v any) string {
	if v == nil {
		return "(none)"
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	flow(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(bytes.TrimRight(b, "\n"))
}

func flow(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		flow(c)
	}
}
