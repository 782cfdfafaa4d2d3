package config

import "time"

// Console configures the node's side of the web console: how long login
// sessions and personal links last, whether deliveries carry links, and
// how long the audit trail is kept.
type Console struct {
	// SessionTTL is how long a login session lasts. Default
	// DefaultSessionTTL.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LinkTTL is how long the personal link an SMS or mail carries opens
	// its incident room. Default DefaultLinkTTL.
	LinkTTL time.Duration `yaml:"link_ttl"`
	// Links puts each person's link to the incident room in their SMS and
	// mail, when the node has a public URL. Default true.
	Links *bool `yaml:"links"`
	// AuditDays is how many days an entry of the audit trail is kept; 0
	// keeps everything. Default DefaultAuditDays.
	AuditDays *int `yaml:"audit_days"`
}

// Console defaults.
const (
	// DefaultSessionTTL covers a long shift without a new code.
	DefaultSessionTTL = 12 * time.Hour
	// DefaultLinkTTL lets a link sent at night still open the room the
	// next morning.
	DefaultLinkTTL = 24 * time.Hour
	// DefaultAuditDays keeps a year of actions and the month after, for
	// a yearly review.
	DefaultAuditDays = 400
)

// LinksOn reports whether deliveries carry personal links.
func (c Console) LinksOn() bool { return c.Links == nil || *c.Links }

// AuditKeep returns how long an audit entry is kept; zero keeps
// everything.
func (c Console) AuditKeep() time.Duration {
	if c.AuditDays == nil {
		return DefaultAuditDays * 24 * time.Hour
	}
	return time.Duration(*c.AuditDays) * 24 * time.Hour
}

func (c *Console) setDefaults() {
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.LinkTTL == 0 {
		c.LinkTTL = DefaultLinkTTL
	}
	if c.Links == nil {
		on := true
		c.Links = &on
	}
	if c.AuditDays == nil {
		n := DefaultAuditDays
		c.AuditDays = &n
	}
}

func (c *Console) validate(bad func(key, format string, args ...any)) {
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("console.session_ttl", "%s must be from 1m to 720h, such as 12h", c.SessionTTL)
	}
	if c.LinkTTL < time.Minute || c.LinkTTL > 30*24*time.Hour {
		bad("console.link_ttl", "%s must be from 1m to 720h, such as 24h", c.LinkTTL)
	}
	if c.AuditDays != nil && (*c.AuditDays < 0 || *c.AuditDays > 36500) {
		bad("console.audit_days", "%d must be from 0 (keep everything) to 36500", *c.AuditDays)
	}
}
