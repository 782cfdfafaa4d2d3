package config

import "time"

// Store bounds what a node keeps on disk.
type Store struct {
	// RetentionDays is how many days a settled incident (none of its
	// deliveries still open) is kept after its last message; then it is
	// removed with its messages, deliveries and acknowledgements, on
	// every node. 0 keeps everything. Default DefaultRetentionDays.
	RetentionDays *int `yaml:"retention_days"`
	// LogKeep is how long an event stays in the log after every live peer
	// holds it: a peer back within that time catches up from the log,
	// later from a snapshot. Default DefaultLogKeep.
	LogKeep time.Duration `yaml:"log_keep"`
	// UpkeepInterval is how often the node removes what retention says,
	// packs settled messages, truncates the log and, when much of the
	// file is free, rewrites it smaller. Default DefaultUpkeepInterval.
	UpkeepInterval time.Duration `yaml:"upkeep_interval"`
}

// Store defaults.
const (
	// DefaultRetentionDays keeps a quarter of a year of incidents, long
	// enough for the post-mortems and the drills that follow.
	DefaultRetentionDays = 90
	// DefaultLogKeep lets a node that was down for a day catch up from
	// the log alone.
	DefaultLogKeep = 24 * time.Hour
	// DefaultUpkeepInterval runs the upkeep hourly: it is cheap, and a day
	// of events is never kept much longer than log_keep.
	DefaultUpkeepInterval = time.Hour
)

// Retention returns how long a settled incident is kept; zero keeps
// everything.
func (s Store) Retention() time.Duration {
	if s.RetentionDays == nil {
		return 0
	}
	return time.Duration(*s.RetentionDays) * 24 * time.Hour
}

func (s *Store) setDefaults() {
	if s.RetentionDays == nil {
		n := DefaultRetentionDays
		s.RetentionDays = &n
	}
	if s.LogKeep == 0 {
		s.LogKeep = DefaultLogKeep
	}
	if s.UpkeepInterval == 0 {
		s.UpkeepInterval = DefaultUpkeepInterval
	}
}

func (s *Store) validate(bad func(key, format string, args ...any)) {
	if s.RetentionDays != nil && (*s.RetentionDays < 0 || *s.RetentionDays > 36500) {
		bad("store.retention_days", "%d must be from 0 (keep everything) to 36500", *s.RetentionDays)
	}
	if s.LogKeep < time.Minute {
		bad("store.log_keep", "%s must be at least 1m, such as 24h", s.LogKeep)
	}
	if s.UpkeepInterval < time.Second {
		bad("store.upkeep_interval", "%s must be at least 1s, such as 1h", s.UpkeepInterval)
	}
}
