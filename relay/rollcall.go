package relay

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A roll-call asks an incident's audience one question with numbered
// options ("1 = safe, 2 = need help") and keeps a tally of the answers.
// It is started by a bot or an admin; its question is a message of the
// incident; each answer is an event of the log, so every node holds the
// same tally. People answer with the digit by SMS (alone, or after or
// before the SMS's reply code), by the first line of a mail reply, by a
// key in a call, over NATS, or a bot or admin answers for them through
// the API. The latest answer of a person counts.

// ViaRollCall is the way of the messages a roll-call sends (its
// question, its re-pings and its urgent notices): it scopes their
// idempotency keys, which every node derives alike, so that a round sent
// by two nodes is one message.
const ViaRollCall = "rollcall"

// Roll-call limits.
const (
	// MaxRollCallQuestion bounds a question's length: it goes out by SMS.
	MaxRollCallQuestion = 1000
	// MaxOptionLabel bounds an option's label.
	MaxOptionLabel = 100
	// MinReping is the shortest interval between re-pings: anything
	// shorter floods phones before people can answer.
	MinReping = time.Minute
	// DefaultRollCallUntil is how long a roll-call takes answers when
	// its start names no end.
	DefaultRollCallUntil = 2 * time.Hour
	// MaxRollCallUntil bounds how long a roll-call takes answers: as
	// long as an incident stays open for replies.
	MaxRollCallUntil = ReplyWindow
)

// RollCall is a question with numbered options, as started. It never
// changes after it is started.
type RollCall struct {
	ID       string           `json:"id"`
	Incident string           `json:"incident"`
	Question string           `json:"question"`
	Options  []RollCallOption `json:"options"`
	// To is the audience as requested; who it reached is the question
	// message's (Message) recipients and unreachable people.
	To       []string `json:"to"`
	Severity Severity `json:"severity"`
	// Reping is how often people who have not answered are asked again,
	// each time on their next channel; zero means never.
	Reping time.Duration `json:"reping,omitempty"`
	// Until is when the roll-call stops taking answers and re-pinging.
	Until     time.Time `json:"until"`
	StartedAt time.Time `json:"started_at"`
	StartedBy string    `json:"started_by"`
	// Message is the id of the message that asked the question.
	Message string `json:"message"`
	// RequestHash lets a retried start find this roll-call.
	RequestHash string `json:"request_hash,omitempty"`
}

// RollCallOption is one answer a roll-call offers.
type RollCallOption struct {
	// Digit is what a person sends or presses, 1 to 9.
	Digit int    `json:"digit"`
	Label string `json:"label"`
	// Urgent options are told to the incident's commanders at once,
	// with who answered and how to reach them.
	Urgent bool `json:"urgent,omitempty"`
}

// RollCallAnswer is one answer of one person. The answer with the
// latest event clock is the person's answer.
type RollCallAnswer struct {
	RollCall string `json:"rollcall"`
	Incident string `json:"incident"`
	Person   string `json:"person"`
	Digit    int    `json:"digit"`
	// Channel is how it came: sms, email, voice, nats or api.
	Channel string `json:"channel"`
	// By names the bot or admin that answered for the person, if one
	// did.
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"`
}

// ChannelAPI is the channel of an answer given through the HTTP API.
const ChannelAPI = "api"

// Open reports whether the roll-call takes answers at now.
func (rc *RollCall) Open(now time.Time) bool { return now.Before(rc.Until) }

// Option returns the option with the given digit.
func (rc *RollCall) Option(digit int) (RollCallOption, bool) {
	for _, o := range rc.Options {
		if o.Digit == digit {
			return o, true
		}
	}
	return RollCallOption{}, false
}

// Round returns the re-ping round due at now (1 for the first re-ping)
// and when it is due, or false when no round is left: re-pings are off,
// or the next one would come at or after Until.
func (rc *RollCall) Round(now time.Time) (int, time.Time, bool) {
	if rc.Reping <= 0 {
		return 0, time.Time{}, false
	}
	r := 1
	if d := now.Sub(rc.StartedAt); d > rc.Reping {
		r = int(d / rc.Reping)
	}
	at := rc.StartedAt.Add(time.Duration(r) * rc.Reping)
	if !at.Before(rc.Until) {
		return 0, time.Time{}, false
	}
	return r, at, true
}

// RollCallStart is a request to start a roll-call, as a client wrote it.
type RollCallStart struct {
	Incident string           `json:"incident"`
	Question string           `json:"question"`
	Options  []RollCallOption `json:"options"`
	To       []string         `json:"to"`
	Severity Severity         `json:"severity,omitempty"`
	// Reping and Until are Go durations ("10m", "2h"); Reping empty
	// means never, Until empty means DefaultRollCallUntil.
	Reping string `json:"reping,omitempty"`
	Until  string `json:"until,omitempty"`
}

// Validate reports every problem with the request, each a *FieldError,
// joined with errors.Join. It does not look at the roster.
func (s *RollCallStart) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Incident == "":
		bad("incident", "is required")
	case !ValidID(s.Incident):
		bad("incident", "%s %s", quoteShort(s.Incident), errBadID)
	}
	switch {
	case strings.TrimSpace(s.Question) == "":
		bad("question", "is required and must not be blank")
	case len(s.Question) > MaxRollCallQuestion:
		bad("question", "is %d bytes; the limit is %d", len(s.Question), MaxRollCallQuestion)
	default:
		if err := CheckText("question", s.Question); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.Options) < 2 {
		bad("options", "lists %d options; a roll-call needs 2 to 9, numbered 1 to 9", len(s.Options))
	}
	if len(s.Options) > 9 {
		bad("options", "lists %d options; at most 9, numbered 1 to 9", len(s.Options))
	}
	for i, o := range s.Options {
		f := fmt.Sprintf("options[%d]", i)
		switch {
		case o.Digit < 1 || o.Digit > 9:
			bad(f+".digit", "is %d; an option's digit is 1 to 9", o.Digit)
		case slices.IndexFunc(s.Options, func(x RollCallOption) bool { return x.Digit == o.Digit }) < i:
			bad(f+".digit", "%d is used by an earlier option", o.Digit)
		}
		switch {
		case strings.TrimSpace(o.Label) == "":
			bad(f+".label", "is required and must not be blank")
		case len(o.Label) > MaxOptionLabel:
			bad(f+".label", "is %d bytes; the limit is %d", len(o.Label), MaxOptionLabel)
		default:
			if err := CheckLine(f+".label", o.Label); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(s.Options) > 0 && !slices.ContainsFunc(s.Options, func(o RollCallOption) bool { return !o.Urgent }) {
		bad("options", "are all urgent; at least one must not be")
	}
	if len(s.To) == 0 {
		bad("to", "is required: list the audience (%s)", AudienceForms)
	}
	for i, t := range s.To {
		if why := CheckTarget(t); why != "" {
			bad(fmt.Sprintf("to[%d]", i), "%s %s", quoteShort(t), why)
		}
	}
	if s.Severity != "" && !s.Severity.Valid() {
		bad("severity", "%s must be one of critical, warning and info", quoteShort(string(s.Severity)))
	}
	reping, until, err := s.durations()
	errs = append(errs, err)
	if err == nil && reping > 0 && reping >= until {
		bad("reping", "is %s, not shorter than until (%s): nobody would be asked again", reping, until)
	}
	return errors.Join(errs...)
}

// durations parses Reping and Until.
func (s *RollCallStart) durations() (reping, until time.Duration, err error) {
	var errs []error
	if s.Reping != "" {
		d, perr := time.ParseDuration(s.Reping)
		switch {
		case perr != nil:
			errs = append(errs, &FieldError{"reping", fmt.Sprintf("%s is not a duration such as 10m", quoteShort(s.Reping))})
		case d < MinReping:
			errs = append(errs, &FieldError{"reping", fmt.Sprintf("is %s; re-pings are at least %s apart", d, MinReping)})
		default:
			reping = d
		}
	}
	until = DefaultRollCallUntil
	if s.Until != "" {
		d, perr := time.ParseDuration(s.Until)
		switch {
		case perr != nil:
			errs = append(errs, &FieldError{"until", fmt.Sprintf("%s is not a duration such as 2h", quoteShort(s.Until))})
		case d < MinReping || d > MaxRollCallUntil:
			errs = append(errs, &FieldError{"until", fmt.Sprintf("is %s; a roll-call runs from %s to %s", d, MinReping, MaxRollCallUntil)})
		default:
			until = d
		}
	}
	return reping, until, errors.Join(errs...)
}

// NewRollCall returns the roll-call a valid request starts at now, with
// the given id and author, asked by message msgID.
func NewRollCall(s *RollCallStart, id, author, msgID string, now time.Time) (*RollCall, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	reping, until, _ := s.durations()
	sev := s.Severity
	if sev == "" {
		sev = SeverityCritical
	}
	opts := slices.Clone(s.Options)
	slices.SortFunc(opts, func(a, b RollCallOption) int { return a.Digit - b.Digit })
	return &RollCall{ID: id, Incident: s.Incident, Question: s.Question, Options: opts, To: slices.Clone(s.To),
		Severity: sev, Reping: reping, Until: now.Add(until), StartedAt: now, StartedBy: author, Message: msgID}, nil
}

// QuestionText is the text of a roll-call's question as sent: the
// question, one line per option, and how to answer, in Korean and
// English since one message goes to everyone.
func (rc *RollCall) QuestionText() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rc.Question))
	b.WriteString("\n")
	for _, o := range rc.Options {
		fmt.Fprintf(&b, "\n%d = %s", o.Digit, o.Label)
	}
	b.WriteString("\n\n")
	b.WriteString("답하는 법: 번호만 보내세요. 문자는 번호만 또는 답장 코드 뒤에 번호, 메일은 답장 첫 줄에 번호, 전화는 번호 키를 누르세요.\n")
	b.WriteString("To answer, send the digit alone: by SMS alone or after the reply code, by email on the first line of your reply, or press it during a call.")
	return b.String()
}

// RepingText is the question sent again to people who have not
// answered, in round r.
func (rc *RollCall) RepingText(r int) string {
	return fmt.Sprintf("[다시 묻습니다 / Asking again %d] %s", r, rc.QuestionText())
}

// UrgentText is the notice commanders get when a person picks an urgent
// option: who, what they answered, and how to reach them.
func (rc *RollCall) UrgentText(p *Person, o RollCallOption) string {
	name := p.ID
	if p.Name != "" {
		name = p.Name + " (" + p.ID + ")"
	}
	var contact []string
	if p.Phone != "" {
		contact = append(contact, p.Phone)
	}
	if p.Email != "" {
		contact = append(contact, p.Email)
	}
	if len(contact) == 0 {
		contact = append(contact, "연락처 없음 / no contact")
	}
	return fmt.Sprintf("[긴급 응답 / Urgent answer] %s: %d = %s\n연락처 / Contact: %s\n점호 / Roll-call: %s",
		name, o.Digit, o.Label, strings.Join(contact, ", "), firstLine(rc.Question))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// ParseRollCallAnswer reads a roll-call answer from a person's text: a
// digit 1 to 9 alone ("2", "2번", "2.", a full-width "２"), or with a
// reply code before or after it ("KP47 2", "2 KP47"). It returns the
// digit and the reply code (upper case, "" when none). Anything else,
// a digit with other words above all, is no answer: it stays what it
// was (a reply, an acknowledgement). Only the first line counts, as in
// a mail reply whose quoted text follows.
func ParseRollCallAnswer(text string) (digit int, code string, ok bool) {
	line := text
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	switch len(fields) {
	case 1:
		d, ok := answerDigit(fields[0])
		return d, "", ok
	case 2:
		if d, ok := answerDigit(fields[1]); ok && LooksLikeReplyCode(fields[0]) {
			return d, strings.ToUpper(fields[0]), true
		}
		if d, ok := answerDigit(fields[0]); ok && LooksLikeReplyCode(fields[1]) {
			return d, strings.ToUpper(fields[1]), true
		}
	}
	return 0, "", false
}

// answerDigit reads one word that is a digit 1 to 9, ASCII or
// full-width, with at most one of the suffixes people add ("번", ".",
// ")", "!").
func answerDigit(w string) (int, bool) {
	r, size := utf8.DecodeRuneInString(w)
	var d int
	switch {
	case r >= '1' && r <= '9':
		d = int(r - '0')
	case r >= '１' && r <= '９':
		d = int(r-'１') + 1
	default:
		return 0, false
	}
	switch rest := w[size:]; rest {
	case "", "번", ".", ")", "!", "．":
		return d, true
	}
	return 0, false
}

// RollCallPerson is where one person of a roll-call's audience stands.
type RollCallPerson struct {
	Person string `json:"person"`
	Name   string `json:"name,omitempty"`
	// State is answered, unanswered or unreachable (no channel
	// delivered any of the roll-call's messages, and none is left).
	State string `json:"state"`
	// Digit, Channel and At are the person's latest answer, if any.
	Digit   int       `json:"digit,omitempty"`
	Channel string    `json:"channel,omitempty"`
	At      time.Time `json:"at,omitzero"`
	By      string    `json:"by,omitempty"`
}

// States of a person in a roll-call.
const (
	RollCallAnswered    = "answered"
	RollCallUnanswered  = "unanswered"
	RollCallUnreachable = "unreachable"
)

// OptionCount is how many people picked an option.
type OptionCount struct {
	RollCallOption
	Count int `json:"count"`
}

// Tally is where a roll-call stands: a count per option, the people
// who have not answered and those relay could not reach, and each
// person's answer. It is computed from replicated state only, so every
// node that holds the same events computes the same tally.
type Tally struct {
	RollCall    RollCall         `json:"rollcall"`
	Options     []OptionCount    `json:"options"`
	Audience    int              `json:"audience"`
	Answered    int              `json:"answered"`
	Unanswered  int              `json:"unanswered"`
	Unreachable int              `json:"unreachable"`
	People      []RollCallPerson `json:"people"`
}

// Reach says whether a person of a roll-call's audience was reached on
// some channel: Reached when a delivery of one of its messages was sent
// or delivered; Lost when every delivery to them failed or was skipped
// (or they had no channel); neither while some are under way.
type Reach struct{ Reached, Lost bool }

// NewTally counts a roll-call. people is its audience (the question's
// recipients and unreachable people, with their roster entries where
// known), answers the latest answer of each person, reach how each was
// reached.
func NewTally(rc *RollCall, people []Person, answers map[string]RollCallAnswer, reach map[string]Reach) *Tally {
	t := &Tally{RollCall: *rc, Options: make([]OptionCount, len(rc.Options)), People: make([]RollCallPerson, 0, len(people)),
		Audience: len(people)}
	for i, o := range rc.Options {
		t.Options[i] = OptionCount{RollCallOption: o}
	}
	for _, p := range people {
		e := RollCallPerson{Person: p.ID, Name: p.Name}
		a, ok := answers[p.ID]
		switch {
		case ok:
			e.State, e.Digit, e.Channel, e.At, e.By = RollCallAnswered, a.Digit, a.Channel, a.At.UTC(), a.By
			t.Answered++
			if i := slices.IndexFunc(t.Options, func(o OptionCount) bool { return o.Digit == a.Digit }); i >= 0 {
				t.Options[i].Count++
			}
		case reach[p.ID].Lost && !reach[p.ID].Reached:
			e.State = RollCallUnreachable
			t.Unreachable++
		default:
			e.State = RollCallUnanswered
			t.Unanswered++
		}
		t.People = append(t.People, e)
	}
	slices.SortFunc(t.People, func(a, b RollCallPerson) int { return strings.Compare(a.Person, b.Person) })
	return t
}

// RollCallCSVHeader is the first row of a roll-call's CSV export.
var RollCallCSVHeader = []string{"person", "name", "answer", "channel", "time", "state", "by"}

// CSVRows returns the tally's rows for a CSV export, one per person, in
// the order of RollCallCSVHeader. A cell a spreadsheet would take for a
// formula (it starts with =, +, -, @, a tab or a carriage return) is
// prefixed with an apostrophe, as OWASP advises, since names come from
// the roster and answers from outside.
func (t *Tally) CSVRows() [][]string {
	rows := make([][]string, 0, len(t.People))
	for _, p := range t.People {
		answer, at := "", ""
		if p.State == RollCallAnswered {
			answer = fmt.Sprint(p.Digit)
			if o, ok := t.RollCall.Option(p.Digit); ok {
				answer += "=" + o.Label
			}
			at = p.At.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{csvCell(p.Person), csvCell(p.Name), csvCell(answer), p.Channel, at, p.State, csvCell(p.By)})
	}
	return rows
}

func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// SplitOption reads an option as a command line gives it, "2=도움 필요",
// with a "!" at the end for an urgent one ("2=도움 필요!"), as the
// console's form reads it.
func SplitOption(s string) (RollCallOption, error) {
	d, label, ok := strings.Cut(s, "=")
	d = strings.TrimSpace(d)
	if !ok || len(d) != 1 || d[0] < '1' || d[0] > '9' {
		return RollCallOption{}, fmt.Errorf("option %s must read <digit>=<label>, the digit 1 to 9, such as 1=안전", quoteShort(s))
	}
	label = strings.TrimFunc(label, unicode.IsSpace)
	urgent := strings.HasSuffix(label, "!")
	if urgent {
		label = strings.TrimFunc(strings.TrimSuffix(label, "!"), unicode.IsSpace)
	}
	return RollCallOption{Digit: int(d[0] - '0'), Label: label, Urgent: urgent}, nil
}

// AsksForHelp reports whether an option's label says that whoever picks
// it needs help: it names help, injury, danger, rescue or being trapped,
// in Korean or English ("도움 필요", "부상", "위험", "구조 요청",
// "Need help", "Injured", "Not safe").
func AsksForHelp(label string) bool {
	l := strings.ToLower(label)
	for _, w := range []string{"도움", "구조", "부상", "다쳤", "다침", "위험", "응급", "고립", "안전하지 않",
		"help", "hurt", "injur", "danger", "emergency", "rescue", "trapped", "unsafe", "not safe", "sos"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// MarkHelpUrgent marks urgent the options that ask for help (AsksForHelp)
// when none is marked, and returns their digits, so that the usual
// question ("1=안전", "2=도움 필요") tells the commanders of a call for
// help though whoever typed it marked nothing. Options already marked,
// or options that would all be urgent, are left as they are and nil is
// returned. The command line applies it to what a person types; the API
// takes options as they are sent.
func MarkHelpUrgent(opts []RollCallOption) []int {
	var digits []int
	for _, o := range opts {
		if o.Urgent {
			return nil
		}
		if AsksForHelp(o.Label) {
			digits = append(digits, o.Digit)
		}
	}
	if len(digits) == len(opts) {
		return nil
	}
	for i := range opts {
		opts[i].Urgent = slices.Contains(digits, opts[i].Digit)
	}
	return digits
}
