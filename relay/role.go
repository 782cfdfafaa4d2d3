package relay

// Role is what an API token may do.
type Role string

// Roles, from most to least powerful. An admin manages the roster and
// speaks as incident commander; a bot posts messages; a viewer reads.
const (
	RoleAdmin  Role = "admin"
	RoleBot    Role = "bot"
	RoleViewer Role = "viewer"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleBot, RoleViewer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleBot || r == RoleViewer }

// Allows reports whether a token with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleBot:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}
