package relay

import (
	"testing"
	"time"
)

// FuzzCanaryProvider reads the provider out of a webhook's canary id, an
// outside input: it never panics, and a provider it finds is a valid id
// whose canary ids start the input.
func FuzzCanaryProvider(f *testing.F) {
	f.Add(CanaryID("twilio-a", time.Date(2026, 12, 2, 5, 0, 0, 123, time.UTC)))
	f.Add("canary.")
	f.Add("canary.x.20261202T050000.000000000")
	f.Add("canary..20261202T050000.000000000")
	f.Fuzz(func(t *testing.T, id string) {
		p, ok := CanaryProvider(id)
		if !ok {
			return
		}
		if !ValidID(p) || len(id) <= len(CanaryPrefix+p+".") || id[:len(CanaryPrefix+p+".")] != CanaryPrefix+p+"." {
			t.Fatalf("CanaryProvider(%q) = %q", id, p)
		}
	})
}

func TestCanaryProvider(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for _, p := range []string{"twilio-a", "a", "twilio-voice-backup-2"} {
		if got, ok := CanaryProvider(CanaryID(p, at)); !ok || got != p {
			t.Errorf("CanaryProvider(CanaryID(%q)) = %q, %v", p, got, ok)
		}
	}
	for _, id := range []string{"", "canary.", "01JDELIVERY.sms.kim", "canary.twilio-a.yesterday", "canary.Bad_Name.20261202T050000.000000000"} {
		if p, ok := CanaryProvider(id); ok {
			t.Errorf("CanaryProvider(%q) = %q, want none", id, p)
		}
	}
}
