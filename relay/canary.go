package relay

import (
	"errors"
	"strings"
	"time"
)

// A provider canary is a test message sent now and then through one
// provider, straight to a configured number or address (no person, no
// incident), whose receipt tells whether the provider still delivers. A
// canary whose receipt is late or missing demotes its provider behind the
// next provider of its channel; a healthy one promotes it again. Each
// step is a Canary event: the owner of the provider's canary writes that
// it sent one and its verdicts, and the node a receipt reaches writes the
// receipt, so every node holds the same demotions.

// CanaryPrefix starts the id of every canary attempt; its webhooks are
// under relay.WebhookPrefix + id like a delivery's.
const CanaryPrefix = "canary."

// IsCanary reports whether a webhook's id names a canary attempt.
func IsCanary(id string) bool { return strings.HasPrefix(id, CanaryPrefix) }

// canaryTime is the form of a canary attempt's time in its id.
const canaryTime = "20060102T150405.000000000"

// CanaryID names the canary attempt of provider made at t.
func CanaryID(provider string, t time.Time) string {
	return CanaryPrefix + provider + "." + t.UTC().Format(canaryTime)
}

// CanaryProvider returns the provider a canary id names.
func CanaryProvider(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, CanaryPrefix)
	if !ok || len(rest) < len(canaryTime)+2 {
		return "", false
	}
	p := rest[:len(rest)-len(canaryTime)-1]
	if _, err := time.Parse(canaryTime, rest[len(p)+1:]); err != nil || rest[len(p)] != '.' || !ValidID(p) {
		return "", false
	}
	return p, true
}

// Canary is one step of a provider's canary. Exactly one of Sent,
// Receipt and Verdict is set.
type Canary struct {
	Provider string `json:"provider"`
	Channel  string `json:"channel"`
	// ID names the canary attempt (CanaryID); empty on a verdict.
	ID      string         `json:"id,omitempty"`
	Sent    *CanarySent    `json:"sent,omitempty"`
	Receipt *CanaryReceipt `json:"receipt,omitempty"`
	Verdict *CanaryVerdict `json:"verdict,omitempty"`
}

// CanarySent records that a canary attempt reached the provider.
type CanarySent struct {
	// ProviderID is the provider's id of the attempt; empty when the
	// provider refused it, and Error says why.
	ProviderID string    `json:"provider_id"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
	// By is the node that sent it; it must be the event's writer.
	By string `json:"by"`
}

// CanaryReceipt is the provider's receipt of a canary attempt.
type CanaryReceipt struct {
	ProviderID string    `json:"provider_id"`
	Status     Status    `json:"status"`
	At         time.Time `json:"at"`
}

// CanaryVerdict demotes a provider (its canary's receipt is late or
// missing, or the attempt failed) or promotes it again. The verdict with
// the latest clock stands.
type CanaryVerdict struct {
	Demoted bool   `json:"demoted"`
	Reason  string `json:"reason"`
	// Canary is the attempt the verdict is about.
	Canary string    `json:"canary,omitempty"`
	At     time.Time `json:"at"`
	// By is the node that gave it; it must be the event's writer.
	By string `json:"by"`
}

// Demotion is where a provider stands after the verdicts folded so far.
type Demotion struct {
	Provider string    `json:"provider"`
	Channel  string    `json:"channel"`
	Demoted  bool      `json:"demoted"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

func (c *Canary) check() error {
	n := 0
	for _, set := range []bool{c.Sent != nil, c.Receipt != nil, c.Verdict != nil} {
		if set {
			n++
		}
	}
	switch {
	case c.Provider == "" || !KnownChannel(c.Channel):
		return errors.New("canary without provider or channel")
	case n != 1:
		return errors.New("canary step with other than exactly one of sent, receipt and verdict")
	case c.Verdict == nil && !IsCanary(c.ID):
		return errors.New("canary attempt without a canary id")
	case c.Receipt != nil && c.Receipt.Status != StatusDelivered && c.Receipt.Status != StatusFailed:
		return errors.New("canary receipt neither delivered nor failed")
	}
	return nil
}
