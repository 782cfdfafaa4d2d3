package relay

import "testing"

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		want       bool
	}{
		{RoleAdmin, RoleAdmin, true}, {RoleAdmin, RoleBot, true}, {RoleAdmin, RoleViewer, true},
		{RoleBot, RoleAdmin, false}, {RoleBot, RoleBot, true}, {RoleBot, RoleViewer, true},
		{RoleViewer, RoleAdmin, false}, {RoleViewer, RoleBot, false}, {RoleViewer, RoleViewer, true},
		{"root", RoleViewer, false}, {RoleAdmin, "", false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
}
