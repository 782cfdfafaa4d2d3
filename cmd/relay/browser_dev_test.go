package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oob-relay/relay/internal/testkit"
	"github.com/oob-relay/relay/internal/testkit/browser"
	"github.com/oob-relay/relay/relay"
)

// TestBrowserDevPlayground: in chromium, the playground of a dev node
// shows what each demo person received in Korean, drawn in a font with
// Hangul; kim's reply typed into their phone reaches the incident through
// the signed SMS webhook and shows in the thread; the page passes
// axe-core with no serious or critical violation and raises no script
// error under its strict CSP; the printed dev login opens the console.
// Screenshots at both widths.
func TestBrowserDevPlayground(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, c := startDev(t, ctx)
	if _, err := c.Post(ctx, &relay.Post{Incident: "fire", Text: "3층 화재, 대피하세요", To: []string{"group:infra"},
		Severity: relay.SeverityWarning, Channels: []string{"sms", "email"}}, ""); err != nil {
		t.Fatal(err)
	}
	// kim and lee get an SMS, park and alex a mail.
	testkit.WaitFor(t, ctx, "the SMS delivered and the mails", func() bool {
		ms := st.Emulator().Messages()
		return len(ms) == 2 && ms[0].Status == "delivered" && ms[1].Status == "delivered" && len(st.Sink().Mails()) == 2
	})

	b := browser.Start(t)
	b.Do(t, "open dev-2's playground", chromedp.Navigate(st.URLs[1]+"/dev/"),
		chromedp.WaitVisible(chromedp.CSS("#kim .thread li.theirs")))
	if got := b.Text(t, "#node-banner"); !strings.Contains(got, "dev-2") {
		t.Errorf("node banner = %q", got)
	}
	if got := b.Text(t, "#kim .thread li.theirs p"); !strings.Contains(got, "3층 화재, 대피하세요") {
		t.Errorf("kim's phone shows %q", got)
	}
	if got := b.Text(t, "#park .mails pre"); !strings.Contains(got, "3층 화재, 대피하세요") {
		t.Errorf("park's mailbox shows %q", got)
	}
	if lang := browser.Eval[string](t, b, `document.documentElement.lang`); lang != "ko" {
		t.Errorf("html lang = %q", lang)
	}
	fonts := b.Fonts(t, "#kim .thread li.theirs p")
	t.Logf("fonts of kim's SMS: %v", fonts)
	if !browser.HangulFont(fonts) {
		t.Errorf("kim's SMS is drawn in %v, none of which has Hangul", fonts)
	}
	b.RequireAccessible(t, "playground")
	// A still page (no reload when something arrives) for the screenshots.
	b.Do(t, "open the still playground", chromedp.Navigate(st.URLs[1]+"/dev/?live=0"),
		chromedp.WaitVisible(chromedp.CSS("#kim .thread li.theirs")))
	b.Screenshots(t, "dev-playground")
	b.Do(t, "open the live playground", chromedp.Navigate(st.URLs[1]+"/dev/"),
		chromedp.WaitVisible(chromedp.CSS("#kim .thread li.theirs")))

	// kim answers from the phone; the page shows it once posted.
	b.Do(t, "type kim's SMS", chromedp.SendKeys(chromedp.CSS("#sms-kim"), "계단으로 대피했습니다"),
		chromedp.Click(chromedp.CSS("#kim form.sms button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#kim .thread li.mine")))
	if got := b.Text(t, "#kim .thread li.mine p"); got != "계단으로 대피했습니다" {
		t.Errorf("kim's own SMS shows as %q", got)
	}
	waitTimeline(t, ctx, c, "fire", "kim", "계단으로 대피했습니다")
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
	b.Do(t, "open the still playground", chromedp.Navigate(st.URLs[1]+"/dev/?live=0"),
		chromedp.WaitVisible(chromedp.CSS("#kim .thread li.mine")))
	b.Screenshots(t, "dev-playground-after-reply")

	// The one-click login relay dev prints opens the console as kim,
	// the demo commander, on another node than the one that signed it.
	link, err := st.LoginURL("dev-1", "kim")
	if err != nil {
		t.Fatal(err)
	}
	link = strings.Replace(link, st.URLs[0], st.URLs[2], 1)
	b.Do(t, "follow the dev login", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)))
	if path := browser.Eval[string](t, b, "location.pathname"); path != "/" {
		t.Errorf("the dev login lands on %s", path)
	}
	if got := b.Text(t, "#node-banner"); !strings.Contains(got, "dev-3") {
		t.Errorf("the console's banner says %q", got)
	}
	b.Do(t, "open the room", chromedp.Navigate(st.URLs[2]+"/incidents/fire"),
		chromedp.WaitVisible(chromedp.CSS("#timeline .entry[data-kind=message]")))
	b.RequireAccessible(t, "dev console room")
	b.Screenshots(t, "dev-console-room")
}
