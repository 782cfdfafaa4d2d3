package email

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/oob-relay/relay/channels/email/mailsink"
	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay/secret"
)

func TestPasswordNeverShows(t *testing.T) {
	var logs testkit.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sink := startSink(t, mailsink.Options{Username: testUser, Password: testPassword, Logger: logger})
	leaks := []string{
		testPassword,
		base64.StdEncoding.EncodeToString([]byte(testPassword)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword)),
	}
	var outputs []string
	send := func(cfg Config) error {
		cfg.From = fromAddr
		s := newSender(t, cfg, Options{Logger: logger})
		outputs = append(outputs, fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", *s))
		_, err := s.Send(testCtx(t), fixture("ko"))
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err))
		}
		return err
	}

	// A delivery that goes through.
	if err := send(Config{Address: sink.Addr(), TLS: TLSNone, Username: testUser, Password: secret.New(testPassword)}); err != nil {
		t.Fatal(err)
	}
	// A server that refuses the password.
	wrongSink := startSink(t, mailsink.Options{Username: testUser, Password: "something-else", Logger: logger})
	if err := send(Config{Address: wrongSink.Addr(), TLS: TLSNone, Username: testUser, Password: secret.New(testPassword)}); err == nil {
		t.Fatal("a refused password was accepted")
	}
	// A server that echoes the credentials back in a rejection.
	sink.RejectNext(1, mailsink.StageMail, mailsink.Reply{Code: 554, Enhanced: "5.7.1",
		Message: "rejected " + strings.Join(leaks, " ")})
	err := send(Config{Address: sink.Addr(), TLS: TLSNone, Username: testUser, Password: secret.New(testPassword)})
	if err == nil || !strings.Contains(err.Error(), "rejected "+secret.Masked) {
		t.Fatalf("echoed credentials not masked: %v", err)
	}
	wantFailure(t, err, "rejected", false, "554")
	// Credentials to a far host in the clear, allowed in a lab: New warns.
	if _, err := New(Config{Address: "smtp.example.com:25", TLS: TLSNone, InsecurePasswordWithoutTLS: true, Username: testUser,
		Password: secret.New(testPassword), From: fromAddr}, Options{Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "credentials are sent unencrypted") {
		t.Error("no warning about cleartext credentials")
	}
	// A password_file that cannot be read.
	cfg := Config{Address: sink.Addr(), Username: testUser, Password: secret.New(testPassword), PasswordFile: "nope", From: fromAddr}
	if err := cfg.ResolveSecrets(t.TempDir(), nil); err != nil {
		outputs = append(outputs, err.Error())
	}

	outputs = append(outputs, logs.String())
	if !strings.Contains(logs.String(), "email sent") || !strings.Contains(logs.String(), "email attempt failed") {
		t.Errorf("the logs do not show the attempts, so they prove nothing:\n%s", logs.String())
	}
	for _, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("output contains the password (%q):\n%s", leak, out)
			}
		}
	}
}
