// Package browser drives Debian's chromium for the web pages' tests: it
// starts a headless chromium through chromedp with a fresh profile,
// opens tabs, writes screenshots at a phone's and a desktop's width for
// review, and runs axe-core in a page to find accessibility problems.
//
// Chromium must be installed (apt-get install chromium; .ci/run does
// it): without it the tests that need it fail, saying so, and never
// skip. RELAY_CHROMIUM names another binary.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Widths at which Screenshots captures a page: a phone (an iPhone 12 to
// 15's 390×844 CSS pixels) and a desktop.
var (
	Phone   = Viewport{Name: "phone", Width: 390, Height: 844, Mobile: true}
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800}
)

// Viewport is a window size.
type Viewport struct {
	Name          string
	Width, Height int64
	Mobile        bool
}

// Flags are chromium's flags here: headless, no sandbox (the tests run
// as root), and nothing that reaches outside the machine.
var Flags = []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync",
	"no-default-browser-check", "disable-dev-shm-usage", "mute-audio", "hide-scrollbars"}

// Browser is one running chromium with its own profile: its cookies are
// its own, as a second person's browser would be.
type Browser struct {
	ctx    context.Context
	cancel context.CancelFunc
	shots  string

	mu     sync.Mutex
	errors []string
	visits []string
}

// Path finds chromium: RELAY_CHROMIUM, else chromium or
// chromium-browser on PATH, else /usr/bin/chromium.
func Path() (string, error) {
	if p := os.Getenv("RELAY_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", errors.New("chromium is not installed: install Debian's package (apt-get install -y chromium, as .ci/run does) " +
		"or set RELAY_CHROMIUM to a chromium binary")
}

// Start starts a headless chromium for the test; the test's cleanup
// stops it.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	path, err := Path()
	if err != nil {
		tb.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(int(Desktop.Width), int(Desktop.Height))}
	for _, f := range Flags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{shots: ScreenshotDir(tb)}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.ctx, b.cancel = ctx, func() { cancel(); acancel() }
	// Start the browser now, so that a missing library fails here.
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		tb.Fatalf("chromium %s does not start: %v", path, err)
	}
	tb.Cleanup(b.Close)
	return b
}

// Close stops the browser.
func (b *Browser) Close() {
	chromedp.Cancel(b.ctx)
	b.cancel()
}

// Context is the browser's first tab, for chromedp actions.
func (b *Browser) Context() context.Context { return b.ctx }

// listen records the page's uncaught exceptions and the messages it
// logs as errors, which include refusals by its Content-Security-Policy.
func (b *Browser) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *page.EventFrameNavigated:
		if e.Frame != nil && e.Frame.ParentID == "" {
			b.mu.Lock()
			b.visits = append(b.visits, e.Frame.URL+e.Frame.URLFragment)
			b.mu.Unlock()
		}
		return
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		}
		msg = "console.error: " + strings.Join(parts, " ")
	default:
		return
	}
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// Visits returns the URLs the tab's page went to, in order.
func (b *Browser) Visits() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.visits...)
}

// Errors returns the uncaught exceptions and console errors so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Do runs actions in the browser's tab and fails the test on an error,
// saying what step was being done.
func (b *Browser) Do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("browser: %s: %v", what, err)
	}
}

// Text returns the text (innerText) of the first element sel matches
// (CSS), waiting for it to be there. It reads it in the page, so a live
// update that replaces the element meanwhile does no harm.
func (b *Browser) Text(tb testing.TB, sel string) string {
	tb.Helper()
	js := fmt.Sprintf(`new Promise(function (resolve) {
		(function poll() {
			var el = document.querySelector(%q);
			if (el) { resolve(el.innerText); return; }
			setTimeout(poll, 10);
		})();
	})`, sel)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression in the page and returns its
// value decoded into T.
func Eval[T any](tb testing.TB, b *Browser, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("browser: evaluate %.60q: %v", expr, err)
	}
	return v
}

// ScreenshotDir is where screenshots of the test go: a folder named for
// the test under $RELAY_SCREENSHOTS when it is set (kept for review),
// else a temporary folder of the test (removed after it).
func ScreenshotDir(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv("RELAY_SCREENSHOTS")
	if root == "" {
		return tb.TempDir()
	}
	dir := filepath.Join(root, fileName(tb.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(s string) string { return strings.Trim(unsafeName.ReplaceAllString(s, "_"), "_") }

// Screenshots captures the whole page as it is at the phone's and the
// desktop's width, as <name>-phone.png and <name>-desktop.png in the
// test's screenshot folder, and leaves the tab at the desktop's width. It
// returns the files' paths.
func (b *Browser) Screenshots(tb testing.TB, name string) []string {
	tb.Helper()
	var paths []string
	for _, v := range []Viewport{Phone, Desktop} {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		opts := []chromedp.EmulateViewportOption{}
		if v.Mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		err := chromedp.Do(ctx, chromedp.EmulateViewport(v.Width, v.Height, opts...))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		cancel()
		if err != nil {
			tb.Fatalf("browser: screenshot %s at %s width: %v", name, v.Name, err)
		}
		p := filepath.Join(b.shots, fmt.Sprintf("%s-%s.png", fileName(name), v.Name))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	tb.Logf("screenshots of %s: %s", name, strings.Join(paths, ", "))
	return paths
}

// Fonts returns the platform fonts that rendered the text of the first
// element sel matches (CSS), by family name with the glyphs each drew:
// a Korean text drawn only in a font without Hangul shows as boxes.
func (b *Browser) Fonts(tb testing.TB, sel string) map[string]int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	var fonts []*css.PlatformFontUsage
	var err error
	// A live update may replace the node between the query and the
	// question: ask again then.
	for range 5 {
		var nodes []*chromedp.Node
		nodes, err = chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel)))
		if err != nil || len(nodes) == 0 {
			tb.Fatalf("browser: fonts of %s: %v", sel, err)
		}
		id := nodes[0].NodeID
		fonts, err = chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*css.PlatformFontUsage, error) {
			if _, err := cdp.Call(ctx, t, css.Enable, cdp.Empty{}); err != nil {
				return nil, err
			}
			r, err := cdp.Call(ctx, t, css.GetPlatformFontsForNode, css.GetPlatformFontsForNodeParams{NodeID: id})
			return r.Fonts, err
		})
		if err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("browser: fonts of %s: %v", sel, err)
	}
	out := map[string]int{}
	for _, f := range fonts {
		out[f.FamilyName] += int(f.GlyphCount)
	}
	return out
}

// HangulFont reports whether one of fonts (from Fonts) that drew glyphs
// is a Korean or CJK font, so Hangul was drawn as letters, not boxes.
func HangulFont(fonts map[string]int) bool {
	for name, glyphs := range fonts {
		if glyphs > 0 && (strings.Contains(name, "CJK") || strings.Contains(name, "KR") || strings.Contains(name, "Nanum")) {
			return true
		}
	}
	return false
}
