package nats

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

func TestSendJetStreamStoresOnce(t *testing.T) {
	s := runServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	js, err := jetstream.New(connectClient(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(sendCtx(t), jetstream.StreamConfig{Name: "RELAY", Subjects: []string{"relay.incident.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(s.ClientURL())
	cfg.JetStream.Stream = "RELAY"
	p := newPublisher(t, cfg, nil)

	want := relay.Receipt{ProviderID: "RELAY:1", Delivered: true}
	for attempt := 1; attempt <= 2; attempt++ {
		out := koreanOutgoing()
		out.Attempt = attempt
		rcpt, err := p.Send(sendCtx(t), out)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if rcpt != want {
			t.Errorf("attempt %d: receipt = %+v, want %+v", attempt, rcpt, want)
		}
	}
	info, err := stream.Info(sendCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages after two attempts of one delivery, want 1", info.State.Msgs)
	}
	stored, err := stream.GetMsg(sendCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "korean-critical.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Data, golden) {
		t.Errorf("stored payload differs from the golden file:\n%s", stored.Data)
	}
	if got := stored.Header.Get("Nats-Msg-Id"); got != koreanOutgoing().DeliveryID {
		t.Errorf("stored Nats-Msg-Id = %q", got)
	}

	rcpt, err := p.Send(sendCtx(t), outgoingFor("second"))
	if err != nil {
		t.Fatal(err)
	}
	if rcpt.ProviderID != "RELAY:2" {
		t.Errorf("another delivery got %q, want RELAY:2", rcpt.ProviderID)
	}
}

func TestSendJetStreamWithoutStream(t *testing.T) {
	s := runServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	cfg := testConfig(s.ClientURL())
	cfg.JetStream.Stream = "RELAY"
	p := newPublisher(t, cfg, nil)
	_, err := p.Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonUnavailable)
}

func TestSendJetStreamOtherStream(t *testing.T) {
	s := runServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	js, err := jetstream.New(connectClient(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(sendCtx(t), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"relay.>"}}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(s.ClientURL())
	cfg.JetStream.Stream = "RELAY"
	p := newPublisher(t, cfg, nil)
	_, err = p.Send(sendCtx(t), koreanOutgoing())
	se := wantSendError(t, err, false, relay.ReasonRejected)
	if se.Code != "10060" {
		t.Errorf("code = %q, want 10060 (expected stream does not match)", se.Code)
	}
}

func TestSendJetStreamAckDeadline(t *testing.T) {
	s := runServer(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
	// A plain subscriber answers nothing, so the publish is heard but
	// never acknowledged.
	subscribe(t, s.ClientURL(), "relay.incident.>")
	cfg := testConfig(s.ClientURL())
	cfg.JetStream.Stream = "RELAY"
	p := newPublisher(t, cfg, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	_, err := p.Send(ctx, koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonTimeout)
}

// TestSendJetStreamAcrossRestart retries a delivery after the server
// restarted: the stream still knows its id and keeps one copy.
func TestSendJetStreamAcrossRestart(t *testing.T) {
	store := t.TempDir()
	s := runServer(t, &server.Options{JetStream: true, StoreDir: store})
	port := serverPort(t, s)
	js, err := jetstream.New(connectClient(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(sendCtx(t), jetstream.StreamConfig{Name: "RELAY", Subjects: []string{"relay.incident.>"}}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(s.ClientURL())
	cfg.JetStream.Stream = "RELAY"
	p := newPublisher(t, cfg, nil)
	if _, err := p.Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Fatal(err)
	}

	stopServer(s)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := p.Send(sendCtx(t), koreanOutgoing())
		return sendError(err, true, relay.ReasonNetwork)
	})
	s2 := runServer(t, &server.Options{JetStream: true, StoreDir: store, Port: port})
	var rcpt relay.Receipt
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		rcpt, err = p.Send(sendCtx(t), koreanOutgoing())
		return err
	})
	if rcpt.ProviderID != "RELAY:1" || !rcpt.Delivered {
		t.Errorf("retry after restart: receipt %+v, want RELAY:1 delivered", rcpt)
	}
	js2, err := jetstream.New(connectClient(t, s2.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js2.Stream(sendCtx(t), "RELAY")
	if err != nil {
		t.Fatal(err)
	}
	if n := stream.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}
