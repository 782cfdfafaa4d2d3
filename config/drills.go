package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/oob-relay/relay/relay"
)

// DefaultDrillTimeZone is the zone of a scheduled drill that names none:
// relay is Korea-first.
const DefaultDrillTimeZone = "Asia/Seoul"

// Drills configures drills.
type Drills struct {
	// Scheduled are drills started at scheduled times, once cluster-wide
	// each time. None unless configured.
	Scheduled []ScheduledDrill `yaml:"scheduled"`
}

// ScheduledDrill is a drill the node starts at the times of a cron
// expression, when it owns the schedule.
type ScheduledDrill struct {
	// Name names the drill in its records; unique, like an id.
	Name string `yaml:"name"`
	// Cron is a standard 5-field cron expression (minute hour
	// day-of-month month day-of-week), or a descriptor such as @weekly,
	// read in TimeZone.
	Cron string `yaml:"cron"`
	// TimeZone is an IANA zone; DefaultDrillTimeZone when empty.
	TimeZone string   `yaml:"time_zone"`
	To       []string `yaml:"to"`
	// Channels are any of sms, voice and email; all three when empty.
	Channels []string `yaml:"channels"`
	Text     string   `yaml:"text"`
	// Lang is the report's language, ko (default) or en.
	Lang string `yaml:"lang"`
}

func (d *Drills) setDefaults() {
	for i := range d.Scheduled {
		if d.Scheduled[i].TimeZone == "" {
			d.Scheduled[i].TimeZone = DefaultDrillTimeZone
		}
	}
}

// Schedule parses the drill's cron expression in its time zone. Its
// error names the key at fault (time_zone or cron).
func (s *ScheduledDrill) Schedule() (cron.Schedule, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" || strings.EqualFold(s.TimeZone, "local") {
		return nil, &relay.FieldError{Field: "time_zone", Message: fmt.Sprintf("%q is not an IANA time zone such as Asia/Seoul", s.TimeZone)}
	}
	if c := strings.TrimSpace(s.Cron); strings.HasPrefix(c, "TZ=") || strings.HasPrefix(c, "CRON_TZ=") {
		return nil, &relay.FieldError{Field: "cron", Message: fmt.Sprintf("%q names a zone; set time_zone instead", s.Cron)}
	}
	sch, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return nil, &relay.FieldError{Field: "cron", Message: fmt.Sprintf("%q is not a 5-field cron expression (minute hour day-of-month month day-of-week, such as \"0 14 * * 3\"): %v", s.Cron, err)}
	}
	if spec, ok := sch.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return sch, nil
}

// Start is the drill's request.
func (s *ScheduledDrill) Start() relay.DrillStart {
	return relay.DrillStart{To: s.To, Channels: s.Channels, Text: s.Text, Lang: s.Lang}
}

func (d *Drills) validate(bad func(key, format string, args ...any)) {
	var names []string
	for i := range d.Scheduled {
		s := &d.Scheduled[i]
		key := fmt.Sprintf("drills.scheduled[%d]", i)
		switch {
		case s.Name == "":
			bad(key+".name", "is required")
		case !relay.ValidID(s.Name) || len(s.Name) > relay.MaxDrillName:
			bad(key+".name", "%q %s", s.Name, errBadID)
		case slices.Contains(names, s.Name):
			bad(key+".name", "%q names another scheduled drill too", s.Name)
		}
		names = append(names, s.Name)
		_, err := s.Schedule()
		start := s.Start()
		for _, e := range append(flatten(err), flatten(start.Validate())...) {
			var fe *relay.FieldError
			if errors.As(e, &fe) {
				bad(key+"."+fe.Field, "%s", fe.Message)
			} else {
				bad(key, "%s", e.Error())
			}
		}
	}
}
