package devstack

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oob-relay/relay/cmd/relay/internal/launch"
	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// PlaygroundPath is where every dev node serves its playground: a
// simulated phone and mailbox for each demo person.
const PlaygroundPath = "/dev/"

// LoginPath, followed by a session token, logs the browser in to the
// console as the token's person.
const LoginPath = PlaygroundPath + "login/"

// SessionCookie is the console's session cookie over plain HTTP.
const SessionCookie = "relay_session"

// LoginTTL is how long a dev login lasts.
const LoginTTL = 12 * time.Hour

//go:embed web
var web embed.FS

var page = template.Must(template.New("playground.html").Funcs(template.FuncMap{
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
}).ParseFS(web, "web/playground.html"))

// playground serves node n's playground. Its forms post what a demo
// person does through the paths a real phone and mail client take.
type playground struct {
	s      *Stack
	n      *devNode
	srv    *launch.Server
	tokens *session.Tokens
}

func (s *Stack) playground(n *devNode, srv *launch.Server) http.Handler {
	pg := &playground{s: s, n: n, srv: srv, tokens: srv.Node.Tokens()}
	static, _ := fs.Sub(web, "web/static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PlaygroundPath+"{$}", pg.show)
	mux.Handle("GET "+PlaygroundPath+"static/", http.StripPrefix(PlaygroundPath+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+LoginPath+"{token}", pg.login)
	mux.HandleFunc("GET "+PlaygroundPath+"state", pg.state)
	mux.HandleFunc("POST "+PlaygroundPath+"sms", pg.sms)
	mux.HandleFunc("POST "+PlaygroundPath+"press", pg.press)
	mux.HandleFunc("POST "+PlaygroundPath+"mail", pg.mail)
	return secure(mux)
}

// secure sets a strict Content-Security-Policy and refuses form posts
// from other sites.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method == http.MethodPost && !sameOrigin(r) {
			http.Error(w, "cross-site form posts are refused", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// LoginURL is a one-click console login as person on node n: a session
// token n signs, which every node accepts.
func (pg *playground) loginURL(person string) string {
	tok, _ := pg.tokens.Issue(session.KindSession, "", person, "", LoginTTL)
	return pg.n.cfg.HTTP.PublicURL + LoginPath + tok
}

// LoginURL returns a one-click console login as person on the named node.
func (s *Stack) LoginURL(node, person string) (string, error) {
	n, err := s.running(node)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	srv := n.srv
	s.mu.Unlock()
	pg := &playground{s: s, n: n, srv: srv, tokens: srv.Node.Tokens()}
	return pg.loginURL(person), nil
}

// login sets the console's session cookie to the token in the path and
// opens the console.
func (pg *playground) login(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	c, err := pg.tokens.Check(session.KindSession, tok)
	if err != nil {
		http.Error(w, "dev login: "+err.Error(), http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Expires: c.ExpiresAt()})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// view is what the playground page shows.
type view struct {
	Node string
	// State changes whenever what the page shows may have; Live pages
	// reload then.
	State  string
	Live   bool
	Nodes  []nodeLink
	People []personView
	Error  string
	Done   string
}

type nodeLink struct {
	Name, URL string
	Up, Here  bool
}

type personView struct {
	ID, Name, Lang, Phone, Email string
	Login                        string
	Thread                       []phoneEntry
	Mails                        []mailEntry
}

type phoneEntry struct {
	At       time.Time
	Mine     bool
	Call     bool
	SID      string
	Text     string
	Status   string
	Digits   string
	Gathers  bool
	Segments int
}

type mailEntry struct {
	At                time.Time
	Mine              bool
	ID, From, Subject string
	Text              string
	CanReply          bool
}

func (pg *playground) show(w http.ResponseWriter, r *http.Request) {
	v := view{Node: pg.n.cfg.Node.Name, Error: r.URL.Query().Get("error"), Done: r.URL.Query().Get("done"),
		State: pg.s.state(), Live: r.URL.Query().Get("live") != "0"}
	pg.s.mu.Lock()
	for _, n := range pg.s.nodes {
		v.Nodes = append(v.Nodes, nodeLink{Name: n.cfg.Node.Name, URL: n.cfg.HTTP.PublicURL, Up: n.srv != nil, Here: n == pg.n})
	}
	pg.s.mu.Unlock()
	roster, err := pg.srv.Node.Roster()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	for _, p := range roster.People {
		v.People = append(v.People, pg.person(&p))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := page.Execute(w, v); err != nil {
		pg.s.log.Warn("dev playground could not render", "err", err)
	}
}

func (pg *playground) person(p *relay.Person) personView {
	pv := personView{ID: p.ID, Name: p.Name, Lang: p.LangOrDefault(), Phone: p.Phone, Email: p.Email, Login: pg.loginURL(p.ID)}
	if p.Phone != "" {
		for _, m := range pg.s.emu.Messages() {
			if m.To == p.Phone {
				pv.Thread = append(pv.Thread, phoneEntry{At: m.Created, Text: m.Body, Status: m.Status, Segments: m.Segments})
			}
		}
		for _, c := range pg.s.emu.Calls() {
			if c.To == p.Phone {
				pv.Thread = append(pv.Thread, phoneEntry{At: c.Created, Call: true, SID: c.SID, Text: twimlText(c.Document, "Say"),
					Status: c.Status, Digits: c.Digits, Gathers: gathers(c.Document) && c.Status != "queued"})
			}
		}
	}
	for _, it := range pg.s.sentBy(p.ID) {
		switch it.Kind {
		case sentSMS, sentKey:
			text := it.Text
			if it.Kind == sentKey {
				text = "☎ " + text
			}
			pv.Thread = append(pv.Thread, phoneEntry{At: it.At, Mine: true, Text: text})
			if it.Answer != "" {
				pv.Thread = append(pv.Thread, phoneEntry{At: it.At, Text: it.Answer, Status: "reply"})
			}
		case sentMail:
			pv.Mails = append(pv.Mails, mailEntry{At: it.At, Mine: true, From: p.Email, Text: it.Text})
		}
	}
	if p.Email != "" {
		for _, m := range pg.s.mailsTo(p.Email) {
			from := ""
			if len(m.From) > 0 {
				from = strings.TrimSpace(m.From[0].Name + " <" + m.From[0].Address + ">")
			}
			pv.Mails = append(pv.Mails, mailEntry{At: m.Date, ID: m.MessageID, From: from, Subject: m.Subject, Text: m.Text,
				CanReply: len(m.ReplyTo) > 0})
		}
	}
	slices.SortStableFunc(pv.Thread, func(a, b phoneEntry) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(pv.Mails, func(a, b mailEntry) int { return b.At.Compare(a.At) })
	return pv
}

// state answers the playground's current state, for a live page to
// reload when it changes.
func (pg *playground) state(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, pg.s.state())
}

// state sums up what the sinks received and the people sent.
func (s *Stack) state() string {
	h := sha256.New()
	for _, m := range s.emu.Messages() {
		fmt.Fprintf(h, "m %s %s\n", m.SID, m.Status)
	}
	for _, c := range s.emu.Calls() {
		fmt.Fprintf(h, "c %s %s %s\n", c.SID, c.Status, c.Digits)
	}
	fmt.Fprintf(h, "mails %d\n", len(s.sink.Mails()))
	s.sentMu.Lock()
	fmt.Fprintf(h, "sent %d\n", len(s.sent))
	s.sentMu.Unlock()
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (pg *playground) back(w http.ResponseWriter, r *http.Request, person string, err error, done string) {
	q := url.Values{}
	if err != nil {
		q.Set("error", err.Error())
	} else if done != "" {
		q.Set("done", done)
	}
	target := PlaygroundPath
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target+"#"+person, http.StatusSeeOther)
}

func (pg *playground) form(w http.ResponseWriter, r *http.Request) (*relay.Person, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	p, err := pg.s.person(pg.n, r.PostForm.Get("person"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return p, true
}

func (pg *playground) sms(w http.ResponseWriter, r *http.Request) {
	p, ok := pg.form(w, r)
	if !ok {
		return
	}
	answer, err := pg.s.SendSMS(r.Context(), pg.n, p, r.PostForm.Get("text"))
	pg.back(w, r, p.ID, err, answer)
}

func (pg *playground) press(w http.ResponseWriter, r *http.Request) {
	p, ok := pg.form(w, r)
	if !ok {
		return
	}
	answer, err := pg.s.Press(r.Context(), p, r.PostForm.Get("call"), r.PostForm.Get("digits"))
	pg.back(w, r, p.ID, err, answer)
}

func (pg *playground) mail(w http.ResponseWriter, r *http.Request) {
	p, ok := pg.form(w, r)
	if !ok {
		return
	}
	err := pg.s.SendMail(r.Context(), pg.n, p, r.PostForm.Get("mail"), r.PostForm.Get("text"))
	pg.back(w, r, p.ID, err, "")
}

// twimlText joins the text of every element named verb in a TwiML
// document.
func twimlText(doc, verb string) string {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var parts []string
	depth := 0
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == verb {
				depth++
			}
		case xml.EndElement:
			if t.Name.Local == verb && depth > 0 {
				depth--
				for _, line := range strings.Split(b.String(), "\n") {
					if line = strings.TrimSpace(line); line != "" {
						parts = append(parts, line)
					}
				}
				b.Reset()
			}
		case xml.CharData:
			if depth > 0 {
				b.Write(t)
			}
		}
	}
	return strings.Join(parts, "\n")
}

// gathers reports whether a TwiML document gathers keys.
func gathers(doc string) bool {
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "Gather" {
			return true
		}
	}
}
