// Package hlc is a hybrid logical clock: timestamps that follow wall time
// closely but never go backwards and always order an event after every
// event its node has seen, whatever the wall clocks of other nodes say.
//
// A Timestamp packs milliseconds since the Unix epoch in its upper 48 bits
// and a logical counter in its lower 16, so timestamps compare as plain
// integers.
package hlc

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// Timestamp is a hybrid logical clock reading.
type Timestamp uint64

const logicalBits = 16

// Make builds a Timestamp from a wall time and a logical counter.
func Make(t time.Time, logical uint16) Timestamp {
	return Timestamp(uint64(t.UnixMilli())<<logicalBits | uint64(logical))
}

// Time returns the wall-clock part.
func (t Timestamp) Time() time.Time {
	return time.UnixMilli(int64(t >> logicalBits)).UTC()
}

// Logical returns the counter part.
func (t Timestamp) Logical() uint16 { return uint16(t) }

func (t Timestamp) String() string {
	return t.Time().Format("2006-01-02T15:04:05.000Z") + "+" + strconv.Itoa(int(t.Logical()))
}

// Clock issues Timestamps. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	last Timestamp
	now  func() time.Time
}

// NewClock returns a clock reading wall time from now (time.Now if nil).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Now returns a timestamp later than every one returned or observed before.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.next(c.last)
	return c.last
}

// Observe moves the clock past a timestamp received from another node.
func (c *Clock) Observe(remote Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.last {
		c.last = remote
	}
}

// Last returns the latest timestamp issued or observed.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *Clock) next(after Timestamp) Timestamp {
	wall := Make(c.now(), 0)
	if wall > after {
		return wall
	}
	if after == math.MaxUint64 {
		// The largest reading there is: stay on it rather than wrap
		// to the smallest. Nodes refuse clocks far ahead of their wall
		// clocks, so this is reached only by a hand-made clock.
		return after
	}
	return after + 1
}
