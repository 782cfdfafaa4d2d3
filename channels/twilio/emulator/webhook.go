package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/oob-relay/relay/channels/twilio/segment"
)

// maxWebhookAnswer bounds what the emulator reads of a webhook's answer.
const maxWebhookAnswer = 64 << 10

// Sign returns the X-Twilio-Signature Twilio sends with a webhook to
// fullURL: the base64 HMAC-SHA1, keyed by the account's auth token, of the
// URL followed by each POST parameter's name and value, in name order. For
// a GET webhook params is empty and the query is part of fullURL.
func Sign(authToken, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Reply is what a webhook answered.
type Reply struct {
	Status      int
	ContentType string
	Body        string
}

// post calls a webhook of the account as Twilio does: form-encoded POST
// (or GET with the parameters in the query), signed with the account's
// auth token.
func (e *Emulator) post(ctx context.Context, method, target, account string, params url.Values) (Reply, error) {
	token, ok := e.opts.Accounts[account]
	if !ok {
		return Reply{}, fmt.Errorf("unknown account %s", account)
	}
	var body io.Reader
	signed := params
	if method == http.MethodGet {
		u, err := url.Parse(target)
		if err != nil {
			return Reply{}, err
		}
		q := u.Query()
		for k, vs := range params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		target, signed = u.String(), nil
	} else {
		method = http.MethodPost
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return Reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", Sign(token, target, signed))
	req.Header.Set("I-Twilio-Idempotency-Token", e.sid("ID"))
	resp, err := e.client.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer))
	reply := Reply{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(data)}
	if err != nil {
		return reply, err
	}
	if resp.StatusCode >= 400 {
		return reply, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return reply, nil
}

// Inbound is a text message a phone sends to one of the account's
// numbers.
type Inbound struct {
	// URL is the number's messaging webhook, the application's address for
	// incoming messages.
	URL string
	// Method is POST (the default) or GET.
	Method string
	// AccountSID may be empty when the emulator has a single account.
	AccountSID string
	From       string
	To         string
	Body       string
}

// InboundReply is the application's answer to an inbound message.
type InboundReply struct {
	// MessageSID is the SID Twilio gave the inbound message.
	MessageSID string
	Reply
}

// SendInbound delivers an inbound SMS to the application the way Twilio
// calls a messaging webhook: a signed request with MessageSid, From, To,
// Body, NumMedia, NumSegments, AccountSid, ApiVersion and the rest. It
// returns the application's answer (usually TwiML) whatever its status; the
// error reports only a failure to get an answer at all.
func (e *Emulator) SendInbound(ctx context.Context, in Inbound) (InboundReply, error) {
	account := in.AccountSID
	if account == "" {
		if len(e.opts.Accounts) != 1 {
			return InboundReply{}, errors.New("emulator: inbound message needs an AccountSID when there are several accounts")
		}
		for sid := range e.opts.Accounts {
			account = sid
		}
	}
	if !validCallback(in.URL) {
		return InboundReply{}, fmt.Errorf("emulator: inbound webhook %q is not an absolute http(s) URL", in.URL)
	}
	if !e.track() {
		return InboundReply{}, errors.New("emulator: closed")
	}
	defer e.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()

	sid := e.sid("SM")
	params := url.Values{
		"AccountSid":    {account},
		"ApiVersion":    {APIVersion},
		"Body":          {in.Body},
		"From":          {in.From},
		"MessageSid":    {sid},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(segment.Count(in.Body).Segments)},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"SmsStatus":     {"received"},
		"To":            {in.To},
	}
	method := http.MethodPost
	if strings.EqualFold(in.Method, http.MethodGet) {
		method = http.MethodGet
	}
	reply, err := e.post(ctx, method, in.URL, account, params)
	if err != nil && reply.Status == 0 {
		return InboundReply{MessageSID: sid}, fmt.Errorf("emulator: inbound webhook: %w", err)
	}
	return InboundReply{MessageSID: sid, Reply: reply}, nil
}
