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
	"github.com/oob-relay/relay/relay/problem"
)

// MaxRequestBytes bounds a request's payload: ample for a message of
// relay.MaxTextBytes written as JSON escapes. IngestConfig's
// max_request_bytes may lower it.
const MaxRequestBytes = 256 << 10

// Codes lists every error code a reply may carry, those of package
// problem that NATS ingest answers with. Clients branch on them; timeout
// and unavailable are worth retrying with the same idempotency key,
// rate_limited after the pause its message names.
var Codes = []string{problem.CodeInvalidJSON, problem.CodeUnknownField, problem.CodeInvalidField,
	problem.CodeBodyTooLarge, problem.CodeForbidden, problem.CodeRateLimited, problem.CodeKeyReused,
	problem.CodeNotFound, problem.CodeTimeout, problem.CodeUnavailable, problem.CodeInternal}

// PostRequest is the body of a post request (post.v1.schema.json).
type PostRequest struct {
	relay.Post
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Author, when given, must be the name of the bot that sends the
	// request; the author is always that bot.
	Author string `json:"author,omitempty"`
}

// AckRequest is the body of an ack request: a person acknowledges every
// message of an incident or one message. Exactly one of Incident and
// Message is set. Answer, when set (1 to 9), is also the person's answer
// to the latest open roll-call of the incident that asked them.
type AckRequest struct {
	Person   string `json:"person"`
	Incident string `json:"incident,omitempty"`
	Message  string `json:"message,omitempty"`
	Answer   int    `json:"answer,omitempty"`
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

// ErrorReply answers a refused request. Its JSON is the error of the
// reply schemas: the problem's code and message and, when the problem is
// with fields, fields listing its Details, every one naming its field
// (a JSON path such as "to[1]"), even when there is only one.
type ErrorReply struct {
	Error *problem.Problem
}

// errorWire is ErrorReply's JSON.
type errorWire struct {
	Error *struct {
		Code    string      `json:"code"`
		Message string      `json:"message"`
		Fields  []fieldWire `json:"fields,omitempty"`
	} `json:"error"`
}

// fieldWire is one of the fields at fault, as a reply lists them.
type fieldWire struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// MarshalJSON encodes the reply as compact UTF-8 JSON, Korean as is.
func (r ErrorReply) MarshalJSON() ([]byte, error) {
	var w errorWire
	if p := r.Error; p != nil {
		w.Error = &struct {
			Code    string      `json:"code"`
			Message string      `json:"message"`
			Fields  []fieldWire `json:"fields,omitempty"`
		}{Code: p.Code, Message: p.Message}
		for _, d := range p.Details {
			w.Error.Fields = append(w.Error.Fields, fieldWire(d))
		}
	}
	return renderReply(w), nil
}

// UnmarshalJSON decodes a reply MarshalJSON encoded.
func (r *ErrorReply) UnmarshalJSON(data []byte) error {
	var w errorWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	r.Error = nil
	if w.Error != nil {
		r.Error = &problem.Problem{Code: w.Error.Code, Message: w.Error.Message}
		for _, f := range w.Error.Fields {
			r.Error.Details = append(r.Error.Details, problem.Detail(f))
		}
	}
	return nil
}

// fieldProblem is the problem of the fields at fault: its message joins
// them, and its Details list every one.
func fieldProblem(code string, fields []problem.Detail) *problem.Problem {
	return &problem.Problem{Code: code, Message: problem.Join(fields), Details: fields}
}

// renderReply encodes a reply: compact UTF-8 JSON, Korean as is.
func renderReply(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // replies are structs of strings, bools and slices
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// decodePost reads and checks a post request; problems are a *problem.Problem.
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
	for _, e := range problem.Flatten(r.Validate()) {
		if fe, ok := e.(*relay.FieldError); ok {
			fields = append(fields, problem.Detail{Field: fe.Field, Message: fe.Message})
		}
	}
	switch k := r.IdempotencyKey; {
	case len(k) > relay.MaxIdempotencyKey:
		fields = append(fields, problem.Detail{Field: "idempotency_key", Message: fmt.Sprintf("is %d bytes; the limit is %d", len(k), relay.MaxIdempotencyKey)})
	case strings.ContainsFunc(k, isControl):
		fields = append(fields, problem.Detail{Field: "idempotency_key", Message: "must not contain control characters"})
	}
	if r.Author != "" && !relay.ValidID(r.Author) {
		fields = append(fields, problem.Detail{Field: "author", Message: fmt.Sprintf("%q must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'", r.Author)})
	}
	if len(fields) > 0 {
		return nil, fieldProblem(problem.CodeInvalidField, fields)
	}
	return &r, nil
}

// decodeAck reads and checks an ack request; problems are a *problem.Problem.
func decodeAck(data []byte) (*AckRequest, error) {
	var r AckRequest
	fields, p := decodeObject(data, []wireField{
		{"person", &r.Person, "a string", false}, {"incident", &r.Incident, "a string", true},
		{"message", &r.Message, "a string", true}, {"answer", &r.Answer, "an integer from 1 to 9", false},
	})
	if p != nil {
		return nil, p
	}
	bad := func(field, format string, args ...any) {
		if !slices.ContainsFunc(fields, func(f problem.Detail) bool { return f.Field == field }) {
			fields = append(fields, problem.Detail{Field: field, Message: fmt.Sprintf(format, args...)})
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
	if r.Answer < 0 || r.Answer > 9 || (r.Answer == 0 && answerGiven(data)) {
		bad("answer", "is %d; a roll-call answer is a digit from 1 to 9", r.Answer)
	}
	if len(fields) > 0 {
		return nil, fieldProblem(problem.CodeInvalidField, fields)
	}
	return &r, nil
}

// answerGiven reports whether an ack request's JSON gives answer a value
// (0 would otherwise read as no answer).
func answerGiven(data []byte) bool {
	var probe struct {
		Answer *int `json:"answer"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Answer != nil
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
func decodeObject(data []byte, fields []wireField) ([]problem.Detail, *problem.Problem) {
	switch {
	case len(data) > MaxRequestBytes:
		return nil, &problem.Problem{Code: problem.CodeBodyTooLarge, Message: fmt.Sprintf("request is %d bytes; the limit is %d", len(data), MaxRequestBytes)}
	case len(bytes.TrimSpace(data)) == 0:
		return nil, &problem.Problem{Code: problem.CodeInvalidJSON, Message: "request is empty; send a JSON object"}
	case !utf8.Valid(data) && relay.CheckJSONText(data) == nil:
		return nil, &problem.Problem{Code: problem.CodeInvalidJSON, Message: "request is not valid UTF-8"}
	}
	var bad []problem.Detail // strings a decoder would change, by field
	for _, fe := range problem.FieldErrors(relay.CheckJSONText(data)) {
		bad = append(bad, problem.Detail{Field: fe.Field, Message: fe.Message})
	}
	if len(bad) > 0 {
		return nil, fieldProblem(problem.CodeInvalidJSON, bad)
	}
	if t := bytes.TrimSpace(data); t[0] != '{' && json.Valid(t) {
		return nil, &problem.Problem{Code: problem.CodeInvalidJSON, Message: "request must be a JSON object, not " + rawKind(t)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, syntaxProblem(err)
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	var unknown, wrong, empty []problem.Detail
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
			unknown = append(unknown, problem.Detail{Field: key, Message: "is not a field; the fields are " + strings.Join(names, ", ")})
		case seen[key]:
			wrong = append(wrong, problem.Detail{Field: key, Message: "is given twice"})
		case fields[i].noEmpty && string(raw) == `""`:
			empty = append(empty, problem.Detail{Field: key, Message: "must not be empty; leave the field out instead"})
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
		return nil, &problem.Problem{Code: problem.CodeInvalidJSON, Message: "unexpected data after the JSON object"}
	}
	switch {
	case len(unknown) > 0:
		return nil, fieldProblem(problem.CodeUnknownField, slices.Concat(unknown, wrong, empty))
	case len(wrong) > 0:
		return nil, fieldProblem(problem.CodeInvalidJSON, slices.Concat(wrong, empty))
	}
	return empty, nil
}

func syntaxProblem(err error) *problem.Problem {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return &problem.Problem{Code: problem.CodeInvalidJSON, Message: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &problem.Problem{Code: problem.CodeInvalidJSON, Message: "request ends in the middle of the JSON object"}
	}
	return &problem.Problem{Code: problem.CodeInvalidJSON, Message: err.Error()}
}

// decodeValue decodes one field's value, or says what is wrong with it;
// in an array of strings, it names the first element at fault.
func decodeValue(key string, raw json.RawMessage, f wireField) *problem.Detail {
	if string(raw) != "null" && json.Unmarshal(raw, f.dst) == nil {
		return nil
	}
	var elems []json.RawMessage
	if f.kind == kindStrings && raw[0] == '[' && json.Unmarshal(raw, &elems) == nil {
		for i, e := range elems {
			if e[0] != '"' {
				return &problem.Detail{Field: fmt.Sprintf("%s[%d]", key, i), Message: "must be a string, not " + rawKind(e)}
			}
		}
	}
	return &problem.Detail{Field: key, Message: "must be " + f.kind + ", not " + rawKind(raw)}
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
