package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/relay"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, "seoul-1")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", fi, err)
	}
	b, err := LoadOrCreate(dir, "seoul-1")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Public().Equal(b.Public()) {
		t.Fatal("the key changed across loads")
	}
	msg := []byte("event")
	if !ed25519.Verify(b.Public(), msg, a.Sign(msg)) {
		t.Fatal("a signature does not verify with the reloaded key")
	}
	if s := fmt.Sprintf("%v %+v %s", a, a, a); strings.Contains(s, string(a.key.Seed())) || !strings.Contains(s, "seoul-1") {
		t.Fatalf("a signer prints as %q", s)
	}
}

func TestLoadOrCreateRefusesAWrongFile(t *testing.T) {
	for name, body := range map[string]string{
		"not a key file": "hello\n",
		"bad seed":       keyHeader + "\nnot-base64!\n",
		"short seed":     keyHeader + "\nAAAA\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreate(dir, "n"); err == nil {
				t.Fatal("loaded a broken key file")
			}
		})
	}
}

func TestParseKeysNamesEveryBadLine(t *testing.T) {
	a, _ := LoadOrCreate(t.TempDir(), "seoul-1")
	in := "# trusted relay nodes\n" + a.Line() + "\n\nbusan-1\nbusan-1 notakey\n" + a.Line() + "\n"
	keys, err := ParseKeys(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 4: want a node name and its key, got 1 fields") ||
		!strings.Contains(err.Error(), `line 5: "notakey" is not an ed25519 public key`) {
		t.Fatalf("ParseKeys error = %v", err)
	}
	if len(keys["seoul-1"]) != 1 {
		t.Fatalf("keys = %v, want seoul-1 once", keys)
	}
}

func TestKeyringRotationAndReload(t *testing.T) {
	old, _ := LoadOrCreate(t.TempDir(), "seoul-1")
	rotated, _ := LoadOrCreate(t.TempDir(), "seoul-1")
	other, _ := LoadOrCreate(t.TempDir(), "busan-1")
	path := filepath.Join(t.TempDir(), "trusted")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Make sure the file looks changed even within one clock tick.
		os.Chtimes(path, time.Now(), time.Now().Add(time.Duration(len(lines))*time.Second))
	}
	write(old.Line(), other.Line())
	k, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("m")
	if !k.Verify("seoul-1", msg, old.Sign(msg)) || k.Verify("seoul-1", msg, rotated.Sign(msg)) {
		t.Fatal("before rotation: only the old key verifies")
	}
	if k.Verify("busan-1", msg, old.Sign(msg)) {
		t.Fatal("seoul-1's signature verified as busan-1's")
	}
	write(old.Line(), rotated.Line(), other.Line())
	if changed, err := k.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want changed", changed, err)
	}
	if !k.Verify("seoul-1", msg, old.Sign(msg)) || !k.Verify("seoul-1", msg, rotated.Sign(msg)) {
		t.Fatal("during rotation both keys verify")
	}
	// A broken file leaves the keys as they were.
	write("seoul-1 broken")
	if _, err := k.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if !k.Verify("seoul-1", msg, rotated.Sign(msg)) || !k.Trusted("busan-1") {
		t.Fatal("a broken file changed the keys")
	}
	if changed, err := k.Reload(); err == nil || changed {
		t.Fatalf("Reload of the same broken file = %v, %v", changed, err)
	}
	if k.Verify("seoul-1", msg, []byte("short")) || k.Verify("nobody", msg, old.Sign(msg)) {
		t.Fatal("verified a short signature or an unknown node")
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add("seoul-1 " + strings.Repeat("A", 43) + "=\n# c\n\n")
	f.Add("a b c\n")
	f.Fuzz(func(t *testing.T, in string) {
		keys, _ := ParseKeys(strings.NewReader(in))
		for name, ks := range keys {
			if strings.ContainsAny(name, " \t\n") || len(ks) == 0 {
				t.Fatalf("parsed name %q with %d keys", name, len(ks))
			}
			for _, k := range ks {
				if len(k) != ed25519.PublicKeySize || bytes.Equal(k, make([]byte, 0)) {
					t.Fatalf("key of %d bytes", len(k))
				}
			}
		}
	})
}

// FuzzVerifyEvent: an event as decoded from a peer's frame, signature and
// all, verifies only when it is exactly what its writer's trusted key
// signed; nothing panics.
func FuzzVerifyEvent(f *testing.F) {
	s, err := LoadOrCreate(f.TempDir(), "seoul")
	if err != nil {
		f.Fatal(err)
	}
	keys := NewKeyring(map[string][]ed25519.PublicKey{"seoul": {s.Public()}})
	good := relay.Event{Origin: "S1", Seq: 1, Clock: 1 << 40, Node: "seoul", Ack: &relay.Ack{Message: "M1", Person: "kim", Channel: "sms"}}
	b, _ := good.SigningBytes()
	good.Sig = s.Sign(b)
	raw, _ := json.Marshal(good)
	f.Add(raw)
	f.Add([]byte(`{"origin":"S1","seq":1,"node":"seoul","sig":"AAAA"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var e relay.Event
		if json.Unmarshal(raw, &e) != nil {
			return
		}
		if keys.VerifyEvent(&e) != nil {
			return
		}
		sb, err := e.SigningBytes()
		if err != nil || e.Node != "seoul" || !ed25519.Verify(s.Public(), sb, e.Sig) {
			t.Fatalf("an event that seoul did not sign verified: %s", raw)
		}
	})
}
