package relay

import "testing"

func TestRosterIncludes(t *testing.T) {
	r := &Roster{
		People: []Person{{ID: "kim"}, {ID: "lee"}, {ID: "park"}},
		Groups: []Group{{ID: "infra", Members: []string{"kim", "lee"}}},
	}
	for _, tc := range []struct {
		person  string
		targets []string
		want    bool
	}{
		{"kim", []string{"group:infra"}, true},
		{"park", []string{"group:infra"}, false},
		{"park", []string{"group:infra", "person:park"}, true},
		{"park", []string{"everyone"}, true},
		{"nobody", []string{"everyone"}, false},
		{"nobody", []string{"person:nobody"}, false},
		{"kim", []string{"group:gone", "person:lee"}, false},
		{"kim", nil, false},
		{"kim", []string{"kim", "group:"}, false},
	} {
		if got := r.Includes(tc.person, tc.targets); got != tc.want {
			t.Errorf("Includes(%q, %q) = %v, want %v", tc.person, tc.targets, got, tc.want)
		}
	}
}
