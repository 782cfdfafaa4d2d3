package email

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/oob-relay/relay/relay"
	"github.com/oob-relay/relay/relay/secret"
)

const (
	replySecretA = "reply-key-A-0123456789abcdefghijklmnopqrstuvwxyz"
	replySecretB = "reply-key-B-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
)

func replyKey(t testing.TB, keys ...string) ReplyKey {
	t.Helper()
	var ss []secret.String
	for _, k := range keys {
		ss = append(ss, secret.New(k))
	}
	k, err := NewReplyKey(ss...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ids returns an id of n characters drawn from every character an id may
// hold.
func ids(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(alphabet[i%len(alphabet)])
	}
	s := []byte(b.String())
	s[0], s[n-1] = 'k', '9' // ids neither start nor end with '-'
	return string(s)
}

func TestReplyAddressRoundTrip(t *testing.T) {
	k := replyKey(t, replySecretA)
	for _, tc := range []struct {
		person, incident string
		form             string
	}{
		{"kim", "db-outage", "full"},
		{"k", "i", "full"},
		{ids(18), ids(18), "full"},
		{ids(1), ids(35), "full"},
		{ids(35), ids(1), "full"},
		{ids(18), ids(19), "compact"},
		{ids(64), ids(37), "compact"},
		{ids(2), ids(38), "plain"},
		{ids(64), ids(64), "plain"},
	} {
		name := fmt.Sprintf("%d+%d", len(tc.person), len(tc.incident))
		t.Run(name, func(t *testing.T) {
			if !relay.ValidID(tc.person) || !relay.ValidID(tc.incident) {
				t.Fatalf("test ids are not valid: %q %q", tc.person, tc.incident)
			}
			addr := k.Address(tc.person, tc.incident, "Reply.Example.COM")
			local, domain, _ := strings.Cut(addr, "@")
			if domain != "reply.example.com" {
				t.Errorf("domain %q, want reply.example.com", domain)
			}
			if len(local) > 64 {
				t.Errorf("local part %q is %d characters, more than RFC 5321's 64", local, len(local))
			}
			for _, c := range local {
				if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789+-", c) {
					t.Fatalf("local part %q has %q, which is not plain lowercase atext", local, c)
				}
			}
			switch tc.form {
			case "plain":
				if addr != tc.incident+"@reply.example.com" {
					t.Fatalf("Address = %q, want the plain incident address", addr)
				}
				if IsReplyAddress(addr) {
					t.Error("a plain incident address passes for a reply address")
				}
				return
			case "full":
				p, i, err := k.Parse(strings.ToUpper(addr))
				if err != nil || p != tc.person || i != tc.incident {
					t.Fatalf("Parse(%q) = %q, %q, %v", addr, p, i, err)
				}
			case "compact":
				if _, _, err := k.Parse(addr); !errors.Is(err, ErrCompactReply) {
					t.Fatalf("Parse of a compact address: %v, want ErrCompactReply", err)
				}
			}
			if !strings.HasPrefix(addr, ReplyPrefix) || !IsReplyAddress(addr) {
				t.Fatalf("Address = %q, want a reply address", addr)
			}
			i, err := k.ParseFor(addr, tc.person)
			if err != nil || i != tc.incident {
				t.Fatalf("ParseFor(%q) = %q, %v", addr, i, err)
			}
			if _, err := k.ParseFor(addr, "someone-else"); !errors.Is(err, ErrReplyAddress) {
				t.Errorf("ParseFor with another person: %v, want ErrReplyAddress", err)
			}
		})
	}
}

func TestReplyAddressForgeries(t *testing.T) {
	k := replyKey(t, replySecretA)
	addr := k.Address("kim", "db-outage", "example.com")
	local, _, _ := strings.Cut(addr, "@")
	tok := local[len(ReplyPrefix):]

	// Every single-character change of the token fails.
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	for i := range tok {
		for _, c := range alphabet {
			if byte(c) == tok[i] {
				continue
			}
			forged := ReplyPrefix + tok[:i] + string(c) + tok[i+1:] + "@example.com"
			if p, inc, err := k.Parse(forged); err == nil {
				t.Fatalf("forged %q verifies as %q, %q", forged, p, inc)
			}
			if inc, err := k.ParseFor(forged, "kim"); err == nil {
				t.Fatalf("forged %q verifies for kim as %q", forged, inc)
			}
		}
	}
	for _, bad := range []string{
		"",
		"@example.com",
		"kim@example.com",
		"r+@example.com",
		"r+" + tok[:len(tok)-1] + "@example.com",
		"r+" + tok + "a@example.com",
		"r+" + tok + "=@example.com",
		"r+" + strings.Repeat("a", 61) + "@example.com",
		"r+" + strings.Repeat("7", 300) + "@example.com",
		"x+" + tok + "@example.com",
	} {
		if _, _, err := k.Parse(bad); !errors.Is(err, ErrReplyAddress) {
			t.Errorf("Parse(%q) = %v, want ErrReplyAddress", bad, err)
		}
	}
	// Another key does not verify it.
	other := replyKey(t, replySecretB)
	if _, _, err := other.Parse(addr); !errors.Is(err, ErrReplyAddress) {
		t.Errorf("a different key verifies the address: %v", err)
	}
	// The zero key makes and accepts nothing.
	var zero ReplyKey
	if a := zero.Address("kim", "db-outage", "example.com"); a != "" {
		t.Errorf("zero key made %q", a)
	}
	if _, _, err := zero.Parse(addr); !errors.Is(err, ErrReplyAddress) {
		t.Errorf("zero key: %v, want ErrReplyAddress", err)
	}
}

func TestReplyAddressRefusesBadInput(t *testing.T) {
	k := replyKey(t, replySecretA)
	for _, tc := range [][3]string{
		{"Kim", "db-outage", "example.com"},
		{"kim", "db_outage", "example.com"},
		{"", "db-outage", "example.com"},
		{"kim", "", "example.com"},
		{"kim", "db-outage", ""},
		{"kim", "db-outage", "exa mple.com"},
		{"kim", ids(65), "example.com"},
	} {
		if a := k.Address(tc[0], tc[1], tc[2]); a != "" {
			t.Errorf("Address(%q, %q, %q) = %q, want \"\"", tc[0], tc[1], tc[2], a)
		}
	}
}

func TestReplyKeyRotation(t *testing.T) {
	oldKey := replyKey(t, replySecretA)
	rotated := replyKey(t, replySecretB, replySecretA)
	newOnly := replyKey(t, replySecretB)

	oldAddr := oldKey.Address("kim", "db-outage", "example.com")
	if p, i, err := rotated.Parse(oldAddr); err != nil || p != "kim" || i != "db-outage" {
		t.Fatalf("an address signed with the old key does not verify after rotation: %q %q %v", p, i, err)
	}
	newAddr := rotated.Address("kim", "db-outage", "example.com")
	if newAddr == oldAddr {
		t.Fatal("the rotated key still signs with the old key")
	}
	if _, _, err := newOnly.Parse(newAddr); err != nil {
		t.Fatalf("the first key did not sign: %v", err)
	}
	if _, _, err := newOnly.Parse(oldAddr); !errors.Is(err, ErrReplyAddress) {
		t.Errorf("a dropped key still verifies: %v", err)
	}
	// Two nodes with the same keys agree.
	if again := replyKey(t, replySecretB, replySecretA).Address("kim", "db-outage", "example.com"); again != newAddr {
		t.Errorf("the same keys made %q and %q", newAddr, again)
	}
}

func TestReplyKeyNeverShows(t *testing.T) {
	_, err := NewReplyKey(secret.New(replySecretA), secret.New("short-key-visible"))
	if err == nil || !strings.Contains(err.Error(), "reply key 2 is 17 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := NewReplyKey(); err == nil {
		t.Error("no keys accepted")
	}
	k := replyKey(t, replySecretA, replySecretB)
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "key", k, "holder", struct{ Key ReplyKey }{k})
	js, jerr := json.Marshal(struct{ Key ReplyKey }{k})
	outputs := []string{
		err.Error(), fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k),
		fmt.Sprintf("%+v", struct{ Key ReplyKey }{k}), fmt.Sprintf("%#v", &struct{ Key ReplyKey }{k}),
		logs.String(), string(js), fmt.Sprint(jerr),
	}
	if !strings.Contains(logs.String(), secret.Masked) {
		t.Errorf("the key is not masked in logs: %s", logs.String())
	}
	for _, out := range outputs {
		for _, leak := range []string{replySecretA, replySecretB, "short-key-visible", "reply-key"} {
			if strings.Contains(out, leak) {
				t.Errorf("output shows a key (%q): %s", leak, out)
			}
		}
	}
}

func TestReplyToRendered(t *testing.T) {
	k := replyKey(t, replySecretA)
	out := fixture("ko")
	replyTo := k.ReplyTo("relay.example.com")
	raw, err := Render(out, RenderParams{From: mustFrom(t), ReplyTo: replyTo(out)})
	if err != nil {
		t.Fatal(err)
	}
	want := "\r\nReply-To: <" + k.Address(out.Person.ID, out.Message.Incident, "relay.example.com") + ">\r\n"
	if !strings.Contains(string(raw), want) {
		t.Fatalf("rendered mail has no %q:\n%s", want, raw)
	}
	for _, o := range []*relay.Outgoing{nil, {Message: out.Message}, {Person: out.Person}} {
		if a := replyTo(o); a != nil {
			t.Errorf("ReplyTo(%+v) = %v, want nil", o, a)
		}
	}
	if a := (ReplyKey{}).ReplyTo("relay.example.com")(out); a != nil {
		t.Errorf("the zero key gave %v", a)
	}
}

func FuzzReplyParse(f *testing.F) {
	k := replyKey(f, replySecretA)
	f.Add(k.Address("kim", "db-outage", "example.com"))
	f.Add(k.Address(ids(20), ids(30), "example.com"))
	f.Add("r+aaaa@example.com")
	f.Fuzz(func(t *testing.T, addr string) {
		p, i, err := k.Parse(addr)
		if err != nil {
			return
		}
		// Whatever verifies must be exactly what Address makes.
		local, _, _ := strings.Cut(addr, "@")
		want, _, _ := strings.Cut(k.Address(p, i, "example.com"), "@")
		if !strings.EqualFold(local, want) {
			t.Fatalf("%q verifies as %q, %q, whose address is %q", addr, p, i, want)
		}
	})
}
