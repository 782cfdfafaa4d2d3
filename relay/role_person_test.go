package relay

import (
	"strings"
	"testing"
)

func TestPersonRoles(t *testing.T) {
	r, err := DecodeRoster(strings.NewReader(`people:
  - {id: kim, phone: "+821012345678", roles: [commander]}
  - {id: lee, phone: "+821098765432", roles: [admin, commander]}
  - {id: park, email: park@example.com}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve([]string{"role:commander"})
	if err != nil || len(got) != 2 || got[0].ID != "kim" || got[1].ID != "lee" {
		t.Errorf("role:commander = %v, %v; want kim and lee", got, err)
	}
	if got, err := r.Resolve([]string{"role:responder"}); err != nil || len(got) != 3 {
		t.Errorf("role:responder = %v, %v; want everyone", got, err)
	}
	if !r.Includes("lee", []string{"role:admin"}) || r.Includes("kim", []string{"role:admin"}) || !r.Includes("park", []string{"role:responder"}) {
		t.Error("Includes does not follow roles")
	}
	if _, err := r.Resolve([]string{"person:kim", "role:boss"}); err == nil || err.Error() != `to[1]: "role:boss" names no role (responder, commander, admin)` {
		t.Errorf("role:boss resolved: %v", err)
	}
	if msg := CheckTarget("role:boss"); msg == "" {
		t.Error("CheckTarget accepts role:boss")
	}
	if msg := CheckTarget("role:commander"); msg != "" {
		t.Errorf("CheckTarget(role:commander) = %q", msg)
	}
	p := Post{Incident: "a", Text: "t", To: []string{"role:commander"}}
	if err := p.Validate(); err != nil {
		t.Errorf("a post to role:commander: %v", err)
	}

	_, err = DecodeRoster(strings.NewReader(`people:
  - {id: kim, phone: "+821012345678", roles: [commander, boss, commander]}
`))
	for _, want := range []string{`people[0] (kim).roles[1]: unknown role "boss" (known: responder, commander, admin)`,
		`people[0] (kim).roles[2]: role "commander" is listed twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("roster error %v, want %q", err, want)
		}
	}
}
