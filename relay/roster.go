package relay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Person is someone relay can reach.
type Person struct {
	ID    string `json:"id" yaml:"id"`
	Name  string `json:"name,omitempty" yaml:"name,omitempty"`
	Phone string `json:"phone,omitempty" yaml:"phone,omitempty"`
	Email string `json:"email,omitempty" yaml:"email,omitempty"`
	// Channels is the person's preference order. Empty means every contact
	// method the person has (see ContactChannels).
	Channels []string `json:"channels,omitempty" yaml:"channels,omitempty"`
	// Lang is a BCP 47 language tag such as "ko" or "en"; it picks the
	// language of rendered text and voice.
	Lang string `json:"lang,omitempty" yaml:"lang,omitempty"`
	// Roles are what the person does in an incident beyond answering
	// (PersonCommander, PersonAdmin); everyone is a PersonResponder.
	Roles []string `json:"roles,omitempty" yaml:"roles,omitempty"`
}

// Roles a person may have in the roster. They are not API token roles
// (Role): a token is a bot's or an operator's credential, a person's role
// is what the person may do when they act as themselves.
const (
	// PersonResponder is everyone: they answer, acknowledge and reply.
	PersonResponder = "responder"
	// PersonCommander leads incidents: they post to any audience at high
	// priority, start roll-calls, and are told when an escalation runs
	// out or someone answers that they need help.
	PersonCommander = "commander"
	// PersonAdmin keeps the roster.
	PersonAdmin = "admin"
)

// PersonRoles lists the roles a roster may give a person.
var PersonRoles = []string{PersonResponder, PersonCommander, PersonAdmin}

// HasRole reports whether the person has role; everyone is a responder.
func (p *Person) HasRole(role string) bool {
	return role == PersonResponder || slices.Contains(p.Roles, role)
}

// ContactChannels returns the channels the person can be reached on, in
// preference order.
func (p *Person) ContactChannels() []string {
	if len(p.Channels) > 0 {
		return p.Channels
	}
	var out []string
	if p.Phone != "" {
		out = append(out, ChannelSMS)
	}
	if p.Email != "" {
		out = append(out, ChannelEmail)
	}
	return out
}

// Group is a named set of people.
type Group struct {
	ID      string   `json:"id" yaml:"id"`
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	Members []string `json:"members" yaml:"members"`
}

// Roster is everyone relay can reach and how they are grouped. It is
// replaced whole, never edited in place.
type Roster struct {
	People []Person `json:"people" yaml:"people"`
	Groups []Group  `json:"groups,omitempty" yaml:"groups,omitempty"`
	// Schedules are on-call schedules (schedule.go).
	Schedules []Schedule `json:"schedules,omitempty" yaml:"schedules,omitempty"`
	// Escalations are the escalation policies (escalation.go).
	Escalations []EscalationPolicy `json:"escalations,omitempty" yaml:"escalations,omitempty"`
}

// AudienceForms lists the forms of an audience target, for messages.
const AudienceForms = `"person:<id>", "group:<id>", "role:<role>", "schedule:<id>", "escalation:<id>" or "everyone"`

// Audience targets. "everyone" reaches every person in the roster.
const (
	TargetPersonPrefix = "person:"
	TargetGroupPrefix  = "group:"
	TargetEveryone     = "everyone"
	// TargetRolePrefix names everyone with a role: "role:commander".
	TargetRolePrefix = "role:"
)

var (
	idPattern        = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	e164Pattern      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	langPattern      = regexp.MustCompile(`^[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})*$`)
	yamlUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlWrongType    = regexp.MustCompile(`cannot unmarshal !!(\w+) (.+) into \S+`)
	yamlWrongRoot    = regexp.MustCompile(`cannot unmarshal !!(\w+) into relay\.Roster`)
	errNotE164       = "must be an E.164 number such as +821012345678"
	errNotAudience   = "is not an audience: use " + AudienceForms
	errBadID         = "must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'"
	rosterFormat     = "roster"
)

// Bounds on a roster, so that a roster sent to the API, however
// written, stays a roster and not a way to fill a node's store.
const (
	// MaxPeople is the most people a roster holds: a large company.
	MaxPeople = 100_000
	// MaxGroups is the most groups a roster holds.
	MaxGroups = 10_000
	// MaxNameBytes bounds a person's or a group's name: it leads every
	// reply of theirs and is read on phones.
	MaxNameBytes = 200
	// maxEmailBytes is the longest address SMTP carries (RFC 5321).
	maxEmailBytes = 254
	// maxLangBytes bounds a language tag (RFC 5646 advises 35).
	maxLangBytes = 35
	// maxRosterProblems bounds how many problems Validate lists; the
	// rest are counted.
	maxRosterProblems = 100
)

// ValidID reports whether s is a valid person, group or incident id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidE164 reports whether s is an E.164 phone number.
func ValidE164(s string) bool { return e164Pattern.MatchString(s) }

// DecodeRoster reads a roster in YAML (or JSON, which is YAML) strictly:
// unknown keys are errors. The roster is validated; every problem found is
// reported at once, each naming its key.
func DecodeRoster(r io.Reader) (*Roster, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rosterFormat, err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("roster is empty")
	}
	if trimmed[0] == '{' {
		if err := CheckJSONText(data); err != nil {
			return nil, err
		}
	}
	if !utf8.Valid(data) {
		return nil, invalidLine(data)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var ros Roster
	if err := dec.Decode(&ros); err != nil {
		return nil, fmt.Errorf("roster: %s", YAMLErrorText(err))
	}
	if err := ros.Validate(); err != nil {
		return nil, err
	}
	return &ros, nil
}

// invalidLine names the first line of data that is not valid UTF-8.
func invalidLine(data []byte) error {
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if !utf8.Valid(line) {
			at := 0
			for at < len(line) {
				r, size := utf8.DecodeRune(line[at:])
				if r == utf8.RuneError && size == 1 {
					break
				}
				at += size
			}
			return fmt.Errorf("roster: line %d is not valid UTF-8 (byte 0x%02x); save the file as UTF-8", i+1, line[at])
		}
	}
	return errors.New("roster: not valid UTF-8; save the file as UTF-8")
}

// YAMLErrorText rewrites a YAML decoding error so it names keys rather than
// Go types.
func YAMLErrorText(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = yamlUnknownField.ReplaceAllString(msg, `unknown key "$1"`)
	msg = yamlWrongType.ReplaceAllString(msg, `wrong type: $1 $2`)
	msg = yamlWrongRoot.ReplaceAllString(msg, `must be a mapping with people, groups and schedules, not a $1`)
	return msg
}

// Validate checks the whole roster and returns every problem, each naming
// its key, joined with errors.Join.
func (r *Roster) Validate() error {
	var errs []error
	problems := 0
	bad := func(key, format string, args ...any) {
		if problems++; problems <= maxRosterProblems {
			errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
		}
	}
	text := func(key, value string, limit int) {
		switch err := CheckLine(key, value); {
		case err != nil:
			bad(key, "%s", err.(*FieldError).Message)
		case len(value) > limit:
			bad(key, "is %d bytes; the limit is %d", len(value), limit)
		}
	}
	if len(r.People) > MaxPeople {
		bad("people", "lists %d people; the limit is %d", len(r.People), MaxPeople)
	}
	if len(r.Groups) > MaxGroups {
		bad("groups", "lists %d groups; the limit is %d", len(r.Groups), MaxGroups)
	}
	people := make(map[string]int, len(r.People))
	for i := range r.People {
		p := &r.People[i]
		key := fmt.Sprintf("people[%d]", i)
		if p.ID != "" {
			key = fmt.Sprintf("people[%d] (%s)", i, shortPrintable(p.ID))
		}
		text(key+".name", p.Name, MaxNameBytes)
		switch {
		case p.ID == "":
			bad(key+".id", "is required")
		case !ValidID(p.ID):
			bad(key+".id", "%s %s", quoteShort(p.ID), errBadID)
		default:
			if j, dup := people[p.ID]; dup {
				bad(key+".id", "%q is also used by people[%d]", p.ID, j)
			}
			people[p.ID] = i
		}
		if p.Phone != "" && !ValidE164(p.Phone) {
			bad(key+".phone", "%q %s", p.Phone, errNotE164)
		}
		if p.Email != "" {
			text(key+".email", p.Email, maxEmailBytes)
			if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
				bad(key+".email", "%s is not a plain email address such as kim@example.com", quoteShort(p.Email))
			}
		}
		switch {
		case len(p.Lang) > maxLangBytes:
			bad(key+".lang", "is %d bytes; the limit is %d", len(p.Lang), maxLangBytes)
		case p.Lang != "" && !langPattern.MatchString(p.Lang):
			bad(key+".lang", "%s is not a language tag such as ko or en", quoteShort(p.Lang))
		}
		roles := map[string]bool{}
		for j, role := range p.Roles {
			rkey := fmt.Sprintf("%s.roles[%d]", key, j)
			switch {
			case !slices.Contains(PersonRoles, role):
				bad(rkey, "unknown role %s (known: %s)", quoteShort(role), strings.Join(PersonRoles, ", "))
			case roles[role]:
				bad(rkey, "role %q is listed twice", role)
			}
			roles[role] = true
		}
		seen := map[string]bool{}
		for j, ch := range p.Channels {
			ckey := fmt.Sprintf("%s.channels[%d]", key, j)
			switch {
			case !KnownChannel(ch):
				bad(ckey, "unknown channel %s (known: %s)", quoteShort(ch), strings.Join(Channels, ", "))
			case seen[ch]:
				bad(ckey, "channel %q is listed twice", ch)
			case (ch == ChannelSMS || ch == ChannelVoice) && p.Phone == "":
				bad(ckey, "channel %q needs a phone number", ch)
			case ch == ChannelEmail && p.Email == "":
				bad(ckey, "channel %q needs an email address", ch)
			case ch == ChannelNATS:
				bad(ckey, "channel %q is not personal: NATS carries each message once to its incident subject", ch)
			}
			seen[ch] = true
		}
		if len(p.ContactChannels()) == 0 && len(p.Channels) == 0 {
			bad(key, "has no phone or email, so cannot be reached")
		}
	}
	groups := make(map[string]int, len(r.Groups))
	for i := range r.Groups {
		g := &r.Groups[i]
		key := fmt.Sprintf("groups[%d]", i)
		if g.ID != "" {
			key = fmt.Sprintf("groups[%d] (%s)", i, shortPrintable(g.ID))
		}
		text(key+".name", g.Name, MaxNameBytes)
		switch {
		case g.ID == "":
			bad(key+".id", "is required")
		case !ValidID(g.ID):
			bad(key+".id", "%s %s", quoteShort(g.ID), errBadID)
		case g.ID == TargetEveryone:
			bad(key+".id", "%q is reserved for the whole roster", g.ID)
		default:
			if j, dup := groups[g.ID]; dup {
				bad(key+".id", "%q is also used by groups[%d]", g.ID, j)
			}
			groups[g.ID] = i
		}
		if len(g.Members) == 0 {
			bad(key+".members", "is empty")
		}
		seen := map[string]bool{}
		for j, m := range g.Members {
			mkey := fmt.Sprintf("%s.members[%d]", key, j)
			if _, ok := people[m]; !ok {
				bad(mkey, "unknown person %s", quoteShort(m))
			} else if seen[m] {
				bad(mkey, "person %q is listed twice", m)
			}
			seen[m] = true
		}
	}
	r.validateSchedules(people, bad)
	r.validateEscalations(bad, people, groups)
	if problems > maxRosterProblems {
		errs = append(errs, fmt.Errorf("and %d more problems", problems-maxRosterProblems))
	}
	return errors.Join(errs...)
}

// shortPrintable is a value for a key path: escaped and, when long, cut.
func shortPrintable(s string) string {
	if short, cut := cutShort(s); cut {
		return Printable(short) + "…"
	}
	return Printable(s)
}

// Person returns the person with the given id.
func (r *Roster) Person(id string) (*Person, bool) {
	for i := range r.People {
		if r.People[i].ID == id {
			return &r.People[i], true
		}
	}
	return nil, false
}

// Group returns the group with the given id.
func (r *Roster) Group(id string) (*Group, bool) {
	for i := range r.Groups {
		if r.Groups[i].ID == id {
			return &r.Groups[i], true
		}
	}
	return nil, false
}

// AudienceError names the audience target that could not be resolved.
type AudienceError struct {
	Index  int
	Target string
	Reason string
}

func (e *AudienceError) Error() string {
	return fmt.Sprintf("to[%d]: %q %s", e.Index, e.Target, e.Reason)
}

// CheckTarget says what is wrong with the form of an audience target, or
// "" when it is "everyone", "person:<id>", "group:<id>", "role:<role>" or
// "escalation:<id>". Whether the
// roster has the person or group is Resolve's to say.
func CheckTarget(t string) string {
	switch {
	case t == TargetEveryone:
		return ""
	case strings.HasPrefix(t, TargetPersonPrefix):
		if !ValidID(strings.TrimPrefix(t, TargetPersonPrefix)) {
			return "names no valid person id"
		}
		return ""
	case strings.HasPrefix(t, TargetGroupPrefix):
		if !ValidID(strings.TrimPrefix(t, TargetGroupPrefix)) {
			return "names no valid group id"
		}
		return ""
	case strings.HasPrefix(t, TargetRolePrefix):
		if !slices.Contains(PersonRoles, strings.TrimPrefix(t, TargetRolePrefix)) {
			return "names no role (" + strings.Join(PersonRoles, ", ") + ")"
		}
		return ""
	case strings.HasPrefix(t, TargetSchedulePrefix):
		if !ValidID(strings.TrimPrefix(t, TargetSchedulePrefix)) {
			return "names no valid schedule id"
		}
		return ""
	case strings.HasPrefix(t, TargetEscalationPrefix):
		if !ValidID(strings.TrimPrefix(t, TargetEscalationPrefix)) {
			return "names no valid escalation policy id"
		}
		return ""
	}
	return errNotAudience
}

// Resolve turns audience targets ("group:oncall", "person:kim",
// "everyone") into the people they name, each once, in roster order. It
// knows no time, so a "schedule:<id>" target is an error: use ResolveAt.
func (r *Roster) Resolve(targets []string) ([]Person, error) {
	return r.ResolveAt(targets, time.Time{})
}

// ResolveAt is Resolve at the instant at, which names who is on call in
// each "schedule:<id>" target. A schedule with nobody on call at that
// instant is an error, so that a post is never taken as reaching a
// schedule that reaches nobody.
func (r *Roster) ResolveAt(targets []string, at time.Time) ([]Person, error) {
	want := make(map[string]bool)
	for i, t := range targets {
		switch {
		case t == TargetEveryone:
			for _, p := range r.People {
				want[p.ID] = true
			}
		case strings.HasPrefix(t, TargetPersonPrefix):
			id := strings.TrimPrefix(t, TargetPersonPrefix)
			if _, ok := r.Person(id); !ok {
				return nil, &AudienceError{i, t, "is not a person in the roster"}
			}
			want[id] = true
		case strings.HasPrefix(t, TargetGroupPrefix):
			g, ok := r.Group(strings.TrimPrefix(t, TargetGroupPrefix))
			if !ok {
				return nil, &AudienceError{i, t, "is not a group in the roster"}
			}
			for _, m := range g.Members {
				want[m] = true
			}
		case strings.HasPrefix(t, TargetRolePrefix):
			role := strings.TrimPrefix(t, TargetRolePrefix)
			if !slices.Contains(PersonRoles, role) {
				return nil, &AudienceError{i, t, "names no role (" + strings.Join(PersonRoles, ", ") + ")"}
			}
			for j := range r.People {
				if r.People[j].HasRole(role) {
					want[r.People[j].ID] = true
				}
			}
		case strings.HasPrefix(t, TargetSchedulePrefix):
			people, reason := r.onCall(strings.TrimPrefix(t, TargetSchedulePrefix), at)
			if reason != "" {
				return nil, &AudienceError{i, t, reason}
			}
			for _, p := range people {
				want[p] = true
			}
		case strings.HasPrefix(t, TargetEscalationPrefix):
			// An escalation starts with its first step's audience.
			p, ok := r.Escalation(strings.TrimPrefix(t, TargetEscalationPrefix))
			if !ok {
				return nil, &AudienceError{i, t, "is not an escalation policy in the roster"}
			}
			if len(p.Steps) == 0 || slices.ContainsFunc(p.Steps[0].To, func(t string) bool { return strings.HasPrefix(t, TargetEscalationPrefix) }) {
				return nil, &AudienceError{i, t, "has no first step of people to notify"}
			}
			first, err := r.ResolveAt(p.Steps[0].To, at)
			if err != nil {
				return nil, &AudienceError{i, t, "has a first step the roster cannot resolve: " + err.Error()}
			}
			for _, p := range first {
				want[p.ID] = true
			}
		default:
			return nil, &AudienceError{i, t, errNotAudience}
		}
	}
	out := make([]Person, 0, len(want))
	for _, p := range r.People {
		if want[p.ID] {
			out = append(out, p)
		}
	}
	return out, nil
}

// Clone returns a deep copy.
func (r *Roster) Clone() *Roster {
	c := &Roster{People: slices.Clone(r.People), Groups: slices.Clone(r.Groups), Escalations: slices.Clone(r.Escalations)}
	for i := range c.People {
		c.People[i].Channels = slices.Clone(c.People[i].Channels)
		c.People[i].Roles = slices.Clone(c.People[i].Roles)
	}
	for i := range c.Groups {
		c.Groups[i].Members = slices.Clone(c.Groups[i].Members)
	}
	c.Schedules = slices.Clone(r.Schedules)
	for i := range c.Schedules {
		s := &c.Schedules[i]
		s.Overrides = slices.Clone(s.Overrides)
		s.Layers = slices.Clone(s.Layers)
		for j := range s.Layers {
			l := &s.Layers[j]
			l.Members = slices.Clone(l.Members)
			l.Hours = slices.Clone(l.Hours)
			for k := range l.Hours {
				l.Hours[k].Days = slices.Clone(l.Hours[k].Days)
			}
		}
	}
	for i := range c.Escalations {
		c.Escalations[i].Steps = slices.Clone(c.Escalations[i].Steps)
		for j := range c.Escalations[i].Steps {
			c.Escalations[i].Steps[j].To = slices.Clone(c.Escalations[i].Steps[j].To)
		}
	}
	return c
}
