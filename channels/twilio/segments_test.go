package twilio

import (
	"strings"
	"testing"
)

func TestSegmentsKeepsTwiliosCountOnlyWhenItDiffers(t *testing.T) {
	korean := "[긴급] db-fire\n" + strings.Repeat("가", 80) // UCS-2, 2 parts
	english := "[CRITICAL] db-fire\nFire."               // GSM-7, 1 part
	str := func(s string) *string { return &s }
	tests := []struct {
		body   string
		twilio *string
		ours   int
		theirs int
	}{
		{korean, str("2"), 2, 0},
		{korean, str("3"), 2, 3},
		{korean, str("0"), 2, 0}, // a messaging service has not counted yet
		{korean, nil, 2, 0},
		{korean, str("two"), 2, 0},
		{english, str("1"), 1, 0},
		{english, str("2"), 1, 2},
	}
	for _, tt := range tests {
		ours, theirs := segments(tt.body, tt.twilio)
		if ours != tt.ours || theirs != tt.theirs {
			t.Errorf("segments(%.20q, %v) = %d, %d; want %d, %d", tt.body, tt.twilio, ours, theirs, tt.ours, tt.theirs)
		}
	}
}
