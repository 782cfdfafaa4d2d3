package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/channels/twilio"
	"github.com/oob-relay/relay/channels/twilio/emulator"
	"github.com/oob-relay/relay/relay"
)

// What a demo person did, as relay dev plays it.
const (
	sentSMS  = "sms"
	sentKey  = "key"
	sentMail = "email"
)

// sentItem is something a demo person sent: an SMS, keys pressed in a
// call or a mail, and what relay answered at once.
type sentItem struct {
	At     time.Time
	Person string
	Kind   string
	Text   string
	// Answer is the text of the TwiML answer to an SMS or a key press.
	Answer string
	// Node is the node it went to.
	Node string
}

func (s *Stack) record(it sentItem) {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	s.sent = append(s.sent, it)
}

func (s *Stack) sentBy(person string) []sentItem {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	var out []sentItem
	for _, it := range s.sent {
		if it.Person == person {
			out = append(out, it)
		}
	}
	return out
}

// running returns a running node: name's when given, else the first.
func (s *Stack) running(name string) (*devNode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.srv != nil && (name == "" || n.cfg.Node.Name == name) {
			return n, nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("node %s is not running", name)
	}
	return nil, errors.New("no node is running")
}

// person finds a demo person in the roster node n applies.
func (s *Stack) person(n *devNode, id string) (*relay.Person, error) {
	s.mu.Lock()
	srv := n.srv
	s.mu.Unlock()
	if srv == nil {
		return nil, fmt.Errorf("node %s is not running", n.cfg.Node.Name)
	}
	r, err := srv.Node.Roster()
	if err != nil {
		return nil, err
	}
	p, ok := r.Person(id)
	if !ok {
		ids := make([]string, 0, len(r.People))
		for _, q := range r.People {
			ids = append(ids, q.ID)
		}
		return nil, fmt.Errorf("no person %q in the roster (people: %s)", id, strings.Join(ids, ", "))
	}
	return p, nil
}

// Reply has person answer text on their phone if they take SMS, else by
// a reply to the latest mail they received, through a running node.
// relay takes it for the person's latest open incident (or roll-call,
// for a digit).
func (s *Stack) Reply(ctx context.Context, person, text string) (string, error) {
	n, err := s.running("")
	if err != nil {
		return "", err
	}
	p, err := s.person(n, person)
	if err != nil {
		return "", err
	}
	if p.Phone != "" && slices.Contains(p.Channels, relay.ChannelSMS) {
		return s.SendSMS(ctx, n, p, text)
	}
	if p.Email != "" {
		m, ok := s.latestMail(p.Email)
		if !ok {
			return "", fmt.Errorf("%s has received no mail to reply to", person)
		}
		return "", s.SendMail(ctx, n, p, m.MessageID, text)
	}
	return "", fmt.Errorf("%s has neither SMS nor email to answer with", person)
}

// SendSMS texts body from p's phone to relay's number: the emulator posts
// it to node n's incoming SMS webhook, signed as Twilio signs it. It
// returns the text of relay's answer, if any.
func (s *Stack) SendSMS(ctx context.Context, n *devNode, p *relay.Person, body string) (string, error) {
	if p.Phone == "" {
		return "", fmt.Errorf("%s has no phone", p.ID)
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return "", errors.New("the SMS is empty")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r, err := s.emu.SendInbound(ctx, emulator.Inbound{URL: n.cfg.HTTP.PublicURL + twilio.InboundSMSPath,
		From: p.Phone, To: fromNumber, Body: body})
	answer := twimlText(r.Body, "Message")
	s.record(sentItem{At: time.Now(), Person: p.ID, Kind: sentSMS, Text: body, Answer: answer, Node: n.cfg.Node.Name})
	if err != nil {
		return "", err
	}
	if r.Status != 200 {
		return "", fmt.Errorf("the SMS webhook answered %d", r.Status)
	}
	return answer, nil
}

// Press has the person on call sid press digits into the call's Gather;
// the emulator posts the signed Gather callback to the node that placed
// the call.
func (s *Stack) Press(ctx context.Context, p *relay.Person, sid, digits string) (string, error) {
	if digits == "" || strings.Trim(digits, "0123456789*#") != "" {
		return "", fmt.Errorf("%q are not phone keys (0-9, * and #)", digits)
	}
	call, ok := s.call(sid)
	if !ok || call.To != p.Phone {
		return "", fmt.Errorf("no call %s to %s", sid, p.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r, err := s.emu.Press(ctx, sid, digits)
	answer := twimlText(r.Body, "Say")
	s.record(sentItem{At: time.Now(), Person: p.ID, Kind: sentKey, Text: digits, Answer: answer})
	return answer, err
}

func (s *Stack) call(sid string) (emulator.Call, bool) {
	for _, c := range s.emu.Calls() {
		if c.SID == sid {
			return c, true
		}
	}
	return emulator.Call{}, false
}

// mailsTo lists the mails the sink received for addr, oldest first.
func (s *Stack) mailsTo(addr string) []mailsink.Mail {
	var out []mailsink.Mail
	for _, m := range s.sink.Mails() {
		if slices.ContainsFunc(m.Envelope.To, func(to string) bool { return strings.EqualFold(to, addr) }) {
			out = append(out, m)
		}
	}
	return out
}

func (s *Stack) latestMail(addr string) (mailsink.Mail, bool) {
	ms := s.mailsTo(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		if len(ms[i].ReplyTo) > 0 {
			return ms[i], true
		}
	}
	return mailsink.Mail{}, false
}

// SendMail has p answer the mail with Message-ID inReplyTo, as a mail
// client does: to its Reply-To address, with In-Reply-To and References,
// delivered to node n's SMTP server.
func (s *Stack) SendMail(ctx context.Context, n *devNode, p *relay.Person, inReplyTo, text string) error {
	var orig *mailsink.Mail
	for _, m := range s.mailsTo(p.Email) {
		if m.MessageID == inReplyTo {
			orig = &m
		}
	}
	if orig == nil || len(orig.ReplyTo) == 0 {
		return fmt.Errorf("%s received no mail %q with a reply address", p.ID, inReplyTo)
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("the reply is empty")
	}
	raw, err := replyMail(p, orig, text, time.Now())
	if err != nil {
		return err
	}
	to := orig.ReplyTo[0].Address
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.cfg.Inbound.Email.Listen)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("phone.localhost"); err != nil {
		return err
	}
	if err := c.SendMail(p.Email, []string{to}, bytes.NewReader(raw)); err != nil {
		return err
	}
	s.record(sentItem{At: time.Now(), Person: p.ID, Kind: sentMail, Text: text, Node: n.cfg.Node.Name})
	return c.Quit()
}

// replyMail writes p's reply to orig.
func replyMail(p *relay.Person, orig *mailsink.Mail, text string, now time.Time) ([]byte, error) {
	var h gomail.Header
	h.SetDate(now)
	h.SetAddressList("From", []*gomail.Address{{Name: p.Name, Address: p.Email}})
	h.SetAddressList("To", []*gomail.Address{{Address: orig.ReplyTo[0].Address}})
	subject := orig.Subject
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	h.SetSubject(subject)
	if err := h.GenerateMessageIDWithHostname("phone.localhost"); err != nil {
		return nil, err
	}
	h.SetMsgIDList("In-Reply-To", []string{orig.MessageID})
	h.SetMsgIDList("References", append(slices.Clone(orig.References), orig.MessageID))
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	var b bytes.Buffer
	w, err := message.CreateWriter(&b, h.Header)
	if err != nil {
		return nil, err
	}
	quoted := "> " + strings.ReplaceAll(strings.TrimRight(orig.Text, "\n"), "\n", "\n> ")
	if _, err := fmt.Fprintf(w, "%s\n\n%s\n", strings.TrimSpace(text), quoted); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Ack has person acknowledge their latest open incident, as Reply does
// with the text ACK.
func (s *Stack) Ack(ctx context.Context, person string) (string, error) {
	return s.Reply(ctx, person, "ACK")
}

// Answer has person answer their latest open roll-call with option n, as
// Reply does with the digit alone.
func (s *Stack) Answer(ctx context.Context, person string, n int) (string, error) {
	if n < 1 || n > 9 {
		return "", fmt.Errorf("answer %d: a roll-call's options are 1 to 9", n)
	}
	return s.Reply(ctx, person, strconv.Itoa(n))
}
