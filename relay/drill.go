package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A drill is a message, clearly marked as a drill in every channel and
// language ([DrillMarker]), that asks everyone it reaches to acknowledge
// it, in an incident of its own ("drill-20261202-1400"). It is started by
// an admin or by a scheduled drill in config; its report (package
// relay/drill) says who was reached, how and how fast. A drill's message
// carries the drill's id (Message.Drill): it follows no escalation
// policy, asks no roll-call question and reaches no NATS subject.

// ViaDrill is the way of a drill's message: with the drill's id it makes
// the message's id, so that a drill started twice (a retried start, a
// scheduled drill fired by two nodes) is one message.
const ViaDrill = "drill"

// DrillIncidentPrefix starts the id of every drill's incident.
const DrillIncidentPrefix = "drill-"

// DrillChannels are the channels a drill may use: the channels that
// reach a person and confirm it (NATS reaches subjects, not people).
var DrillChannels = []string{ChannelSMS, ChannelVoice, ChannelEmail}

// Drill limits.
const (
	// MaxDrillText bounds a drill's text: it goes out by SMS.
	MaxDrillText = 1000
	// MaxDrillName bounds a scheduled drill's name.
	MaxDrillName = 64
)

// Drill is a drill as started. It never changes after it is started.
type Drill struct {
	ID       string   `json:"id"`
	Incident string   `json:"incident"`
	Message  string   `json:"message"`
	To       []string `json:"to"`
	// Channels are the channels asked for; empty means every channel
	// each person has among DrillChannels.
	Channels []string `json:"channels,omitempty"`
	Text     string   `json:"text"`
	// Lang is the language of the report; people get the message in
	// their own.
	Lang      string    `json:"lang,omitempty"`
	StartedAt time.Time `json:"started_at"`
	StartedBy string    `json:"started_by"`
	// Schedule names the scheduled drill that started it, and
	// ScheduledAt the time it was scheduled for; empty for a drill
	// started by hand.
	Schedule    string    `json:"schedule,omitempty"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	// RequestHash lets a retried start find this drill.
	RequestHash string `json:"request_hash,omitempty"`
}

// DrillStart is a request to start a drill, as a client wrote it.
type DrillStart struct {
	To       []string `json:"to"`
	Channels []string `json:"channels,omitempty"`
	Text     string   `json:"text"`
	// Lang is the report's language: "ko" (the default) or "en".
	Lang string `json:"lang,omitempty"`
}

// Validate reports every problem with the request, each a *FieldError,
// joined with errors.Join. It does not look at the roster.
func (s *DrillStart) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case strings.TrimSpace(s.Text) == "":
		bad("text", "is required and must not be blank")
	case len(s.Text) > MaxDrillText:
		bad("text", "is %d bytes; a drill's text is at most %d", len(s.Text), MaxDrillText)
	default:
		if err := CheckText("text", s.Text); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.To) == 0 {
		bad("to", "is required: list %s", AudienceForms)
	}
	for i, t := range s.To {
		if strings.HasPrefix(t, TargetEscalationPrefix) {
			bad(fmt.Sprintf("to[%d]", i), "%s: a drill follows no escalation policy; name its people, groups or schedules", quoteShort(t))
		}
	}
	for i, ch := range s.Channels {
		if !slices.Contains(DrillChannels, ch) {
			bad(fmt.Sprintf("channels[%d]", i), "%s is not a drill channel (one of %s)", quoteShort(ch), strings.Join(DrillChannels, ", "))
		}
	}
	if s.Lang != "" && s.Lang != "ko" && s.Lang != "en" {
		bad("lang", "%s is not a report language (ko or en)", quoteShort(s.Lang))
	}
	return errors.Join(errs...)
}

// Hash is the digest of the request, which lets a retried start under
// one idempotency key find the drill it started.
func (s *DrillStart) Hash() string {
	b, _ := json.Marshal(s) // strings only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// DrillIncident returns the incident of a drill started at t, in zone:
// "drill-20261202-1400".
func DrillIncident(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return DrillIncidentPrefix + t.In(zone).Format("20060102-1504")
}

// ScheduledDrillID returns the id of the drill a scheduled drill named
// name starts for its time at: every node derives the same one, so the
// drill is started once whichever node fires it.
func ScheduledDrillID(name string, at time.Time) string {
	return IdempotentMessageID(ViaDrill, "schedule:"+name, at.UTC().Format(time.RFC3339))
}

// DrillMessageID returns the id of drill id's message.
func DrillMessageID(id string) string { return IdempotentMessageID(ViaDrill, id, "message") }

// drillMarkers mark a drill's message in each language relay speaks.
var drillMarkers = map[string]string{"ko": "[훈련]", "en": "[DRILL]"}

// DrillMarker returns the mark that starts every rendering of a drill's
// message for a reader of language lang: "[훈련]", or "[DRILL]" for
// English.
func DrillMarker(lang string) string {
	primary, _, _ := strings.Cut(strings.ToLower(lang), "-")
	if m, ok := drillMarkers[primary]; ok {
		return m
	}
	return drillMarkers[DefaultLang]
}

// IsDrillIncident reports whether an incident id is a drill's.
func IsDrillIncident(id string) bool { return strings.HasPrefix(id, DrillIncidentPrefix) }

func (d *Drill) check() error {
	if d.ID == "" || d.Incident == "" || d.Message == "" {
		return errors.New("drill without id, incident or message")
	}
	return nil
}
