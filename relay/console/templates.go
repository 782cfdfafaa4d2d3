package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/oob-relay/relay/relay"
)

// pageNames are the templates under templates/, each defining "content"
// (and any fragment a live stream renders alone) over layout.html.
var pageNames = []string{"login", "code", "resume", "incidents", "room", "people", "oncall", "rollcall", "roster",
	"cluster", "audit", "me", "error", "drills"}

type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"join": strings.Join,
}

func parseTemplates() (*templates, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		p, err := template.Must(base.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		t.pages[name] = p
	}
	return t, nil
}

// templateSources returns every template's text, for the test that no
// template holds an inline script or style.
func templateSources() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		out[p] = string(b)
		return err
	})
	return out, err
}

// view is what every page template gets.
type view struct {
	Lang    string
	Title   string
	User    *user
	CSRF    string
	Node    string
	Moved   string
	Peers   []peer
	Path    string
	Version string
	// Live is the URL of the page's live stream, if it has one.
	Live string
	// Handoff is a hand-off of the session signed as the page renders:
	// the page can continue on another node even if this one dies
	// before its live stream sent one.
	Handoff string
	// Flash says what the last action did; Error what went wrong, with
	// Detail.
	Flash  string
	Error  string
	Detail string
	Dev    bool
	Data   any
	cat    messages
}

// T returns the catalogue's text for key in the page's language.
func (v *view) T(key string) string { return v.cat.text(key) }

// Tf formats the catalogue's text for key with args.
func (v *view) Tf(key string, args ...any) string { return fmt.Sprintf(v.cat.text(key), args...) }

// PeersJSON lists the other nodes for the script.
func (v *view) PeersJSON() string {
	b, _ := json.Marshal(v.Peers)
	return string(b)
}

// Other is the language the switch link offers.
func (v *view) LangLink(lang string) string {
	return "/lang?to=" + lang + "&next=" + template.URLQueryEscaper(v.Path)
}

// newView starts the view of a page for r.
func (c *Console) newView(r *http.Request, u *user, title string) *view {
	lang := c.lang(r, u)
	v := &view{Lang: lang, Title: title, User: u, Node: c.n.Name(), Peers: c.peers(), Path: r.URL.RequestURI(),
		Version: c.static.version, Dev: c.opts.Dev, cat: catalogue[lang]}
	if u != nil {
		v.CSRF = c.formToken(u)
	}
	if from := r.URL.Query().Get("moved"); from != "" && relay.ValidID(from) {
		v.Moved = from
	}
	v.Flash = flashText(v, r.URL.Query().Get("done"))
	return v
}

// lang picks the page's language: the switch's cookie, else the
// person's roster language, else the browser's, else relay's default.
func (c *Console) lang(r *http.Request, u *user) string {
	if ck, err := r.Cookie(cookieLang); err == nil {
		if _, ok := catalogue[ck.Value]; ok {
			return ck.Value
		}
	}
	if u != nil && u.person != nil {
		if l := baseLang(u.person.LangOrDefault()); l != "" {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := baseLang(tag); l != "" {
			return l
		}
	}
	return baseLang(relay.DefaultLang)
}

func baseLang(tag string) string {
	l, _, _ := strings.Cut(strings.ToLower(tag), "-")
	if _, ok := catalogue[l]; ok {
		return l
	}
	return ""
}

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, status int, name string, v *view) {
	var buf bytes.Buffer
	if err := c.pages.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console page failed to render", "page", name, "err", err)
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders one named part of page name alone, for a live update.
func (c *Console) fragment(name, part string, v *view) (string, error) {
	var buf bytes.Buffer
	err := c.pages.pages[name].ExecuteTemplate(&buf, part, v)
	return buf.String(), err
}

// fail renders the error page: what (a catalogue key) and the detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, u *user, status int, what, detail string) {
	v := c.newView(r, u, "error.title")
	if u == nil {
		v.CSRF = ""
	}
	v.Error, v.Detail = what, detail
	if status == http.StatusUnauthorized {
		v.Data = "/login?next=" + template.URLQueryEscaper(r.URL.RequestURI())
	}
	c.render(w, status, "error", v)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	u, _ := c.authenticate(r)
	c.fail(w, r, u, http.StatusNotFound, "error.notfound", r.URL.Path)
}

// back redirects after a form to the local path next (or fallback) with
// a flash key.
func back(w http.ResponseWriter, r *http.Request, next, done string) {
	sep := "?"
	if strings.Contains(next, "?") {
		sep = "&"
	}
	if done != "" {
		next += sep + "done=" + done
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// localPath returns p when it is a path on this site, else fallback: a
// redirect never leaves the console.
func localPath(p, fallback string) string {
	if p == "" || len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return fallback
	}
	// Browsers drop tabs and line breaks from URLs: "/\t/evil" would
	// become "//evil", another site.
	if strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fallback
	}
	return p
}

func flashText(v *view, done string) string {
	if done == "" {
		return ""
	}
	key := "done." + done
	if _, ok := v.cat[key]; !ok {
		return ""
	}
	return key
}
