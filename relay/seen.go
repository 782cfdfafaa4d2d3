package relay

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// Seen records that a request from outside was taken: a provider's
// webhook that changes state and that the rest of the log cannot tell
// from a new one (a key pressed in a call, an incoming SMS), named by Key. Folded into the store of every node, it is
// the cluster's memory of the requests it took, so that the same request
// sent again, to this node after a restart or to any other node, is taken
// as a duplicate that changes nothing. The memory keeps a key until its
// Until has passed; the latest Until of a key wins.
type Seen struct {
	// Key names the request by what its sender signed, such as
	// "twilio:sms:SM…" for an incoming SMS; at most MaxSeenKey bytes.
	Key string `json:"key"`
	// Until is when the key may be forgotten: the request is refused by
	// its age, or can do no harm, from then on.
	Until time.Time `json:"until"`
}

// MaxSeenKey bounds the length of a Seen key.
const MaxSeenKey = 256

// MaxSeenFor bounds how long a key is kept after the event that recorded
// it, whatever its Until says: a year.
const MaxSeenFor = 366 * 24 * time.Hour

// Check reports what is wrong with a Seen record.
func (s *Seen) Check() error {
	switch {
	case s.Key == "":
		return fmt.Errorf("seen record without a key")
	case len(s.Key) > MaxSeenKey:
		return fmt.Errorf("seen key is %d bytes; the limit is %d", len(s.Key), MaxSeenKey)
	case !utf8.ValidString(s.Key):
		return fmt.Errorf("seen key is not valid UTF-8")
	case s.Until.IsZero():
		return fmt.Errorf("seen record %q without an until time", s.Key)
	}
	return nil
}

// Memory is the cluster's memory of requests taken from outside, by key
// (see Seen). A node implements it over its store; the record of a key
// reaches every node as the rest of the log does.
type Memory interface {
	// Seen reports whether key is remembered now.
	Seen(key string) (bool, error)
	// Remember records key until until. It returns once the record is on
	// disk here; peers get it as every event.
	Remember(ctx context.Context, key string, until time.Time) error
}
