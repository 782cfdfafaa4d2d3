package relay

import (
	"bytes"
	"testing"
)

// FuzzDecodeRoster feeds arbitrary documents to the roster decoder: it
// must never panic, and whatever it accepts must be a valid roster whose
// every group member is a person and which resolves "everyone".
func FuzzDecodeRoster(f *testing.F) {
	f.Add([]byte("people:\n  - id: kim\n    name: 김민지\n    phone: \"+821012345678\"\n    channels: [sms]\ngroups:\n  - id: oncall\n    members: [kim]\n"))
	f.Add([]byte(`{"people":[{"id":"a","email":"a@example.com"}]}`))
	f.Add([]byte("people: [{id: x, phone: 010}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := DecodeRoster(bytes.NewReader(doc))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted roster does not validate: %v", err)
		}
		for _, g := range r.Groups {
			for _, m := range g.Members {
				if _, ok := r.Person(m); !ok {
					t.Fatalf("group %s has unknown member %s", g.ID, m)
				}
			}
		}
		people, err := r.Resolve([]string{TargetEveryone})
		if err != nil || len(people) != len(r.People) {
			t.Fatalf("everyone resolves to %d of %d people (%v)", len(people), len(r.People), err)
		}
	})
}
