package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/session"
)

// Cookie names. Over HTTPS the session cookie takes the __Host- prefix:
// the browser then keeps it to this host, path / and Secure.
const (
	cookieSession       = "relay_session"
	cookieSessionSecure = "__Host-relay_session"
	cookieLang          = "relay_lang"
)

// roles a page may need.
type role int

const (
	roleAny role = iota
	roleCommander
	roleAdmin
)

// user is who a request comes from: a person with a session, or an API
// token of an admin.
type user struct {
	person *relay.Person // nil for a token
	token  string        // the token's name
	claims session.Claims
	// scope is the one incident a session from a personal link may see.
	scope string
}

func (u *user) actor() string {
	if u.person == nil {
		return "token:" + u.token
	}
	return u.person.ID
}

// Name is what the page calls the user.
func (u *user) Name() string {
	switch {
	case u.person == nil:
		return u.token
	case u.person.Name != "":
		return u.person.Name
	}
	return u.person.ID
}

func (u *user) has(r string) bool { return u.person != nil && slices.Contains(u.person.Roles, r) }

// Commander says the user may choose audiences, post at high priority
// and start roll-calls; an admin token may.
func (u *user) Commander() bool {
	return u.scope == "" && (u.person == nil || u.has(relay.PersonCommander) || u.has(relay.PersonAdmin))
}

// Admin says the user may see the roster, cluster and audit pages and
// apply rosters.
func (u *user) Admin() bool { return u.scope == "" && (u.person == nil || u.has(relay.PersonAdmin)) }

// Person says the user acts as a person (replies, acknowledges,
// answers); an API token acts as nobody.
func (u *user) Person() bool { return u.person != nil }

// Scoped says the session came from a personal link and sees one
// incident.
func (u *user) Scoped() string { return u.scope }

func (u *user) allows(need role) bool {
	switch need {
	case roleCommander:
		return u.Commander()
	case roleAdmin:
		return u.Admin()
	}
	return true
}

func (c *Console) cookieName() string {
	if c.opts.Secure {
		return cookieSessionSecure
	}
	return cookieSession
}

// setSession sets the session cookie to token until exp.
func (c *Console) setSession(w http.ResponseWriter, token string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: token, Path: "/", Expires: exp,
		MaxAge: max(1, int(exp.Sub(c.opts.Now()).Seconds())), HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
}

// errNoSession: nothing says who the request comes from.
var errNoSession = errors.New("not logged in")

// authenticate finds the user of r: a session cookie (checked, not
// revoked, its person still in the roster), or else an admin's API
// token.
func (c *Console) authenticate(r *http.Request) (*user, error) {
	if ck, err := r.Cookie(c.cookieName()); err == nil && ck.Value != "" {
		return c.sessionUser(ck.Value)
	}
	if r.Header.Get("Authorization") != "" {
		name, role, wait, ok := c.opts.Gate.Bearer(r)
		switch {
		case wait > 0:
			return nil, errors.New("too many wrong tokens from this address; try again in " + strconv.Itoa(int(wait.Seconds())+1) + " s")
		case !ok:
			return nil, errors.New("the bearer token is not valid on this node")
		case role != relay.RoleAdmin:
			return nil, errors.New("token " + name + " has role " + string(role) + "; the console takes admin tokens only")
		}
		return &user{token: name}, nil
	}
	return nil, errNoSession
}

func (c *Console) sessionUser(tok string) (*user, error) {
	cl, err := c.n.Tokens().Check(session.KindSession, tok)
	if err != nil {
		return nil, err
	}
	if c.n.SessionRevoked(cl) {
		return nil, errors.New("the session was ended")
	}
	ros, err := c.n.Roster()
	if err != nil {
		return nil, err
	}
	p, ok := ros.Person(cl.Person)
	if !ok {
		return nil, errors.New("the session's person is no longer in the roster")
	}
	return &user{person: p, claims: cl, scope: cl.Incident}, nil
}

// formToken is the token every form of u's pages carries: signed by this
// node, naming u's session, so that every node accepts it for that
// session only.
func (c *Console) formToken(u *user) string {
	if u == nil || u.person == nil {
		return ""
	}
	ttl := u.claims.ExpiresAt().Sub(c.opts.Now())
	if ttl <= 0 {
		return ""
	}
	tok, _ := c.n.Tokens().Issue(session.KindForm, u.claims.ID, u.person.ID, "", ttl)
	return tok
}

// checkForm refuses a POST that did not come from this console's own
// page: a cross-site Sec-Fetch-Site or Origin, or (for a session) a form
// token missing or not naming the session.
func (c *Console) checkForm(r *http.Request, u *user) error {
	if err := c.sameOrigin(r); err != nil {
		return err
	}
	if u == nil || u.person == nil {
		return nil // an API token comes in a header no other site can make a browser send
	}
	tok := r.PostFormValue("csrf")
	if tok == "" {
		return errors.New("the form has no csrf token; reload the page")
	}
	fc, err := c.n.Tokens().Check(session.KindForm, tok)
	if err != nil {
		return errors.New("the form's csrf token is not valid: " + err.Error())
	}
	if fc.ID != u.claims.ID || fc.Person != u.person.ID {
		return errors.New("the form's csrf token belongs to another session")
	}
	return nil
}

// sameOrigin refuses a request a browser marks as coming from another
// site, or whose Origin is not this node's.
func (c *Console) sameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin":
	default:
		return errors.New("the request came from another site (Sec-Fetch-Site: " + site + ")")
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	if o == "null" {
		// An opaque origin (a sandboxed frame, a data: URL, a page
		// under a no-referrer policy) passes only when Sec-Fetch-Site,
		// which no page can set, says the post came from this origin.
		// The console's own pages send their origin: their referrer
		// policy is same-origin.
		if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
			return nil
		}
		return errors.New("the request came from an opaque origin")
	}
	u, err := url.Parse(o)
	if err != nil {
		return errors.New("the Origin header is not a URL")
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	if p, err := url.Parse(c.opts.PublicURL); err == nil && p.Host != "" && strings.EqualFold(p.Host, u.Host) && p.Scheme == u.Scheme {
		return nil
	}
	return errors.New("the request came from another origin (" + u.Scheme + "://" + u.Host + ")")
}

type userKey struct{}

func userOf(ctx context.Context) *user {
	u, _ := ctx.Value(userKey{}).(*user)
	return u
}

// page wraps a handler that needs a user with role need: without one, a
// GET goes to the login page and anything else is refused; a user
// without the role, or a link's session outside its incident, gets the
// 403 page; a POST must pass checkForm.
func (c *Console) page(need role, h func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.admit(w, r) {
			return
		}
		u, err := c.authenticate(r)
		if err != nil {
			if errors.Is(err, errNoSession) && r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if !errors.Is(err, errNoSession) && r.Header.Get("Authorization") == "" {
				c.clearSession(w)
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "error.session", err.Error())
			return
		}
		if !u.allows(need) {
			c.fail(w, r, u, http.StatusForbidden, "error.forbidden", "")
			return
		}
		if u.scope != "" && !c.inScope(r, u) {
			c.fail(w, r, u, http.StatusForbidden, "error.scoped", "")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, c.formLimit(r))
			if err := c.checkForm(r, u); err != nil {
				c.m.csrf.Inc()
				c.fail(w, r, u, http.StatusForbidden, "error.csrf", err.Error())
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)), u)
	}
}

func (c *Console) formLimit(r *http.Request) int64 {
	if r.URL.Path == "/admin/roster" {
		return c.opts.MaxRosterBytes + 64<<10
	}
	return c.opts.MaxFormBytes
}

// inScope says whether a link's session may see r: its incident's room
// and what hangs off it, and logging out.
func (c *Console) inScope(r *http.Request, u *user) bool {
	if r.URL.Path == "/logout" {
		return true
	}
	id := r.PathValue("id")
	return id != "" && id == u.scope && strings.HasPrefix(r.URL.Path, "/incidents/")
}

// open wraps a handler that needs no user; the address limit still
// holds, and a POST must come from this origin.
func (c *Console) open(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.admit(w, r) {
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, c.opts.MaxFormBytes)
			if err := c.sameOrigin(r); err != nil {
				c.m.csrf.Inc()
				c.fail(w, r, nil, http.StatusForbidden, "error.csrf", err.Error())
				return
			}
		}
		h(w, r)
	}
}

// admit takes the request from the address's bucket, shared with the
// API, or answers 429.
func (c *Console) admit(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/static/") {
		return true
	}
	if wait := c.opts.Gate.AdmitAddress(c.opts.Gate.ClientAddr(r)); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		c.fail(w, r, nil, http.StatusTooManyRequests, "error.slow", "")
		return false
	}
	return true
}
