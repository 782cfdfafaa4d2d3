package nats

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oob-relay/relay/relay/problem"
)

// ingestSchemas loads post.v1.schema.json and ack.v1.schema.json once:
// "post" and "ack" are the requests, "post.reply" and "ack.reply" the
// replies ($defs/reply, which refers to $defs/error).
var ingestSchemas = sync.OnceValues(func() (map[string]*openapi3.Schema, error) {
	out := map[string]*openapi3.Schema{}
	for _, kind := range []string{"post", "ack"} {
		data, err := os.ReadFile(kind + ".v1.schema.json")
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s.v1.schema.json: %w", kind, err)
		}
		reply, _ := json.Marshal(map[string]any{"$defs": doc["$defs"], "allOf": []any{map[string]any{"$ref": "#/$defs/reply"}}})
		for name, b := range map[string][]byte{kind: data, kind + ".reply": reply} {
			var s openapi3.Schema
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out[name] = &s
		}
	}
	return out, nil
})

func ingestSchema(t testing.TB, name string) *openapi3.Schema {
	t.Helper()
	all, err := ingestSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return all[name]
}

func replySchema(t testing.TB, kind string) *openapi3.Schema { return ingestSchema(t, kind+".reply") }

// schemaError validates a JSON document against a schema.
func schemaError(s *openapi3.Schema, data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return s.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func checkSchema(t testing.TB, s *openapi3.Schema, data []byte) {
	t.Helper()
	if err := schemaError(s, data); err != nil {
		t.Errorf("%s does not match %s: %v", data, s.Title, err)
	}
}

// docExample is one example of ingest.v1.md: a ```json block whose info
// string names what it shows ("post.request", "ack.reply").
type docExample struct{ kind, json string }

func docExamples(t *testing.T) []docExample {
	t.Helper()
	doc, err := os.ReadFile("ingest.v1.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []docExample
	for _, m := range regexp.MustCompile("(?m)^```json (\\S+)\n([^`]*)```").FindAllStringSubmatch(string(doc), -1) {
		out = append(out, docExample{m[1], m[2]})
	}
	return out
}

// TestIngestDocExamples checks every example of ingest.v1.md against the
// schemas, and the requests against the decoder.
func TestIngestDocExamples(t *testing.T) {
	examples := docExamples(t)
	count := map[string]int{}
	for i, ex := range examples {
		t.Run(fmt.Sprintf("%d-%s", i, ex.kind), func(t *testing.T) {
			count[ex.kind]++
			var err error
			switch ex.kind {
			case "post.request":
				checkSchema(t, ingestSchema(t, "post"), []byte(ex.json))
				_, err = decodePost([]byte(ex.json))
			case "ack.request":
				checkSchema(t, ingestSchema(t, "ack"), []byte(ex.json))
				_, err = decodeAck([]byte(ex.json))
			case "post.reply", "ack.reply":
				checkSchema(t, ingestSchema(t, ex.kind), []byte(ex.json))
			default:
				t.Fatalf("unknown example kind %q", ex.kind)
			}
			if err != nil {
				t.Errorf("the decoder refuses the example: %v", err)
			}
		})
	}
	for _, kind := range []string{"post.request", "post.reply", "ack.request", "ack.reply"} {
		if count[kind] == 0 {
			t.Errorf("ingest.v1.md has no %s example", kind)
		}
	}
}

// TestIngestDocErrorExamples checks that the error examples are what the
// decoder answers.
func TestIngestDocErrorExamples(t *testing.T) {
	for _, tc := range []struct {
		kind, request string
	}{
		{"post.reply", `{"incident":"Pangyo Fire","text":"t","to":["everyone"],"severity":"urgent"}`},
		{"post.reply", `{"incident":"a","text":"t","to":["everyone"],"phone":"+821012345678"}`},
		{"ack.reply", `{"person":"kim","incident":"a","message":"b"}`},
	} {
		decode := func(b []byte) error { _, err := decodePost(b); return err }
		if tc.kind == "ack.reply" {
			decode = func(b []byte) error { _, err := decodeAck(b); return err }
		}
		var p *problem.Problem
		if !errors.As(decode([]byte(tc.request)), &p) {
			t.Fatalf("%s was not refused", tc.request)
		}
		want := string(renderReply(ErrorReply{p})) + "\n"
		if !slices.Contains(docExamples(t), docExample{tc.kind, want}) {
			t.Errorf("ingest.v1.md lacks the answer to %s:\n%s", tc.request, want)
		}
	}
}

// TestIngestSchemaFields: the request schemas have exactly the decoder's
// fields.
func TestIngestSchemaFields(t *testing.T) {
	for kind, v := range map[string]any{"post": PostRequest{}, "ack": AckRequest{}} {
		var names []string
		for _, f := range reflect.VisibleFields(reflect.TypeOf(v)) {
			if tag, ok := f.Tag.Lookup("json"); ok {
				names = append(names, strings.Split(tag, ",")[0])
			}
		}
		var props []string
		for name := range ingestSchema(t, kind).Properties {
			props = append(props, name)
		}
		slices.Sort(names)
		slices.Sort(props)
		if !slices.Equal(names, props) {
			t.Errorf("%s.v1.schema.json has %v, the decoder %v", kind, props, names)
		}
	}
}

// TestIngestSchemaRejectsDrift proves the schema checks can fail.
func TestIngestSchemaRejectsDrift(t *testing.T) {
	for _, tc := range []struct{ schema, doc string }{
		{"post", `{"incident":"a","text":"t","to":["everyone"],"phone":"+8210"}`},
		{"post", `{"incident":"a","text":"t"}`},
		{"post", `{"incident":"A","text":"t","to":["everyone"]}`},
		{"post", `{"incident":"a","text":"  ","to":["everyone"]}`},
		{"post", `{"incident":"a","text":"t","to":["everyone"],"channels":["sms","sms"]}`},
		{"ack", `{"person":"kim"}`},
		{"ack", `{"person":"kim","incident":"a","message":"b"}`},
		{"post.reply", `{"id":"x"}`},
		{"post.reply", `{"id":"x","replayed":false,"error":{"code":"internal","message":"m"}}`},
		{"post.reply", `{"error":{"code":"oops","message":"m"}}`},
		{"ack.reply", `{"acked":null}`},
		{"ack.reply", `{"error":{"code":"internal","message":"m","fields":[]}}`},
	} {
		if schemaError(ingestSchema(t, tc.schema), []byte(tc.doc)) == nil {
			t.Errorf("%s schema accepted %s", tc.schema, tc.doc)
		}
	}
}

var fuzzSeeds = []string{
	`{"incident":"pangyo-fire","text":"판교 화재","to":["group:infra"],"severity":"critical","channels":["sms","nats"],"idempotency_key":"k-1","author":"bot"}`,
	`{"person":"kim","incident":"pangyo-fire"}`,
	`{"person":"kim","message":"01JC3Z7M8Q4X2V5T9R6N1B0K7D"}`,
	`{"incident":"a","text":"t","to":["everyone"],"text":"u"}`,
	`{"incident":null,"to":[1,"x"],"Text":"t"}`,
	`[{"incident":"a"}]`, `{"incident":"a",`, `{} {}`, "\"\xff\"", ``, `{"to":["\u0000"],"text":"\u3000"}`, `{"":""}`,
}

// fuzzDecode checks what a decoder does with any input: a refusal is a
// Problem with a known code whose reply matches the reply schema; what it
// accepts matches the request schema and decodes the same once re-encoded.
func fuzzDecode[T any](f *testing.F, kind string, decode func([]byte) (*T, error)) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decode(data)
		if err != nil {
			var p *problem.Problem
			if !errors.As(err, &p) || !slices.Contains(Codes, p.Code) || p.Message == "" {
				t.Fatalf("refusal %#v is not a Problem with a known code", err)
			}
			checkSchema(t, replySchema(t, kind), renderReply(ErrorReply{p}))
			return
		}
		checkSchema(t, ingestSchema(t, kind), data)
		again, err := decode(renderReply(got))
		if err != nil || !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", got, again, err)
		}
	})
}

func FuzzDecodePost(f *testing.F) { fuzzDecode(f, "post", decodePost) }

func FuzzDecodeAck(f *testing.F) { fuzzDecode(f, "ack", decodeAck) }

// FuzzIngestRequest sends any payload on any bot's subject through
// ingest's own checks and handlers: every answer is a reply of the
// schema, and a post that reaches the core is always by the bot the
// subject names, an acknowledgement always for someone its ack_for covers.
func FuzzIngestRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, bot := range []string{oncallBot, "pager", "watch", "mallory", ""} {
			f.Add(bot, false, []byte(s))
			f.Add(bot, true, []byte(s))
		}
	}
	f.Add("pager", false, []byte(`{"incident":"a","text":"t","to":["everyone"],"author":"kim"}`))
	f.Add("pager", true, []byte(`{"person":"park","incident":"a"}`))
	inbox := &fakeInbox{}
	cfg := withBots(IngestConfig{})
	for i := range cfg.Bots {
		cfg.Bots[i].Rate, cfg.Bots[i].Burst = 1e9, 100000
	}
	cfg.SetDefaults()
	in, err := newIngest(cfg, inbox, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, ack bool, data []byte) {
		kind, handle := ActionPost, in.post
		if ack {
			kind, handle = ActionAck, in.ack
		}
		b := in.bots[name]
		before := len(inbox.postCalls())
		reply, err := any(nil), in.admit(b, name, kind, len(data))
		if err == nil {
			reply, err = handle(t.Context(), b, data)
		}
		if err != nil {
			p := in.problem("fuzz", err)
			if !slices.Contains(Codes, p.Code) || p.Message == "" {
				t.Fatalf("refusal %#v is not a Problem with a known code", err)
			}
			reply = ErrorReply{p}
		}
		checkSchema(t, replySchema(t, kind), renderReply(reply))
		if calls := inbox.postCalls(); len(calls) > before && calls[len(calls)-1].Author != name {
			t.Fatalf("a post on bot %q's subject reached the core as %q", name, calls[len(calls)-1].Author)
		}
		if acks := inbox.ackCalls(); ack && err == nil && !fakeRoster.Includes(acks[len(acks)-1].Person, b.AckFor) {
			t.Fatalf("bot %q acknowledged for %q outside its ack_for", name, acks[len(acks)-1].Person)
		}
	})
}
