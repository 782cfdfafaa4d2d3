package mailsink

import (
	"crypto/tls"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Stage is the point of an SMTP session a fault applies at.
type Stage string

// Stages, in session order.
const (
	// StageHello is the reply to EHLO (each connection's first, and the
	// one after STARTTLS).
	StageHello Stage = "EHLO"
	// StageMail is the reply to MAIL FROM.
	StageMail Stage = "MAIL"
	// StageRcpt is the reply to each RCPT TO.
	StageRcpt Stage = "RCPT"
	// StageData is the reply after the message's final dot; the message
	// has been read in full by then.
	StageData Stage = "DATA"
)

// Reply is an SMTP failure reply the sink sends instead of accepting.
type Reply struct {
	Code int // 451, 550, 554...
	// Enhanced is the RFC 3463 status code such as "4.3.0"; when empty the
	// reply carries the generic "X.0.0".
	Enhanced string
	Message  string
}

func (r Reply) smtpError() *smtp.SMTPError {
	e := &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: r.Message}
	if e.Message == "" {
		e.Message = "Rejected by test"
	}
	parts := strings.Split(r.Enhanced, ".")
	if len(parts) == 3 {
		var ec smtp.EnhancedCode
		ok := true
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			ok = ok && err == nil
			ec[i] = n
		}
		if ok {
			e.EnhancedCode = ec
		}
	}
	return e
}

// faults is the sink's script of failures, guarded by Sink.mu.
type faults struct {
	reject map[Stage]*rejectFault
	drop   map[Stage]int
	stall  map[Stage]*stallFault
	rcpt   map[string]Reply
}

type rejectFault struct {
	n     int
	reply Reply
}

type stallFault struct {
	d       time.Duration
	started chan struct{}
	once    sync.Once
}

func newFaults() faults {
	return faults{
		reject: map[Stage]*rejectFault{},
		drop:   map[Stage]int{},
		stall:  map[Stage]*stallFault{},
		rcpt:   map[string]Reply{},
	}
}

// RejectNext makes the next n sessions that reach stage at get reply r
// there instead of success. A later call for the same stage replaces the
// earlier one.
func (s *Sink) RejectNext(n int, at Stage, r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.reject[at] = &rejectFault{n: n, reply: r}
}

// RejectRecipient refuses RCPT TO for addr (compared without regard to
// case) until the faults are cleared. A zero Reply means
// "550 5.1.1 Mailbox unavailable".
func (s *Sink) RejectRecipient(addr string, r Reply) {
	if r.Code == 0 {
		r = Reply{Code: 550, Enhanced: "5.1.1", Message: "Mailbox unavailable"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rcpt[strings.ToLower(addr)] = r
}

// Stall makes every reply at stage wait d before it is sent (or until the
// sink closes), imitating a slow or hung server. d of zero removes the
// stall. The returned channel is closed when the first reply starts
// waiting, so a test can act once the server is stuck without sleeping.
func (s *Sink) Stall(at Stage, d time.Duration) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.faults.stall, at)
		c := make(chan struct{})
		close(c)
		return c
	}
	f := &stallFault{d: d, started: make(chan struct{})}
	s.faults.stall[at] = f
	return f.started
}

// DropNext makes the next n sessions that reach stage at lose their
// connection there, without a reply.
func (s *Sink) DropNext(n int, at Stage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.drop[at] = n
}

// ClearFaults removes every scripted failure.
func (s *Sink) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = newFaults()
}

// fault applies what is scripted for stage on conn: first a stall, then a
// dropped connection, then a rejection. It returns the error the session
// should answer with, or nil to go on.
func (s *Sink) fault(conn *smtp.Conn, at Stage) error {
	s.mu.Lock()
	stall := s.faults.stall[at]
	drop := s.faults.drop[at] > 0
	if drop {
		s.faults.drop[at]--
	}
	var reject *smtp.SMTPError
	if f := s.faults.reject[at]; !drop && f != nil && f.n > 0 {
		f.n--
		reject = f.reply.smtpError()
	}
	s.mu.Unlock()

	if stall != nil {
		stall.once.Do(func() { close(stall.started) })
		t := time.NewTimer(stall.d)
		select {
		case <-t.C:
		case <-s.done:
			// Closing ends the session here: going on would race the
			// connections being dropped, and a stalled transaction could
			// still go through.
			t.Stop()
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Sink shutting down"}
		}
	}
	if drop {
		nc := conn.Conn()
		if tc, ok := nc.(*tls.Conn); ok {
			nc = tc.NetConn() // no close_notify: the peer sees the connection vanish
		}
		nc.Close()
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Connection dropped by test"}
	}
	if reject != nil {
		return reject
	}
	return nil
}

// rejectedRecipient returns the reply scripted for addr, if any.
func (s *Sink) rejectedRecipient(addr string) (*smtp.SMTPError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.faults.rcpt[strings.ToLower(addr)]
	if !ok {
		return nil, false
	}
	return r.smtpError(), true
}
