package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// sendCtx is the deadline tests give one Send, as the engine would.
func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantSendError checks that err is a *relay.SendError of the given kind.
func wantSendError(t *testing.T, err error, temporary bool, reason relay.Reason) *relay.SendError {
	t.Helper()
	var se *relay.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a *relay.SendError", err)
	}
	if se.Temporary != temporary || se.Reason != reason {
		t.Fatalf("error = %v (temporary %v, reason %s), want temporary %v, reason %s", err, se.Temporary, se.Reason, temporary, reason)
	}
	return se
}

// sendError returns nil when err is a SendError of the given kind, so it
// can be polled with eventually.
func sendError(err error, temporary bool, reason relay.Reason) error {
	var se *relay.SendError
	if !errors.As(err, &se) || se.Temporary != temporary || se.Reason != reason {
		return fmt.Errorf("error = %v, want temporary %v, reason %s", err, temporary, reason)
	}
	return nil
}

// outgoingFor returns the Korean fixture for another incident.
func outgoingFor(incident string) *relay.Outgoing {
	out := koreanOutgoing()
	out.Message.Incident = incident
	out.Message.ID = "msg-" + incident
	out.DeliveryID = relay.DeliveryID(out.Message.ID, relay.ChannelNATS, "")
	return out
}

func TestSendCoreNATS(t *testing.T) {
	s := runServer(t, &server.Options{})
	sub := subscribe(t, s.ClientURL(), "relay.incident.>")
	p := newPublisher(t, testConfig(s.ClientURL()), nil)

	out := koreanOutgoing()
	rcpt, err := p.Send(sendCtx(t), out)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rcpt != (relay.Receipt{}) {
		t.Errorf("receipt = %+v, want empty for core NATS", rcpt)
	}
	msg, err := sub.NextMsg(2 * time.Second)
	if err != nil {
		t.Fatalf("subscriber got nothing: %v", err)
	}
	if want := "relay.incident.pangyo-fire.message"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "korean-critical.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg.Data, golden) {
		t.Errorf("payload differs from the golden file:\ngot:  %s\nwant: %s", msg.Data, golden)
	}
	if !bytes.Contains(msg.Data, []byte(koreanText[:40])) {
		t.Errorf("Korean text did not arrive intact: %s", msg.Data)
	}
	for k, v := range map[string]string{
		"Relay-Schema":      Schema,
		"Relay-Message-Id":  out.Message.ID,
		"Relay-Delivery-Id": out.DeliveryID,
		"Nats-Msg-Id":       out.DeliveryID,
	} {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if _, err := sub.NextMsg(50 * time.Millisecond); !errors.Is(err, natsgo.ErrTimeout) {
		t.Errorf("a second message arrived for one Send: %v", err)
	}
}

func TestSendPermissionDenied(t *testing.T) {
	const sends = 12
	var deny []string
	for i := 1; i < sends; i += 2 {
		deny = append(deny, fmt.Sprintf("relay.incident.denied-%d.message", i))
	}
	s := runServer(t, &server.Options{Users: []*server.User{{
		Username: "relay", Password: "pw-Kx83hQ",
		Permissions: &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{"relay.incident.*.message"}, Deny: deny}},
	}}})
	cfg := testConfig(s.ClientURL())
	cfg.User, cfg.Password = "relay", secretOf("pw-Kx83hQ")
	p := newPublisher(t, cfg, nil)

	// Denied and allowed publishes interleave from many goroutines; each
	// must get its own answer, not a neighbour's.
	var wg sync.WaitGroup
	errs := make([]error, sends)
	for i := range errs {
		wg.Go(func() {
			incident := fmt.Sprintf("allowed-%d", i)
			if i%2 == 1 {
				incident = fmt.Sprintf("denied-%d", i)
			}
			_, errs[i] = p.Send(sendCtx(t), outgoingFor(incident))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 {
			if err != nil {
				t.Errorf("allowed send %d failed: %v", i, err)
			}
			continue
		}
		wantSendError(t, err, false, relay.ReasonPermission)
	}
	// The connection's last error stays the denial; a later allowed
	// publish must not be mistaken for it.
	if _, err := p.Send(sendCtx(t), outgoingFor("allowed-late")); err != nil {
		t.Errorf("allowed send after a denial failed: %v", err)
	}
}

func TestSendWrongPassword(t *testing.T) {
	s := runServer(t, &server.Options{Users: []*server.User{{Username: "relay", Password: "right-Pw7"}}})
	cfg := testConfig(s.ClientURL())
	cfg.User, cfg.Password = "relay", secretOf("wrong-Pw7")
	// New succeeds: a refused credential must not keep a node from
	// starting; Send reports it.
	p := newPublisher(t, cfg, nil)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := p.Send(sendCtx(t), koreanOutgoing())
		return sendError(err, false, relay.ReasonAuth)
	})

	cfg.Password = secretOf("right-Pw7")
	ok := newPublisher(t, cfg, nil)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := ok.Send(sendCtx(t), koreanOutgoing())
		return err
	})
}

func TestSendToken(t *testing.T) {
	s := runServer(t, &server.Options{Authorization: "tok-9fQ2zL"})
	cfg := testConfig(s.ClientURL())
	cfg.Token = secretOf("tok-9fQ2zL")
	if _, err := newPublisher(t, cfg, nil).Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Errorf("Send with the right token: %v", err)
	}
	cfg.Token = secretOf("tok-wrong")
	bad := newPublisher(t, cfg, nil)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := bad.Send(sendCtx(t), koreanOutgoing())
		return sendError(err, false, relay.ReasonAuth)
	})
}

func TestSendNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "relay.nk"), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := runServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	cfg := testConfig(s.ClientURL())
	cfg.NKeySeedFile = "relay.nk"
	if err := cfg.ResolveSecrets(dir, noEnv); err != nil {
		t.Fatal(err)
	}
	if _, err := newPublisher(t, cfg, nil).Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Errorf("Send with an nkey: %v", err)
	}
}

func TestSendTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, tlsConf := testCA(t, dir)
	s := runServer(t, &server.Options{TLSConfig: tlsConf, TLS: true, TLSTimeout: 2})
	cfg := testConfig(fmt.Sprintf("tls://127.0.0.1:%d", serverPort(t, s)))
	cfg.CAFile = filepath.Base(caFile)
	if err := cfg.ResolveSecrets(dir, noEnv); err != nil {
		t.Fatal(err)
	}
	if _, err := newPublisher(t, cfg, nil).Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Errorf("Send over TLS: %v", err)
	}

	// Without the CA the server's certificate must not be trusted.
	cfg.CAFile, cfg.TLS = "", true
	logs := &testkit.LogBuffer{}
	_, err := newPublisher(t, cfg, logs).Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonNetwork)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		if !strings.Contains(logs.String(), "certificate signed by unknown authority") {
			return fmt.Errorf("no certificate error logged yet:\n%s", logs.String())
		}
		return nil
	})
}

func TestSendReconnects(t *testing.T) {
	s := runServer(t, &server.Options{})
	port := serverPort(t, s)
	p := newPublisher(t, testConfig(s.ClientURL()), nil)
	if _, err := p.Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Fatalf("first Send: %v", err)
	}

	stopServer(s)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := p.Send(sendCtx(t), koreanOutgoing())
		return sendError(err, true, relay.ReasonNetwork)
	})

	s2 := runServer(t, &server.Options{Port: port})
	sub := subscribe(t, s2.ClientURL(), "relay.incident.>")
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := p.Send(sendCtx(t), koreanOutgoing())
		return err
	})
	if _, err := sub.NextMsg(2 * time.Second); err != nil {
		t.Errorf("the restarted server did not deliver: %v", err)
	}
}

func TestNewWhileServerDown(t *testing.T) {
	port := testkit.FreePort(t, "127.0.0.1")
	p := newPublisher(t, testConfig(natsURL(port)), nil)
	_, err := p.Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonNetwork)

	runServer(t, &server.Options{Port: port})
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := p.Send(sendCtx(t), koreanOutgoing())
		return err
	})
}

func TestSendDeadline(t *testing.T) {
	s := runServer(t, &server.Options{})
	proxy := startProxy(t, s.Addr().String())
	p := newPublisher(t, testConfig(proxy.url()), nil)
	if _, err := p.Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Fatalf("Send before the link froze: %v", err)
	}

	proxy.freeze(true)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			defer cancel()
			_, errs[i] = p.Send(ctx, outgoingFor(fmt.Sprintf("frozen-%d", i)))
		})
	}
	wg.Wait()
	for _, err := range errs {
		wantSendError(t, err, true, relay.ReasonTimeout)
	}

	proxy.freeze(false)
	if _, err := p.Send(sendCtx(t), koreanOutgoing()); err != nil {
		t.Errorf("Send after the link thawed: %v", err)
	}
}

func TestSendContextAlreadyDone(t *testing.T) {
	s := runServer(t, &server.Options{})
	p := newPublisher(t, testConfig(s.ClientURL()), nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	cancel()
	_, err := p.Send(ctx, koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonUnknown)

	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err = p.Send(expired, koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonTimeout)
}

func TestSendAfterClose(t *testing.T) {
	s := runServer(t, &server.Options{})
	p := newPublisher(t, testConfig(s.ClientURL()), nil)
	p.Close()
	p.Close()
	_, err := p.Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, true, relay.ReasonNetwork)
}

func TestSendRejectsBadDelivery(t *testing.T) {
	s := runServer(t, &server.Options{})
	p := newPublisher(t, testConfig(s.ClientURL()), nil)
	out := koreanOutgoing()
	out.Message.Incident = "x.>"
	_, err := p.Send(sendCtx(t), out)
	wantSendError(t, err, false, relay.ReasonRejected)
}

func TestSendPayloadTooLarge(t *testing.T) {
	s := runServer(t, &server.Options{MaxPayload: 512})
	p := newPublisher(t, testConfig(s.ClientURL()), nil)
	_, err := p.Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, false, relay.ReasonRejected)
}

// TestCloseIsQuiet: a publisher closed on purpose says so at info level,
// with no warning that the connection was lost.
func TestCloseIsQuiet(t *testing.T) {
	s := runServer(t, &server.Options{})
	logs := &testkit.LogBuffer{}
	p := newPublisher(t, testConfig(natsURL(serverPort(t, s))), logs)
	testkit.Eventually(t, 5*time.Second, "the publisher connects", func() bool { return strings.Contains(logs.String(), "nats connected") })
	p.Close()
	testkit.Eventually(t, 5*time.Second, "the close is logged", func() bool { return strings.Contains(logs.String(), "nats connection closed") })
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("closing on purpose logged a warning:\n%s", logs)
	}
}
