package relay

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"time"
	"unicode"
)

// ReplyWindow is how long an incident stays open for replies after its
// last message, and how long a reply code is never given to another
// incident of the same person.
const ReplyWindow = 72 * time.Hour

// CommandKind says what an inbound text asks for.
type CommandKind int

// Command kinds.
const (
	// CommandText is free text to post to an incident.
	CommandText CommandKind = iota
	// CommandAck acknowledges an incident: "1", "ACK", "확인", optionally
	// with a reply code ("ACK KP47").
	CommandAck
	// CommandStop, CommandStart and CommandHelp are the keywords carriers
	// require (STOP, START, HELP and their synonyms), as whole messages.
	CommandStop
	CommandStart
	CommandHelp
)

// Command is an inbound text, parsed.
type Command struct {
	Kind CommandKind
	// Code is a reply code the text begins with, or that follows ACK. It
	// is only a candidate: the text may begin with a word that looks like
	// one. Upper case.
	Code string
	// Incident is the incident named by a "#incident-id" prefix.
	Incident string
	// Text is the text to post, without any prefix; for CommandText only.
	Text string
	// Body is the whole text as received, trimmed.
	Body string
}

var (
	stopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "중지", "수신거부"}
	startWords = []string{"START", "YES", "UNSTOP", "OPTIN", "시작"}
	helpWords  = []string{"HELP", "INFO", "도움말"}
	ackWords   = []string{"1", "ACK", "확인"}
)

// ParseCommand parses the text of an SMS, email or NATS reply.
func ParseCommand(text string) Command {
	body := strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	c := Command{Kind: CommandText, Body: body, Text: body}
	word, rest := cutWord(body)
	upper := strings.ToUpper(strings.TrimRight(word, ".!"))
	switch {
	case rest == "" && slices.Contains(stopWords, upper):
		c.Kind = CommandStop
	case rest == "" && slices.Contains(startWords, upper):
		c.Kind = CommandStart
	case rest == "" && slices.Contains(helpWords, upper):
		c.Kind = CommandHelp
	case slices.Contains(ackWords, upper):
		code, more := cutWord(rest)
		switch {
		case rest == "":
			c.Kind = CommandAck
		case more == "" && LooksLikeReplyCode(code):
			c.Kind, c.Code = CommandAck, strings.ToUpper(code)
		}
	case strings.HasPrefix(word, "#") && len(word) > 1 && rest != "":
		c.Incident, c.Text = word[1:], rest
	case rest != "" && LooksLikeReplyCode(word):
		c.Code, c.Text = strings.ToUpper(word), rest
	}
	if c.Kind != CommandText {
		c.Text = ""
	}
	return c
}

func cutWord(s string) (word, rest string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// Reply codes are two consonants and two digits, such as KP47: easy to
// read out and type on a phone, and never a word.
const (
	codeLetters = "BCDFGHJKLMNPQRSTVWXZ"
	codeDigits  = "23456789"
)

// LooksLikeReplyCode reports whether s has the shape of a reply code, in
// any case.
func LooksLikeReplyCode(s string) bool {
	if len(s) != 4 {
		return false
	}
	s = strings.ToUpper(s)
	return strings.IndexByte(codeLetters, s[0]) >= 0 && strings.IndexByte(codeLetters, s[1]) >= 0 &&
		strings.IndexByte(codeDigits, s[2]) >= 0 && strings.IndexByte(codeDigits, s[3]) >= 0
}

// replyCodeCandidate is the n-th candidate code of person for incident.
func replyCodeCandidate(person, incident string, n int) string {
	h := sha256.New()
	h.Write([]byte(person))
	h.Write([]byte{0})
	h.Write([]byte(incident))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
	sum := h.Sum(nil)
	return string([]byte{codeLetters[int(sum[0])%len(codeLetters)], codeLetters[int(sum[1])%len(codeLetters)],
		codeDigits[int(sum[2])%len(codeDigits)], codeDigits[int(sum[3])%len(codeDigits)]})
}

// ReplyCodes gives each incident its reply code for a person. Every node
// computes the same codes from the same incidents, without coordination:
// an incident takes the first candidate, from a hash of the person and
// the incident, that no incident opened before it within ReplyWindow
// already has. So a person's code is never another incident's within 72
// hours, and an incident's code never changes. Pass every incident: the
// person's own are among them.
func ReplyCodes(person string, incidents []Incident) map[string]string {
	sorted := slices.Clone(incidents)
	slices.SortFunc(sorted, func(a, b Incident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), strings.Compare(a.ID, b.ID))
	})
	codes := make(map[string]string, len(sorted))
	for i, inc := range sorted {
	candidates:
		for n := 0; ; n++ {
			code := replyCodeCandidate(person, inc.ID, n)
			for _, prev := range sorted[:i] {
				if inc.OpenedAt.Sub(prev.OpenedAt) < ReplyWindow && codes[prev.ID] == code {
					continue candidates
				}
			}
			codes[inc.ID] = code
			break
		}
	}
	return codes
}
