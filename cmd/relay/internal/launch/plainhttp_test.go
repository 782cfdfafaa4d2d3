package launch_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/internal/testkit"
)

// farListener is a loopback listener that says it listens on a private
// network address, as a node bound to its LAN address does.
type farListener struct{ net.Listener }

func (farListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 20, 30, 40), Port: 8080} }

// TestPlainHTTPOffLoopbackWarns: relay serve without http.tls warns, once,
// that tokens and messages cross the network in clear text when it listens
// off loopback, and says nothing of it on loopback.
func TestPlainHTTPOffLoopbackWarns(t *testing.T) {
	const warning = "the API is served in plain HTTP on an address that is not loopback"
	roster := "people:\n  - id: kim\n    email: kim@example.com\n"
	for _, far := range []bool{true, false} {
		logs := &testkit.LogBuffer{}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var served net.Listener = ln
		if far {
			served = farListener{ln}
		}
		s, err := launch.Start(context.Background(), loadConfig(t, baseConfig, roster),
			launch.Options{Listener: served, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		cancel()
		if got := strings.Count(logs.String(), warning); far && got != 1 || !far && got != 0 {
			t.Errorf("listening off loopback %v: warned %d times:\n%s", far, got, logs)
		}
		if far && !strings.Contains(logs.String(), "listen=10.20.30.40:8080") {
			t.Errorf("the warning does not name the address:\n%s", logs)
		}
	}
}
