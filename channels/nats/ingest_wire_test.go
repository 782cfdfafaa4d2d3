package nats

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/problem"
)

// TestIngestRepliesGolden pins the replies' bytes: compact, Korean as is.
func TestIngestRepliesGolden(t *testing.T) {
	refusal := func(err error) any {
		var p *problem.Problem
		if !errors.As(err, &p) {
			t.Fatalf("%v is not a Problem", err)
		}
		return ErrorReply{p}
	}
	_, invalid := decodePost([]byte(`{"incident":"판교","text":"","to":[],"channels":["sms","sms"],"idempotency_key":"a\tb"}`))
	_, unknown := decodePost([]byte(`{"incident":"a","text":"t","to":["everyone"],"전화":"+821012345678","severity":""}`))
	_, ack := decodeAck([]byte(`{"person":"김","incident":""}`))
	korean, err := decodePost(mustJSON(t, koreanPost()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, kind string
		reply      any
	}{
		{"post-accepted", "post", PostReply{ID: relay.IdempotentMessageID(relay.ViaNATS, "oncall-bot", "alert-7f3a9c"), Replayed: true}},
		{"post-invalid", "post", refusal(invalid)},
		{"post-unknown", "post", refusal(unknown)},
		{"ack-acked", "ack", AckReply{Acked: []string{"01JC3Z7M8Q4X2V5T9R6N1B0K7D"}}},
		{"ack-invalid", "ack", refusal(ack)},
		{"post-decoded", "", korean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderReply(tc.reply)
			golden := filepath.Join("testdata", "ingest_"+tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("reply differs from %s (run go test -update after checking):\ngot:  %s\nwant: %s", golden, got, want)
			}
			if tc.kind != "" {
				checkSchema(t, replySchema(t, tc.kind), got)
			}
		})
	}
	if !bytes.Contains(renderReply(korean), []byte("[긴급] 판교 데이터센터 화재로")) {
		t.Errorf("Korean text is escaped or changed: %s", renderReply(korean))
	}
}

// TestErrorReplyRoundTrip: a reply decodes to the problem it was made of,
// its fields as the problem's Details.
func TestErrorReplyRoundTrip(t *testing.T) {
	_, err := decodePost([]byte(`{"incident":"판교","text":"<b>","to":[]}`))
	var p *problem.Problem
	if !errors.As(err, &p) || len(p.Details) != 2 {
		t.Fatalf("refusal %v, want a problem with two fields", err)
	}
	var back ErrorReply
	if err := json.Unmarshal(renderReply(ErrorReply{p}), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Error, p) {
		t.Errorf("decoded %+v, want %+v", back.Error, p)
	}
	if got := string(renderReply(ErrorReply{})); got != `{"error":null}` {
		t.Errorf("reply without a problem: %s", got)
	}
}

// TestDecodeAckAnswer reads a roll-call answer on an ack request: a digit
// from 1 to 9, and nothing else.
func TestDecodeAckAnswer(t *testing.T) {
	r, err := decodeAck([]byte(`{"person":"kim","incident":"pangyo-fire","answer":2}`))
	if err != nil || r.Answer != 2 {
		t.Fatalf("decodeAck = %+v, %v", r, err)
	}
	if _, err := decodeAck([]byte(`{"person":"kim","incident":"a","bot":"other"}`)); err == nil {
		t.Error("a request naming its bot was taken")
	}
	for _, bad := range []string{`0`, `10`, `-1`, `2.5`, `"2"`, `true`} {
		_, err := decodeAck([]byte(`{"person":"kim","incident":"a","answer":` + bad + `}`))
		var p *problem.Problem
		if !errors.As(err, &p) || !strings.Contains(p.Message, "answer") {
			t.Errorf("answer %s: %v", bad, err)
		}
	}
}
