package nats

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v3"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/relay"
)

// TestSecretsStayHidden proves that no password or token reaches a log
// line, an error text or a printed Config, also when the server refuses
// them or denies a publish.
func TestSecretsStayHidden(t *testing.T) {
	const (
		password = "pw-Zq81-hidden"
		wrongPW  = "pw-Wr0ng-hidden"
		token    = "tok-Yx72-hidden"
		wrongTok = "tok-Wr0ng-hidden"
	)
	secrets := []string{password, wrongPW, token, wrongTok}
	var texts []string
	logs := &testkit.LogBuffer{}

	users := runServer(t, &server.Options{Users: []*server.User{{
		Username: "relay", Password: password,
		Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{">"}}},
	}}})
	tokens := runServer(t, &server.Options{Authorization: token})

	cfg := testConfig(users.ClientURL())
	cfg.User, cfg.Password = "relay", secretOf(password)
	denied := newPublisher(t, cfg, logs)
	_, err := denied.Send(sendCtx(t), koreanOutgoing())
	wantSendError(t, err, false, relay.ReasonPermission)
	texts = append(texts, err.Error())

	cfg.Password = secretOf(wrongPW)
	texts = append(texts, fmt.Sprintf("%v|%+v|%#v|%s", cfg, cfg, cfg, cfg.Password))
	refused := newPublisher(t, cfg, logs)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := refused.Send(sendCtx(t), koreanOutgoing())
		texts = append(texts, fmt.Sprint(err))
		return sendError(err, false, relay.ReasonAuth)
	})

	tcfg := testConfig(tokens.ClientURL())
	tcfg.Token = secretOf(wrongTok)
	b, err := json.Marshal(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	texts = append(texts, string(b), string(y), fmt.Sprintf("%+v", tcfg))
	badToken := newPublisher(t, tcfg, logs)
	testkit.EventuallyNil(t, 5*time.Second, func() error {
		_, err := badToken.Send(sendCtx(t), koreanOutgoing())
		texts = append(texts, fmt.Sprint(err))
		return sendError(err, false, relay.ReasonAuth)
	})

	down := testConfig(natsURL(testkit.FreePort(t, "127.0.0.1")))
	down.Token = secretOf(token)
	_, err = newPublisher(t, down, logs).Send(sendCtx(t), koreanOutgoing())
	texts = append(texts, fmt.Sprint(err))

	all := logs.String() + "\n" + strings.Join(texts, "\n")
	// The checks below must have something to look at.
	for _, want := range []string{"authorization violation", "Permissions Violation", "nats connected"} {
		if !strings.Contains(strings.ToLower(all), strings.ToLower(want)) {
			t.Errorf("expected %q in the logs or errors; the scenario did not run:\n%s", want, all)
		}
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q leaked:\n%s", s, all)
		}
	}
}
