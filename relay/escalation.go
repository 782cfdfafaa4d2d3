package relay

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Escalation policies say who is told next when nobody acknowledges a
// message. A post to "escalation:<id>" goes to the policy's first step;
// when nobody notified so far acknowledges within that step's wait, the
// next step's audience is added to the same message, and so on through
// the steps and their repeats. When they run out, the incident's
// commanders are told, at high priority, that nobody acknowledged.

// EscalationPolicy is one escalation policy of the roster.
type EscalationPolicy struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Steps are notified one after another, in order.
	Steps []EscalationStep `json:"steps" yaml:"steps"`
	// Repeat is how many more times the steps run after the last one
	// has waited in vain.
	Repeat int `json:"repeat,omitempty" yaml:"repeat,omitempty"`
}

// EscalationStep is one step of a policy: whom it notifies, and how long
// it waits for an acknowledgement before the next step.
type EscalationStep struct {
	// To is an audience: "person:<id>", "group:<id>", "role:<role>",
	// "schedule:<id>" (whoever is on call when the step fires) or
	// "everyone".
	To []string `json:"to" yaml:"to"`
	// Wait is a duration such as "5m", from MinEscalationWait to
	// MaxEscalationWait.
	Wait string `json:"wait" yaml:"wait"`
}

// TargetEscalationPrefix names an escalation policy as a message's
// audience: "escalation:dba".
const TargetEscalationPrefix = "escalation:"

// ViaEscalation is the way a message telling the commanders that an
// escalation ran out comes; its author is the policy's id.
const ViaEscalation = "escalation"

// Bounds of escalation policies.
const (
	// MinEscalationWait is the shortest wait of a step: people need
	// time to see a page and answer it.
	MinEscalationWait = time.Minute
	// MaxEscalationWait is the longest wait of a step.
	MaxEscalationWait = 24 * time.Hour
	// MaxEscalations is the most policies a roster holds.
	MaxEscalations = 1000
	// MaxEscalationSteps is the most steps one policy has.
	MaxEscalationSteps = 20
	// MaxEscalationRepeat is the most repeats of one policy's steps.
	MaxEscalationRepeat = 10
	// MaxEscalationSpeedup bounds how much faster than written a node
	// runs escalations, for drills and tests (EscalationPlan).
	MaxEscalationSpeedup = 600
)

// Escalation statuses, as the message view shows them.
const (
	EscalationRunning      = "running"
	EscalationAcknowledged = "acknowledged"
	EscalationExhausted    = "exhausted"
)

// stepForms lists the forms of a step's audience.
const stepForms = `"person:<id>", "group:<id>", "role:<role>", "schedule:<id>" or "everyone"`

// errEscalationInStep says why a step cannot name a policy.
const errEscalationInStep = "cannot name an escalation policy: a step notifies people, and policies handing over to each other could loop; list that policy's audiences here"

// Escalation returns the escalation policy with the given id.
func (r *Roster) Escalation(id string) (*EscalationPolicy, bool) {
	for i := range r.Escalations {
		if r.Escalations[i].ID == id {
			return &r.Escalations[i], true
		}
	}
	return nil, false
}

// WaitDuration returns the step's wait, or zero when it is not a
// duration.
func (s *EscalationStep) WaitDuration() time.Duration {
	d, err := time.ParseDuration(s.Wait)
	if err != nil {
		return 0
	}
	return d
}

// validateEscalations checks the roster's escalation policies against its
// people and groups, naming each problem with bad.
func (r *Roster) validateEscalations(bad func(key, format string, args ...any), people, groups map[string]int) {
	if len(r.Escalations) > MaxEscalations {
		bad("escalations", "lists %d policies; the limit is %d", len(r.Escalations), MaxEscalations)
	}
	ids := make(map[string]int, len(r.Escalations))
	for i := range r.Escalations {
		p := &r.Escalations[i]
		key := fmt.Sprintf("escalations[%d]", i)
		if p.ID != "" {
			key = fmt.Sprintf("escalations[%d] (%s)", i, shortPrintable(p.ID))
		}
		switch err := CheckLine(key+".name", p.Name); {
		case err != nil:
			bad(key+".name", "%s", err.(*FieldError).Message)
		case len(p.Name) > MaxNameBytes:
			bad(key+".name", "is %d bytes; the limit is %d", len(p.Name), MaxNameBytes)
		}
		switch {
		case p.ID == "":
			bad(key+".id", "is required")
		case !ValidID(p.ID):
			bad(key+".id", "%s %s", quoteShort(p.ID), errBadID)
		default:
			if j, dup := ids[p.ID]; dup {
				bad(key+".id", "%q is also used by escalations[%d]", p.ID, j)
			}
			ids[p.ID] = i
		}
		if p.Repeat < 0 || p.Repeat > MaxEscalationRepeat {
			bad(key+".repeat", "%d must be from 0 to %d", p.Repeat, MaxEscalationRepeat)
		}
		switch {
		case len(p.Steps) == 0:
			bad(key+".steps", "is empty: list at least one step with to and wait")
		case len(p.Steps) > MaxEscalationSteps:
			bad(key+".steps", "lists %d steps; the limit is %d", len(p.Steps), MaxEscalationSteps)
		}
		for j := range p.Steps {
			s := &p.Steps[j]
			skey := fmt.Sprintf("%s.steps[%d]", key, j)
			if len(s.To) == 0 {
				bad(skey+".to", "is empty: list %s", stepForms)
			}
			for k, t := range s.To {
				tkey := fmt.Sprintf("%s.to[%d]", skey, k)
				switch {
				case strings.HasPrefix(t, TargetEscalationPrefix):
					bad(tkey, "%s %s", quoteShort(t), errEscalationInStep)
				case CheckTarget(t) != "":
					bad(tkey, "%s %s", quoteShort(t), CheckTarget(t))
				case strings.HasPrefix(t, TargetPersonPrefix):
					if _, ok := people[strings.TrimPrefix(t, TargetPersonPrefix)]; !ok {
						bad(tkey, "unknown person %s", quoteShort(strings.TrimPrefix(t, TargetPersonPrefix)))
					}
				case strings.HasPrefix(t, TargetGroupPrefix):
					if _, ok := groups[strings.TrimPrefix(t, TargetGroupPrefix)]; !ok {
						bad(tkey, "unknown group %s", quoteShort(strings.TrimPrefix(t, TargetGroupPrefix)))
					}
				case strings.HasPrefix(t, TargetSchedulePrefix):
					if _, ok := r.Schedule(strings.TrimPrefix(t, TargetSchedulePrefix)); !ok {
						bad(tkey, "unknown schedule %s", quoteShort(strings.TrimPrefix(t, TargetSchedulePrefix)))
					}
				}
				if slices.Index(s.To, t) < k {
					bad(tkey, "%s is listed twice", quoteShort(t))
				}
			}
			d, err := time.ParseDuration(s.Wait)
			switch {
			case s.Wait == "":
				bad(skey+".wait", "is required: a duration such as 5m")
			case err != nil:
				bad(skey+".wait", "%s is not a duration such as 5m or 1h30m", quoteShort(s.Wait))
			case d < MinEscalationWait || d > MaxEscalationWait:
				bad(skey+".wait", "%s must be from %s to %s", s.Wait, fmtWait(MinEscalationWait), fmtWait(MaxEscalationWait))
			}
		}
	}
}

// fmtWait writes a wait the way a roster would: 1m, 24h.
func fmtWait(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// EscalationPlan is an escalation policy as a message follows it: taken
// from the roster when the message was accepted, with its waits as the
// accepting node ran them, so every node fires the same steps at the
// same times whatever the roster or their configuration says later.
type EscalationPlan struct {
	Policy string        `json:"policy"`
	Name   string        `json:"name,omitempty"`
	Steps  []PlannedStep `json:"steps"`
	Repeat int           `json:"repeat,omitempty"`
}

// PlannedStep is one step of an EscalationPlan.
type PlannedStep struct {
	To   []string      `json:"to"`
	Wait time.Duration `json:"wait"`
}

// NewEscalationPlan returns the plan a message follows for policy p,
// every wait divided by speedup (1 or less runs it as written).
func NewEscalationPlan(p *EscalationPolicy, speedup int) *EscalationPlan {
	speedup = max(speedup, 1)
	plan := &EscalationPlan{Policy: p.ID, Name: p.Name, Repeat: p.Repeat, Steps: make([]PlannedStep, len(p.Steps))}
	for i := range p.Steps {
		plan.Steps[i] = PlannedStep{To: slices.Clone(p.Steps[i].To), Wait: p.Steps[i].WaitDuration() / time.Duration(speedup)}
	}
	return plan
}

// Positions counts the steps the plan fires in all, its first included,
// before it runs out: every step once per round.
func (p *EscalationPlan) Positions() int { return len(p.Steps) * (p.Repeat + 1) }

// At returns the round and step of position k (0 is the first step of
// the first round, which the message itself notifies).
func (p *EscalationPlan) At(k int) (round, step int) { return k / len(p.Steps), k % len(p.Steps) }

// Due returns when position k is due for a message accepted at start:
// after the waits of every position before it. Position Positions() is
// when the plan runs out. Times count from acceptance, not from when the
// step before fired, so a late step does not delay the ones after it.
func (p *EscalationPlan) Due(start time.Time, k int) time.Time {
	at := start
	for i := 0; i < k; i++ {
		at = at.Add(p.Steps[i%len(p.Steps)].Wait)
	}
	return at
}

// Check reports what is wrong with a plan received from elsewhere.
func (p *EscalationPlan) Check() error {
	if p.Policy == "" || len(p.Steps) == 0 || len(p.Steps) > MaxEscalationSteps || p.Repeat < 0 || p.Repeat > MaxEscalationRepeat {
		return fmt.Errorf("escalation plan %q has %d steps and %d repeats", p.Policy, len(p.Steps), p.Repeat)
	}
	for i := range p.Steps {
		if p.Steps[i].Wait <= 0 {
			return fmt.Errorf("escalation plan %q: step %d has no wait", p.Policy, i+1)
		}
	}
	return nil
}

// Escalated records that one step of a message's escalation fired: the
// people it notified for the first time (Recipients, whose deliveries the
// fold creates) and, in a repeat round, the deliveries it opened again
// for people notified before (Reopen). When the steps ran out it records
// the message that told the commanders (Notice) instead.
//
// (Message, Round, Step) identifies the step: two nodes that both fire it
// make one step, whose notified people are the union of theirs and whose
// deliveries, named by message, channel and person, are the same.
type Escalated struct {
	Message  string `json:"message"`
	Incident string `json:"incident"`
	Policy   string `json:"policy"`
	Round    int    `json:"round"`
	Step     int    `json:"step"`
	// Due is when the step was due; At when it fired.
	Due time.Time `json:"due"`
	At  time.Time `json:"at"`
	// Notified lists every person the step is for (those already
	// notified in this round are left out).
	Notified   []string         `json:"notified,omitempty"`
	Recipients []Recipient      `json:"recipients,omitempty"`
	Reopen     []DeliveryChange `json:"reopen,omitempty"`
	// Unreachable lists people of the step with no channel left to try.
	Unreachable []string `json:"unreachable,omitempty"`
	// Priority and Deadline are those of the deliveries the step adds.
	Priority Priority  `json:"priority,omitempty"`
	Deadline time.Time `json:"deadline"`
	// Exhausted marks the step after the last: nobody acknowledged, and
	// Notice is the message that told the commanders.
	Exhausted bool   `json:"exhausted,omitempty"`
	Notice    string `json:"notice,omitempty"`
}

// check reports what is wrong with an Escalated received from elsewhere.
func (x *Escalated) check() error {
	if x.Message == "" || x.Incident == "" || x.Round < 0 || x.Step < 0 {
		return fmt.Errorf("escalation step without message, incident or position")
	}
	for i := range x.Recipients {
		if x.Recipients[i].Person.ID == "" {
			return fmt.Errorf("escalation step: recipient %d has no person", i)
		}
	}
	for i := range x.Reopen {
		if !strings.HasPrefix(x.Reopen[i].ID, x.Message+".") {
			return fmt.Errorf("escalation step: reopens %q, not a delivery of message %s", x.Reopen[i].ID, x.Message)
		}
	}
	return nil
}

// EscalationNoticeKey is the idempotency key of the message telling the
// commanders that message msgID's escalation ran out: every node derives
// the same, so two nodes that both tell them post one message.
func EscalationNoticeKey(msgID string) string { return "escalation-exhausted:" + msgID }

// EscalationOwnerID is what ownership of message msgID's escalation
// timer is hashed on.
func EscalationOwnerID(msgID string) string { return "escalation." + msgID }

// EscalationNoticeText tells the commanders that nobody acknowledged a
// message: the policy, the incident, the steps fired and the text, in
// Korean and then in English, as commanders read either and the notice
// goes to all of them.
func EscalationNoticeText(plan *EscalationPlan, m *Message, fired int) string {
	name := plan.Policy
	if plan.Name != "" {
		name = plan.Name + " (" + plan.Policy + ")"
	}
	text := cut(strings.Join(strings.Fields(m.Text), " "), summaryQuoteRunes)
	return fmt.Sprintf("인시던트 %s: 아무도 확인하지 않았습니다. 에스컬레이션 %s의 %d단계가 모두 끝났습니다. 메시지: %s\n"+
		"Nobody acknowledged incident %s: escalation %s ran out after %d steps. Message: %s",
		m.Incident, name, fired, text, m.Incident, name, fired, text)
}

// checkEscalationTo refuses an audience that names an escalation policy
// beside other targets: the policy's steps say who is told.
func checkEscalationTo(to []string) error {
	names := 0
	for _, t := range distinct(to) {
		if strings.HasPrefix(t, TargetEscalationPrefix) {
			names++
		}
	}
	if names > 0 && len(distinct(to)) > 1 {
		return &FieldError{"to", "names an escalation policy with other targets: an escalation policy must be the whole audience, as its steps say who is told and when"}
	}
	return nil
}

// escalationPlan returns the plan of the escalation policy to names, or
// nil when it names none (NewMessage has resolved the audience, so the
// policy is in the roster).
func escalationPlan(to []string, roster *Roster, speedup int) *EscalationPlan {
	for _, t := range to {
		if id, ok := strings.CutPrefix(t, TargetEscalationPrefix); ok {
			if p, ok := roster.Escalation(id); ok {
				return NewEscalationPlan(p, speedup)
			}
		}
	}
	return nil
}

// position returns the place of a fired step among its plan's
// positions (see EscalationPlan.At).
func (p *EscalationPlan) position(x *Escalated) int { return x.Round*len(p.Steps) + x.Step }

// NextEscalation returns the position of the next step of plan to fire,
// given the steps that fired: the first one after the message's own that
// has not. Positions() means the commanders are next; more means the
// escalation ran out.
func NextEscalation(plan *EscalationPlan, steps []Escalated) int {
	if plan == nil {
		return 0
	}
	fired := map[int]bool{}
	for i := range steps {
		fired[plan.position(&steps[i])] = true
	}
	k := 1
	for k <= plan.Positions() && fired[k] {
		k++
	}
	return k
}

// NotifiedInRound returns the people notified in round of m's
// escalation so far: those the steps of the round notified and, in the
// first round, the message's own recipients. m is the message with the
// people its steps added (as the store gives it).
func NotifiedInRound(m *Message, steps []Escalated, round int) map[string]bool {
	out := map[string]bool{}
	if round == 0 {
		for _, p := range firstStep(m, steps) {
			out[p] = true
		}
	}
	for i := range steps {
		if steps[i].Round == round {
			for _, p := range steps[i].Notified {
				out[p] = true
			}
		}
	}
	return out
}

// firstStep returns the people the message itself notified: its
// recipients but those a later step added.
func firstStep(m *Message, steps []Escalated) []string {
	added := map[string]bool{}
	for i := range steps {
		for _, r := range steps[i].Recipients {
			added[r.Person.ID] = true
		}
	}
	var out []string
	for _, r := range m.Recipients {
		if !added[r.Person.ID] {
			out = append(out, r.Person.ID)
		}
	}
	return out
}

// EscalationProgress is where a message's escalation stands.
type EscalationProgress struct {
	Policy string `json:"policy"`
	Name   string `json:"name,omitempty"`
	// Status is EscalationRunning, EscalationAcknowledged or
	// EscalationExhausted.
	Status string `json:"status"`
	Repeat int    `json:"repeat"`
	// Steps lists the steps that fired and, while it runs, those still
	// to come, in order.
	Steps []StepProgress `json:"steps"`
	// ExhaustedAt is when the commanders were told, or are due to be
	// told while it runs; Notice is the message that told them.
	ExhaustedAt time.Time `json:"exhausted_at,omitzero"`
	Notice      string    `json:"notice,omitempty"`
	// AcknowledgedBy lists who acknowledged the message.
	AcknowledgedBy []string `json:"acknowledged_by,omitempty"`
}

// StepProgress is one step of a message's escalation.
type StepProgress struct {
	// Round and Step count from 1.
	Round int       `json:"round"`
	Step  int       `json:"step"`
	To    []string  `json:"to"`
	Wait  string    `json:"wait"`
	Due   time.Time `json:"due"`
	// FiredAt is zero while the step has not fired.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// Notified lists the people the step notified; Acknowledged those of
	// them who acknowledged the message.
	Notified     []string `json:"notified"`
	Acknowledged []string `json:"acknowledged"`
	Unreachable  []string `json:"unreachable,omitempty"`
}

// Progress returns where m's escalation stands, from the steps that fired
// and the message's acknowledgements; nil when m follows no policy.
func Progress(m *Message, steps []Escalated, acks []Ack) *EscalationProgress {
	plan := m.Escalation
	if plan == nil || len(plan.Steps) == 0 {
		return nil
	}
	acked := map[string]bool{}
	pr := &EscalationProgress{Policy: plan.Policy, Name: plan.Name, Repeat: plan.Repeat, Status: EscalationRunning,
		ExhaustedAt: plan.Due(m.AcceptedAt, plan.Positions())}
	for _, a := range acks {
		if !acked[a.Person] {
			acked[a.Person] = true
			pr.AcknowledgedBy = append(pr.AcknowledgedBy, a.Person)
		}
	}
	slices.Sort(pr.AcknowledgedBy)
	byPos := map[int][]*Escalated{}
	for i := range steps {
		k := plan.position(&steps[i])
		byPos[k] = append(byPos[k], &steps[i])
	}
	for _, x := range byPos[plan.Positions()] {
		if x.Exhausted {
			pr.Status = EscalationExhausted
			if pr.Notice == "" || x.At.Before(pr.ExhaustedAt) {
				pr.ExhaustedAt, pr.Notice = x.At, x.Notice
			}
		}
	}
	if len(acks) > 0 {
		pr.Status = EscalationAcknowledged
	}
	for k := 0; k < plan.Positions(); k++ {
		round, step := plan.At(k)
		s := StepProgress{Round: round + 1, Step: step + 1, To: plan.Steps[step].To, Wait: fmtWait(plan.Steps[step].Wait),
			Due: plan.Due(m.AcceptedAt, k), Notified: []string{}, Acknowledged: []string{}}
		switch {
		case k == 0:
			s.FiredAt = m.AcceptedAt
			s.Notified = append(s.Notified, firstStep(m, steps)...)
			s.Unreachable = m.Unreachable
		case len(byPos[k]) > 0:
			for _, x := range byPos[k] {
				if s.FiredAt.IsZero() || x.At.Before(s.FiredAt) {
					s.FiredAt = x.At
				}
				for _, p := range x.Notified {
					if !slices.Contains(s.Notified, p) {
						s.Notified = append(s.Notified, p)
					}
				}
				for _, p := range x.Unreachable {
					if !slices.Contains(s.Unreachable, p) {
						s.Unreachable = append(s.Unreachable, p)
					}
				}
			}
		case pr.Status != EscalationRunning:
			continue // never to fire
		}
		for _, p := range s.Notified {
			if acked[p] {
				s.Acknowledged = append(s.Acknowledged, p)
			}
		}
		pr.Steps = append(pr.Steps, s)
	}
	if pr.Status == EscalationAcknowledged && pr.Notice == "" {
		pr.ExhaustedAt = time.Time{}
	}
	return pr
}
