package browser_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oob-relay/relay/internal/testkit/browser"
)

const (
	clean = `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>점검</title></head>` +
		`<body><main><h1>비상 연락</h1><p id="text">3층 화재, 대피하세요</p></main></body></html>`
	broken = `<!doctype html><html><head><meta charset="utf-8"><title>x</title></head>` +
		`<body><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text"></main></body></html>`
)

// TestBrowser: chromium starts, reads a Korean page, writes its
// screenshots at both widths, and axe-core finds the critical problems
// of a broken page and none on a clean one.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'")
		if r.URL.Path == "/broken" {
			w.Write([]byte(broken))
			return
		}
		w.Write([]byte(clean))
	}))
	defer srv.Close()
	b := browser.Start(t)

	b.Do(t, "open the clean page", chromedp.Navigate(srv.URL+"/"))
	if got := b.Text(t, "#text"); got != "3층 화재, 대피하세요" {
		t.Errorf("text = %q", got)
	}
	fonts := b.Fonts(t, "#text")
	t.Logf("fonts of the Korean text: %v", fonts)
	if !browser.HangulFont(fonts) {
		t.Errorf("the Korean text is drawn in %v, none of which has Hangul", fonts)
	}
	if vs := b.Axe(t); len(vs) != 0 {
		t.Errorf("clean page: %v", vs)
	}
	for _, p := range b.Screenshots(t, "clean") {
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", p, err)
		}
	}

	b.Do(t, "open the broken page", chromedp.Navigate(srv.URL+"/broken"))
	var ids []string
	for _, v := range b.Axe(t) {
		ids = append(ids, v.ID)
	}
	for _, want := range []string{"image-alt", "label", "html-has-lang"} {
		if !slices.Contains(ids, want) {
			t.Errorf("axe found %v on the broken page, not %s", ids, want)
		}
	}
	if errs := b.Errors(); len(errs) != 0 {
		t.Errorf("page errors: %v", errs)
	}
}
