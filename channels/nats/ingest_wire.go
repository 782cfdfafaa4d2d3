package nats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/oob-relay/relay/relay"
)

// MaxRequestBytes bounds a request's payload: ample for a message of
// relay.MaxTextBytes written as JSON escapes.
const MaxRequestBytes = 256 << 10

// Error codes of a refusal. Clients branch on them; timeout and
// unavailable are worth retrying with the same idempotency key.
const (
	CodeInvalidJSON  = "invalid_json"
	CodeUnknownField = "unknown_field"
	CodeInvalidField = "invalid_field"
	CodeTooLarge     = "body_too_large"
	CodeKeyReused    = "idempotency_key_reused"
	CodeNotFound     = "not_found"
	CodeTimeout      = "timeout"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
)

// Codes lists every error code.
var Codes = []string{CodeInvalidJSON, CodeUnknownField, CodeInvalidField, CodeTooLarge, CodeKeyReused,
	CodeNotFound, CodeTimeout, CodeUnavailable, CodeInternal}

// PostRequest is the body of a post request (post.v1.schema.json).
type PostRequest struct {
	relay.Post
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	Author         string `json:"author,omitempty"`
}

// AckRequest is the body of an ack request: a person acknowledges every
// message of an incident or one message. Exactly one of Incident and
// Message is set.
type AckRequest struct {
	Person   string `json:"person"`
	Incident string `json:"incident,omitempty"`
	Message  string `json:"message,omitempty"`
}

// PostReply answers an accepted post.
type PostReply struct {
	ID       string `json:"id"`
	Replayed bool   `json:"replayed"`
}

// AckReply answers an ack request.
type AckReply struct {
	Acked []string `json:"acked"`
}

// ErrorReply answers a refused request.
type ErrorReply struct {
	Error *Problem `json:"error"`
}

// Problem says why a request was refused. An Inbox may return one to
// choose the answer.
type Problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields lists every field at fault, when the problem is with fields.
	Fields []ProblemField `json:"fields,omitempty"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// ProblemField is what is wrong with one field. Field is the JSON path,
// such as "to[1]".
type ProblemField struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// fieldProblem lists fields in a Problem whose message joins them.
func fieldProblem(code string, fields []ProblemField) *Problem {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return &Problem{Code: code, Message: strings.Join(parts, "; "), Fields: fields}
}

// renderReply encodes a reply: compact UTF-8 JSON, Korean as is.
func renderReply(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // replies are structs of strings, bools and slices
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// decodePost reads and checks a post request; problems are a *Problem.
func decodePost(data []byte) (*PostRequest, error) {
	var r PostRequest
	fields, p := decodeObject(data, []wireField{
		{"incident", &r.Incident, "a string", false}, {"text", &r.Text, "a string", false},
		{"to", &r.To, kindStrings, false}, {"severity", &r.Severity, "a string", true},
		{"channels", &r.Channels, kindStrings, false},
		{"idempotency_key", &r.IdempotencyKey, "a string", false}, {"author", &r.Author, "a string", true},
	})
	if p != nil {
		return nil, p
	}
	if len(r.Channels) == 0 {
		r.Channels = nil // an empty list means no restriction, as an absent one
	}
	for _, e := range flattenErrors(r.Validate()) {
		if fe, ok := e.(*relay.FieldError); ok {
			fields = append(fields, ProblemField{fe.Field, fe.Message})
		}
	}
	switch k := r.IdempotencyKey; {
	case len(k) > relay.MaxIdempotencyKey:
		fields = append(fields, ProblemField{"idempotency_key", fmt.Sprintf("is %d bytes; the limit is %d", len(k), relay.MaxIdempotencyKey)})
	case strings.ContainsFunc(k, isControl):
		fields = append(fields, ProblemField{"idempotency_key", "must not contain control characters"})
	}
	if r.Author != "" && !relay.ValidID(r.Author) {
		fields = append(fields, ProblemField{"author", fmt.Sprintf("%q must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'", r.Author)})
	}
	if len(fields) > 0 {
		return nil, fieldProblem(CodeInvalidField, fields)
	}
	return &r, nil
}

// decodeAck reads and checks an ack request; problems are a *Problem.
func decodeAck(data []byte) (*AckRequest, error) {
	var r AckRequest
	fields, p := decodeObject(data, []wireField{
		{"person", &r.Person, "a string", false}, {"incident", &r.Incident, "a string", true},
		{"message", &r.Message, "a string", true},
	})
	if p != nil {
		return nil, p
	}
	bad := func(field, format string, args ...any) {
		if !slices.ContainsFunc(fields, func(f ProblemField) bool { return f.Field == field }) {
			fields = append(fields, ProblemField{field, fmt.Sprintf(format, args...)})
		}
	}
	const badID = "must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'"
	switch {
	case r.Person == "":
		bad("person", "is required: the id of the person who acknowledges")
	case !relay.ValidID(r.Person):
		bad("person", "%q %s", r.Person, badID)
	}
	switch {
	case r.Incident == "" && r.Message == "":
		bad("incident", "is required unless message is given: acknowledge an incident or one message")
	case r.Incident != "" && r.Message != "":
		bad("message", "cannot be combined with incident: acknowledge an incident or one message")
	case r.Incident != "" && !relay.ValidID(r.Incident):
		bad("incident", "%q %s", r.Incident, badID)
	case r.Message != "" && !validMessageID(r.Message):
		bad("message", "%q must be a message id: 1-64 characters of A-Z, a-z, 0-9 and '-'", r.Message)
	}
	if len(fields) > 0 {
		return nil, fieldProblem(CodeInvalidField, fields)
	}
	return &r, nil
}

func validMessageID(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	})
}

// kindStrings is the kind of a field that is a list of strings.
const kindStrings = "an array of strings"

// wireField is one field of a request: its name, where it goes, the JSON
// kind it must have, and whether "" is refused (for a field whose absence
// means a default, so that "" cannot mean it too).
type wireField struct {
	name    string
	dst     any
	kind    string
	noEmpty bool
}

// decodeObject reads one JSON object into fields, strictly: the payload
// must be valid UTF-8 within MaxRequestBytes, and every key one of the
// fields, given once, spelled exactly, with a value of its kind (null is
// no value). Every bad key is reported, not only the first. Empty values
// of noEmpty fields are returned for the caller's validation to add to.
func decodeObject(data []byte, fields []wireField) ([]ProblemField, *Problem) {
	switch {
	case len(data) > MaxRequestBytes:
		return nil, &Problem{Code: CodeTooLarge, Message: fmt.Sprintf("request is %d bytes; the limit is %d", len(data), MaxRequestBytes)}
	case len(bytes.TrimSpace(data)) == 0:
		return nil, &Problem{Code: CodeInvalidJSON, Message: "request is empty; send a JSON object"}
	case !utf8.Valid(data):
		return nil, &Problem{Code: CodeInvalidJSON, Message: "request is not valid UTF-8"}
	}
	if t := bytes.TrimSpace(data); t[0] != '{' && json.Valid(t) {
		return nil, &Problem{Code: CodeInvalidJSON, Message: "request must be a JSON object, not " + rawKind(t)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, syntaxProblem(err)
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	var unknown, wrong, empty []ProblemField
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxProblem(err)
		}
		key, _ := tok.(string) // More and Token guarantee a key here
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxProblem(err)
		}
		i := slices.Index(names, key)
		switch {
		case i < 0:
			unknown = append(unknown, ProblemField{key, "is not a field; the fields are " + strings.Join(names, ", ")})
		case seen[key]:
			wrong = append(wrong, ProblemField{key, "is given twice"})
		case fields[i].noEmpty && string(raw) == `""`:
			empty = append(empty, ProblemField{key, "must not be empty; leave the field out instead"})
		default:
			if p := decodeValue(key, raw, fields[i]); p != nil {
				wrong = append(wrong, *p)
			}
		}
		seen[key] = true
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Problem{Code: CodeInvalidJSON, Message: "unexpected data after the JSON object"}
	}
	switch {
	case len(unknown) > 0:
		return nil, fieldProblem(CodeUnknownField, slices.Concat(unknown, wrong, empty))
	case len(wrong) > 0:
		return nil, fieldProblem(CodeInvalidJSON, slices.Concat(wrong, empty))
	}
	return empty, nil
}

func syntaxProblem(err error) *Problem {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return &Problem{Code: CodeInvalidJSON, Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Problem{Code: CodeInvalidJSON, Message: "request ends in the middle of the JSON object"}
	}
	return &Problem{Code: CodeInvalidJSON, Message: err.Error()}
}

// decodeValue decodes one field's value, or says what is wrong with it;
// in an array of strings, it names the first element at fault.
func decodeValue(key string, raw json.RawMessage, f wireField) *ProblemField {
	if string(raw) != "null" && json.Unmarshal(raw, f.dst) == nil {
		return nil
	}
	var elems []json.RawMessage
	if f.kind == kindStrings && raw[0] == '[' && json.Unmarshal(raw, &elems) == nil {
		for i, e := range elems {
			if e[0] != '"' {
				return &ProblemField{fmt.Sprintf("%s[%d]", key, i), "must be a string, not " + rawKind(e)}
			}
		}
	}
	return &ProblemField{key, "must be " + f.kind + ", not " + rawKind(raw)}
}

// rawKind names the kind of a valid JSON value.
func rawKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// flattenErrors lists the errors inside a tree of joined errors; nil
// holds none.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
