package relay

import (
	"strings"
	"testing"
	"time"
)

const escalationRoster = `people:
  - {id: kim, phone: "+821012345678"}
  - {id: lee, phone: "+821098765432"}
  - {id: park, email: park@example.com, roles: [commander]}
groups:
  - {id: dba, members: [kim, lee]}
escalations:
  - id: db
    name: DB 당직
    steps:
      - {to: [person:kim], wait: 5m}
      - {to: [group:dba, role:commander], wait: 10m}
    repeat: 1
`

func TestEscalationRoster(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(escalationRoster))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := r.Escalation("db")
	if !ok || len(p.Steps) != 2 || p.Steps[1].WaitDuration() != 10*time.Minute || p.Repeat != 1 {
		t.Fatalf("policy db = %+v", p)
	}
	if got, err := r.Resolve([]string{"escalation:db"}); err != nil || len(got) != 1 || got[0].ID != "kim" {
		t.Errorf("escalation:db resolves to %v, %v; want its first step, kim", got, err)
	}
	if !r.Includes("park", []string{"escalation:db"}) || r.Includes("park", []string{"escalation:other"}) {
		t.Error("Includes does not follow the policy's steps")
	}
	if _, err := r.Resolve([]string{"escalation:nope"}); err == nil || err.Error() != `to[0]: "escalation:nope" is not an escalation policy in the roster` {
		t.Errorf("unknown policy: %v", err)
	}
	if CheckTarget("escalation:db") != "" || CheckTarget("escalation:DB") == "" {
		t.Error("CheckTarget does not know escalation:<id>")
	}
	c := r.Clone()
	c.Escalations[0].Steps[0].To[0] = "person:lee"
	if r.Escalations[0].Steps[0].To[0] != "person:kim" {
		t.Error("Clone shares the steps")
	}
}

func TestEscalationRosterProblems(t *testing.T) {
	_, err := DecodeRoster(strings.NewReader(`people:
  - {id: kim, phone: "+821012345678"}
escalations:
  - id: a
    steps: []
  - id: b
    repeat: 11
    steps:
      - {to: [], wait: 5m}
      - {to: [person:nobody, group:ghosts, escalation:a, role:boss, schedule:none], wait: 30s}
      - {to: [person:kim], wait: 25h}
      - {to: [person:kim], wait: soon}
      - {to: [person:kim, person:kim]}
      - {to: [person:kim], wait: -5m}
  - id: a
    steps: [{to: [everyone], wait: 1m}]
`))
	if err == nil {
		t.Fatal("a roster with bad escalations was accepted")
	}
	for _, want := range []string{
		`escalations[0] (a).steps: is empty: list at least one step with to and wait`,
		`escalations[1] (b).repeat: 11 must be from 0 to 10`,
		`escalations[1] (b).steps[0].to: is empty: list "person:<id>", "group:<id>", "role:<role>", "schedule:<id>" or "everyone"`,
		`escalations[1] (b).steps[1].to[0]: unknown person "nobody"`,
		`escalations[1] (b).steps[1].to[1]: unknown group "ghosts"`,
		`escalations[1] (b).steps[1].to[2]: "escalation:a" cannot name an escalation policy: a step notifies people, and policies handing over to each other could loop; list that policy's audiences here`,
		`escalations[1] (b).steps[1].to[3]: "role:boss" names no role (responder, commander, admin)`,
		`escalations[1] (b).steps[1].to[4]: unknown schedule "none"`,
		`escalations[1] (b).steps[1].wait: 30s must be from 1m to 24h`,
		`escalations[1] (b).steps[2].wait: 25h must be from 1m to 24h`,
		`escalations[1] (b).steps[3].wait: "soon" is not a duration such as 5m or 1h30m`,
		`escalations[1] (b).steps[4].to[1]: "person:kim" is listed twice`,
		`escalations[1] (b).steps[4].wait: is required: a duration such as 5m`,
		`escalations[1] (b).steps[5].wait: -5m must be from 1m to 24h`,
		`escalations[2] (a).id: "a" is also used by escalations[0]`,
	} {
		if !strings.Contains(err.Error(), want+"\n") && !strings.HasSuffix(err.Error(), want) {
			t.Errorf("roster error lacks %q:\n%v", want, err)
		}
	}
}

func TestEscalationPost(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(escalationRoster))
	if err != nil {
		t.Fatal(err)
	}
	p := &Post{Incident: "db-down", Text: "DB down", To: []string{"escalation:db", "person:lee"}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "to: names an escalation policy with other targets") {
		t.Errorf("escalation beside another target: %v", err)
	}
	p.To = []string{"escalation:db"}
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	m, err := NewMessage(p, r, Plan{ID: "m1", Now: at, Enabled: []string{ChannelSMS, ChannelEmail},
		Deadline: func(Severity) time.Duration { return time.Hour }, EscalationSpeedup: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Recipients) != 1 || m.Recipients[0].Person.ID != "kim" {
		t.Errorf("recipients %v, want kim (step 1)", m.Recipients)
	}
	x := m.Escalation
	if x == nil || x.Policy != "db" || x.Steps[0].Wait != 5*time.Second || x.Steps[1].Wait != 10*time.Second || x.Positions() != 4 {
		t.Fatalf("plan %+v", x)
	}
	for k, want := range []time.Duration{0, 5, 15, 20, 30} {
		if got := x.Due(at, k); !got.Equal(at.Add(want * time.Second)) {
			t.Errorf("position %d due %s, want +%ds", k, got, want)
		}
	}
	if _, err := NewMessage(&Post{Incident: "x", Text: "t", To: []string{"escalation:nope"}}, r, Plan{ID: "m2", Now: at,
		Deadline: func(Severity) time.Duration { return time.Hour }}); err == nil || err.Error() != `to[0]: "escalation:nope" is not an escalation policy in the roster` {
		t.Errorf("post to an unknown policy: %v", err)
	}
}

// escalationMessage is message m1 posted to policy db at at, as the store
// gives it with the people its steps added.
func escalationMessage(at time.Time, added ...Escalated) *Message {
	m := &Message{ID: "m1", Incident: "db-down", Text: "DB down", AcceptedAt: at,
		Recipients: []Recipient{{Person: Person{ID: "kim"}, Channels: []string{ChannelSMS}}},
		Escalation: &EscalationPlan{Policy: "db", Steps: []PlannedStep{{To: []string{"person:kim"}, Wait: 5 * time.Minute},
			{To: []string{"group:dba", "role:commander"}, Wait: 10 * time.Minute}}, Repeat: 1}}
	for _, x := range added {
		m.Recipients = append(m.Recipients, x.Recipients...)
	}
	return m
}

func TestEscalationProgress(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	m := escalationMessage(at)
	pr := Progress(m, nil, nil)
	if pr.Status != EscalationRunning || len(pr.Steps) != 4 || !pr.ExhaustedAt.Equal(at.Add(30*time.Minute)) {
		t.Fatalf("fresh progress %+v", pr)
	}
	if s := pr.Steps[0]; !s.FiredAt.Equal(at) || len(s.Notified) != 1 || s.Notified[0] != "kim" || s.Wait != "5m" {
		t.Errorf("step 1 %+v", s)
	}
	if s := pr.Steps[1]; !s.FiredAt.IsZero() || !s.Due.Equal(at.Add(5*time.Minute)) || s.Round != 1 || s.Step != 2 {
		t.Errorf("step 2 before it fires %+v", s)
	}
	if k := NextEscalation(m.Escalation, nil); k != 1 {
		t.Errorf("next position %d, want 1", k)
	}

	// Step 2 fired twice (two nodes in a partition): one step, its
	// people the union.
	fired := []Escalated{
		{Message: "m1", Round: 0, Step: 1, At: at.Add(5*time.Minute + time.Second), Notified: []string{"lee", "park"},
			Recipients: []Recipient{{Person: Person{ID: "lee"}, Channels: []string{ChannelSMS}}, {Person: Person{ID: "park"}, Channels: []string{ChannelEmail}}}},
		{Message: "m1", Round: 0, Step: 1, At: at.Add(5 * time.Minute), Notified: []string{"lee"},
			Recipients: []Recipient{{Person: Person{ID: "lee"}, Channels: []string{ChannelSMS}}}},
	}
	m = escalationMessage(at, fired...)
	if k := NextEscalation(m.Escalation, fired); k != 2 {
		t.Errorf("next position %d, want 2 (round 2, step 1)", k)
	}
	if got := NotifiedInRound(m, fired, 0); len(got) != 3 {
		t.Errorf("notified in round 1: %v, want kim, lee and park", got)
	}
	if got := NotifiedInRound(m, fired, 1); len(got) != 0 {
		t.Errorf("notified in round 2: %v, want nobody yet", got)
	}
	acks := []Ack{{Message: "m1", Person: "lee", At: at.Add(6 * time.Minute)}}
	pr = Progress(m, fired, acks)
	if pr.Status != EscalationAcknowledged || len(pr.Steps) != 2 || !pr.ExhaustedAt.IsZero() {
		t.Fatalf("acknowledged progress %+v", pr)
	}
	if s := pr.Steps[1]; !s.FiredAt.Equal(at.Add(5*time.Minute)) || len(s.Notified) != 2 || len(s.Acknowledged) != 1 || s.Acknowledged[0] != "lee" {
		t.Errorf("step 2 after the ack %+v", s)
	}
	if s := pr.Steps[0]; len(s.Notified) != 1 || s.Notified[0] != "kim" {
		t.Errorf("step 1 notified %v, want kim alone", s.Notified)
	}

	all := append(fired,
		Escalated{Message: "m1", Round: 1, Step: 0, At: at.Add(15 * time.Minute), Notified: []string{"kim"}},
		Escalated{Message: "m1", Round: 1, Step: 1, At: at.Add(20 * time.Minute), Notified: []string{"lee", "park"}},
		Escalated{Message: "m1", Round: 2, Step: 0, At: at.Add(30 * time.Minute), Exhausted: true, Notice: "n1"})
	pr = Progress(m, all, nil)
	if pr.Status != EscalationExhausted || pr.Notice != "n1" || len(pr.Steps) != 4 || !pr.ExhaustedAt.Equal(at.Add(30*time.Minute)) {
		t.Errorf("exhausted progress %+v", pr)
	}
	if k := NextEscalation(m.Escalation, all); k != 5 {
		t.Errorf("next position after the end %d, want 5", k)
	}
}

func TestEscalatedCheck(t *testing.T) {
	e := Event{Origin: "o", Seq: 1, Escalated: &Escalated{Message: "m1", Incident: "i",
		Reopen: []DeliveryChange{{ID: "m2.sms.kim", Status: StatusPending}}}}
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), "not a delivery of message m1") {
		t.Errorf("a step reopening another message's delivery: %v", err)
	}
	e.Escalated.Reopen[0].ID = "m1.sms.kim"
	if err := e.Check(); err != nil || e.Kind() != "escalated" {
		t.Errorf("a good step: %v, kind %s", err, e.Kind())
	}
	bad := Event{Origin: "o", Seq: 1, Message: &Message{ID: "m", Incident: "i", Escalation: &EscalationPlan{Policy: "db"}}}
	if err := bad.Check(); err == nil {
		t.Error("a message with an escalation plan of no steps passed")
	}
}
