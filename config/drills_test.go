package config

import (
	"strings"
	"testing"
	"time"
)

const drillsYAML = `
drills:
  scheduled:
    - name: quarterly
      cron: "0 14 1 */3 *"
      to: ["group:all"]
      channels: [sms, email]
      text: "분기 비상 연락 훈련입니다. 받으셨으면 답해 주세요."
`

func TestScheduledDrills(t *testing.T) {
	c, err := Decode(strings.NewReader(baseYAML + drillsYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	sd := c.Drills.Scheduled[0]
	if sd.TimeZone != DefaultDrillTimeZone {
		t.Errorf("time zone %q, want %q", sd.TimeZone, DefaultDrillTimeZone)
	}
	sch, err := sd.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	// 14:00 in Seoul is 05:00 UTC; the next quarter's first day after
	// 2 December 2026 is 1 January 2027.
	got := sch.Next(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2027, 1, 1, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next time %s, want %s", got.UTC(), want)
	}
}

func TestValidateScheduledDrills(t *testing.T) {
	base := ScheduledDrill{Name: "quarterly", Cron: "0 14 1 */3 *", TimeZone: "Asia/Seoul", To: []string{"group:all"}, Text: "훈련"}
	tests := []struct {
		name   string
		mutate func(*ScheduledDrill)
		want   string
	}{
		{"valid", func(*ScheduledDrill) {}, ""},
		{"descriptor", func(s *ScheduledDrill) { s.Cron = "@weekly" }, ""},
		{"six fields", func(s *ScheduledDrill) { s.Cron = "0 0 14 1 * *" },
			`drills.scheduled[0].cron: "0 0 14 1 * *" is not a 5-field cron expression (minute hour day-of-month month day-of-week, such as "0 14 * * 3"): expected exactly 5 fields, found 6: [0 0 14 1 * *]`},
		{"zone in cron", func(s *ScheduledDrill) { s.Cron = "CRON_TZ=UTC 0 14 * * *" },
			`drills.scheduled[0].cron: "CRON_TZ=UTC 0 14 * * *" names a zone; set time_zone instead`},
		{"bad zone", func(s *ScheduledDrill) { s.TimeZone = "Seoul" },
			`drills.scheduled[0].time_zone: "Seoul" is not an IANA time zone such as Asia/Seoul`},
		{"no name, no text, escalation, nats", func(s *ScheduledDrill) {
			s.Name, s.Text, s.To, s.Channels = "", " ", []string{"escalation:db"}, []string{"nats"}
		}, strings.Join([]string{
			"drills.scheduled[0].name: is required",
			"drills.scheduled[0].text: is required and must not be blank",
			`drills.scheduled[0].to[0]: "escalation:db": a drill follows no escalation policy; name its people, groups or schedules`,
			`drills.scheduled[0].channels[0]: "nats" is not a drill channel (one of sms, voice, email)`,
		}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase(t)
			s := base
			tt.mutate(&s)
			c.Drills.Scheduled = []ScheduledDrill{s}
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate() =\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}
