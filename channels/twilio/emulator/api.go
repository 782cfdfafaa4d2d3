package emulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxRequestBody bounds what the emulator reads of a request.
const maxRequestBody = 1 << 20

// request is one authenticated API request.
type request struct {
	r       *http.Request
	account string // the account SID in the path, equal to the caller's
	form    url.Values
}

// answer is what a handler decided to reply.
type answer struct {
	status int
	header http.Header
	body   any
}

// Error is the JSON body of Twilio's error answers.
type Error struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("twilio error %d (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// twilioError builds Twilio's error answer.
func twilioError(status, code int, format string, args ...any) answer {
	return answer{status: status, body: &Error{
		Code:     code,
		Message:  fmt.Sprintf(format, args...),
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	}}
}

func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	const base = "/" + APIVersion + "/Accounts/{AccountSid}/"
	mux.Handle("POST "+base+"Messages.json", e.api(e.createMessage))
	mux.Handle("GET "+base+"Messages.json", e.api(e.listMessages))
	mux.Handle("GET "+base+"Messages/{file}", e.api(e.fetchMessage))
	mux.Handle("POST "+base+"Calls.json", e.api(e.createCall))
	mux.Handle("GET "+base+"Calls.json", e.api(e.listCalls))
	mux.Handle("GET "+base+"Calls/{file}", e.api(e.fetchCall))
	mux.Handle("/", e.api(func(q *request) answer {
		return twilioError(http.StatusNotFound, 20404, "The requested resource %s was not found", q.r.URL.Path)
	}))
	return mux
}

// api wraps a resource handler with what every Twilio request goes
// through: the contract check, authentication, scripted faults, and a
// check of the answer.
func (e *Emulator) api(handle func(*request) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.track() {
			writeAnswer(w, twilioError(http.StatusServiceUnavailable, 20503, "Service Unavailable"))
			return
		}
		defer e.wg.Done()
		e.mu.Lock()
		e.requests++
		e.notifyLocked()
		e.mu.Unlock()

		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			return // the client went away
		}
		var ex *exchange
		var invalid error
		if e.opts.Spec != nil {
			if ex, invalid = e.opts.Spec.checkRequest(r.Context(), r, body); invalid != nil {
				e.violation("request: %v", invalid)
			}
		}
		q := &request{r: r, account: r.PathValue("AccountSid")}
		a, ok := e.authenticate(r, q.account)
		switch {
		case !ok:
		case invalid != nil && !errors.Is(invalid, errNoRoute):
			a = twilioError(http.StatusBadRequest, 20422, "Invalid parameter: %s", firstLine(invalid.Error()))
		default:
			if a, ok = e.applyRequestFault(r); ok {
				break
			}
			if q.form, err = parseForm(r, body); err != nil {
				a = twilioError(http.StatusBadRequest, 20422, "Invalid parameter: %v", err)
				break
			}
			a = handle(q)
		}
		if r.Context().Err() != nil {
			return // nobody is waiting for the answer
		}
		data := writeAnswer(w, a)
		if ex != nil {
			if err := e.opts.Spec.checkResponse(r.Context(), ex, a.status, w.Header(), data); err != nil {
				e.violation("response: %v", err)
			}
		}
	})
}

// authenticate checks HTTP basic auth against the accounts and the path's
// account. On failure it returns Twilio's 401 answer and false.
func (e *Emulator) authenticate(r *http.Request, pathAccount string) (answer, bool) {
	user, pass, ok := r.BasicAuth()
	token, known := e.opts.Accounts[user]
	if ok && known && subtle.ConstantTimeCompare([]byte(pass), []byte(token)) == 1 &&
		(pathAccount == "" || pathAccount == user) {
		return answer{}, true
	}
	a := twilioError(http.StatusUnauthorized, 20003, "Authenticate")
	a.body.(*Error).Detail = "Your AccountSid or AuthToken was incorrect."
	a.header = http.Header{"Www-Authenticate": {`Basic realm="Twilio API"`}}
	return a, false
}

func parseForm(r *http.Request, body []byte) (url.Values, error) {
	form := r.URL.Query()
	if r.Method != http.MethodPost {
		return form, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, fmt.Errorf("content type %q is not application/x-www-form-urlencoded", ct)
	}
	posted, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("form body: %w", err)
	}
	for k, vs := range posted {
		form[k] = append(form[k], vs...)
	}
	return form, nil
}

// writeAnswer writes a as JSON and returns the body written.
func writeAnswer(w http.ResponseWriter, a answer) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a.body) // the emulator's own types always encode
	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(a.status)
	_, _ = w.Write(buf.Bytes())
	return buf.Bytes()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// resourceSID returns the SID of the resource a GET names ("SM....json").
func resourceSID(q *request) string {
	return strings.TrimSuffix(q.r.PathValue("file"), ".json")
}

// uri is the path of a resource of the account, as Twilio reports it.
func uri(account, kind, sid string) string {
	return "/" + APIVersion + "/Accounts/" + account + "/" + kind + "/" + sid + ".json"
}
