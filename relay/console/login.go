package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// codeData is the code form's.
type codeData struct {
	Challenge string
	SentTo    []string
	Next      string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"), "/")
	if u, err := c.authenticate(r); err == nil && u.scope == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	v := c.newView(r, nil, "login.title")
	v.Data = next
	c.render(w, http.StatusOK, "login", v)
}

func (c *Console) loginPost(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, nil, "login.title")
	next := localPath(r.PostFormValue("next"), "/")
	v.Data = next
	contact := strings.TrimSpace(r.PostFormValue("contact"))
	if contact == "" || len(contact) > 254 {
		v.Error = "login.bad"
		c.render(w, http.StatusBadRequest, "login", v)
		return
	}
	ch, err := c.n.StartLogin(r.Context(), contact, c.opts.Gate.ClientAddr(r))
	if err != nil {
		status := c.loginError(w, v, err)
		c.render(w, status, "login", v)
		return
	}
	v = c.newView(r, nil, "code.title")
	v.Data = codeData{Challenge: ch.ID, SentTo: ch.SentTo, Next: next}
	c.render(w, http.StatusOK, "code", v)
}

// loginError sets the view's error for a login error and returns the
// status to answer with.
func (c *Console) loginError(w http.ResponseWriter, v *view, err error) int {
	var rl *relay.RateLimitError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", retryAfter(rl.RetryAfter))
		v.Error, v.Detail = "login.slow", err.Error()
		return http.StatusTooManyRequests
	case errors.Is(err, relay.ErrLockedOut):
		v.Error = "login.locked"
		return http.StatusTooManyRequests
	case errors.Is(err, relay.ErrCodeWrong):
		v.Error = "code.wrong"
		return http.StatusUnauthorized
	case errors.Is(err, relay.ErrCodeExpired):
		v.Error = "code.expired"
		return http.StatusUnauthorized
	}
	c.log.Warn("console login failed", "err", err)
	v.Error = "login.unavailable"
	return http.StatusServiceUnavailable
}

func retryAfter(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return itoa(max(1, s))
}

func (c *Console) codePage(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) codePost(w http.ResponseWriter, r *http.Request) {
	id, code := r.PostFormValue("challenge"), strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("code")), " ", "")
	next := localPath(r.PostFormValue("next"), "/")
	if id == "" || len(id) > 256 || code == "" || len(code) > 12 {
		v := c.newView(r, nil, "login.title")
		v.Data, v.Error = next, "code.bad"
		c.render(w, http.StatusBadRequest, "login", v)
		return
	}
	person, err := c.n.FinishLogin(r.Context(), id, code, c.opts.Gate.ClientAddr(r))
	if err != nil {
		v := c.newView(r, nil, "code.title")
		v.Data = codeData{Challenge: id, Next: next}
		status := c.loginError(w, v, err)
		if errors.Is(err, relay.ErrCodeExpired) || status == http.StatusServiceUnavailable {
			v.Title, v.Data = "login.title", next
			c.render(w, status, "login", v)
			return
		}
		c.render(w, status, "code", v)
		return
	}
	tok, cl := c.n.Tokens().Issue(session.KindSession, "", person, "", c.n.SessionTTL())
	c.setSession(w, tok, cl.ExpiresAt())
	c.audit(r.Context(), r, &user{person: &relay.Person{ID: person}}, "login", person, "one-time code")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// personalLink turns a link token into a session scoped to its incident
// and opens the room. A person already logged in keeps their session.
func (c *Console) personalLink(w http.ResponseWriter, r *http.Request) {
	lc, err := c.n.Tokens().Check(session.KindLink, r.PathValue("token"))
	if err != nil {
		c.fail(w, r, nil, http.StatusUnauthorized, "error.link", err.Error())
		return
	}
	room := "/incidents/" + lc.Incident
	if u, err := c.authenticate(r); err == nil && u.person != nil && u.person.ID == lc.Person && (u.scope == "" || u.scope == lc.Incident) {
		http.Redirect(w, r, room, http.StatusSeeOther)
		return
	}
	ros, err := c.n.Roster()
	if err != nil {
		c.fail(w, r, nil, http.StatusServiceUnavailable, "error.store", "")
		return
	}
	if _, ok := ros.Person(lc.Person); !ok {
		c.fail(w, r, nil, http.StatusUnauthorized, "error.link", "the link's person is no longer in the roster")
		return
	}
	ttl := min(c.n.SessionTTL(), lc.ExpiresAt().Sub(c.opts.Now()))
	tok, cl := c.n.Tokens().Issue(session.KindSession, "", lc.Person, lc.Incident, ttl)
	c.setSession(w, tok, cl.ExpiresAt())
	c.audit(r.Context(), r, &user{person: &relay.Person{ID: lc.Person}}, "login", lc.Incident, "personal link")
	http.Redirect(w, r, room, http.StatusSeeOther)
}

func (c *Console) resumePage(w http.ResponseWriter, r *http.Request) {
	v := c.newView(r, nil, "resume.title")
	c.render(w, http.StatusOK, "resume", v)
}

// resumePost turns a hand-off from another node into the same session
// here. A hand-off is taken once in the cluster: the node that takes it
// records it as a relay.Seen of the replicated log, so that it is refused
// again here after a restart and on every node that holds the record.
func (c *Console) resumePost(w http.ResponseWriter, r *http.Request) {
	h := r.PostFormValue("handoff")
	tok, cl, err := c.n.Tokens().Resume(h)
	if err == nil && c.n.SessionRevoked(cl) {
		err = errors.New("the session was ended")
	}
	if err == nil {
		err = c.takeHandoff(r.Context(), h)
	}
	if err != nil {
		http.Error(w, "hand-off refused: "+err.Error(), http.StatusUnauthorized)
		return
	}
	c.setSession(w, tok, cl.ExpiresAt())
	c.m.moved.Inc()
	c.audit(r.Context(), r, &user{person: &relay.Person{ID: cl.Person}}, "session.resume", cl.Person, "hand-off")
	w.WriteHeader(http.StatusNoContent)
}

// handoffKey names a hand-off in the cluster's memory of requests taken.
func handoffKey(h string) string {
	sum := sha256.Sum256([]byte(h))
	return "console:handoff:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// takeHandoff takes the checked hand-off h once: refused when this node
// took it (in memory, so that two posts here at once cannot both pass)
// or the cluster's memory holds it; else recorded there until it
// expires. Two nodes taking the same hand-off before either's record
// reached the other both pass: both continue the same person's session,
// which whoever holds the hand-off could continue anyway.
func (c *Console) takeHandoff(ctx context.Context, h string) error {
	hc, err := c.n.Tokens().Check(session.KindHandoff, h)
	if err != nil {
		return err
	}
	key := handoffKey(h)
	switch seen, err := c.n.Seen(key); {
	case err != nil:
		c.log.Warn("hand-off memory not readable", "err", err)
		return errors.New("this node cannot tell whether the hand-off was used")
	case seen:
		return errors.New("this hand-off was used already")
	}
	if !c.handoff.take(h, hc.ExpiresAt(), c.opts.Now()) {
		return errors.New("this hand-off was used already")
	}
	if err := c.n.Remember(ctx, key, hc.ExpiresAt()); err != nil {
		c.log.Warn("hand-off not recorded as taken", "err", err)
		return errors.New("this node cannot record the hand-off")
	}
	return nil
}

// usedHandoffs remembers the hand-offs this process took, until they
// expire, so that two posts of one hand-off here at once cannot both
// pass before the first is recorded in the store.
type usedHandoffs struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// maxUsedHandoffs bounds the memory: past it, expired ones are swept,
// and if none has expired the hand-off is refused (the page then asks
// for a login).
const maxUsedHandoffs = 100_000

func newUsedHandoffs() *usedHandoffs { return &usedHandoffs{seen: map[string]time.Time{}} }

func (u *usedHandoffs) take(h string, exp, now time.Time) bool {
	_, sig, _ := strings.Cut(h, ".")
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.seen[sig]; ok {
		return false
	}
	if len(u.seen) >= maxUsedHandoffs {
		for k, e := range u.seen {
			if !now.Before(e) {
				delete(u.seen, k)
			}
		}
		if len(u.seen) >= maxUsedHandoffs {
			return false
		}
	}
	u.seen[sig] = exp
	return true
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, u *user) {
	if u.person != nil {
		if err := c.n.RevokeSession(r.Context(), u.claims.ID, u.person.ID, u.person.ID); err != nil {
			c.log.Warn("session not revoked at logout", "person", u.person.ID, "err", err)
		}
	}
	c.clearSession(w)
	c.audit(r.Context(), r, u, "logout", u.actor(), "")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if _, ok := catalogue[to]; ok {
		http.SetCookie(w, &http.Cookie{Name: cookieLang, Value: to, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: c.opts.Secure, SameSite: http.SameSiteLaxMode, HttpOnly: true})
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/"), http.StatusSeeOther)
}
