package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Presets for Config.Preset.
const (
	// PresetLAN is for nodes on one network with round trips of a few
	// milliseconds: a node that stops answering is declared dead in about
	// a second.
	PresetLAN = "lan"
	// PresetWAN is for nodes in different regions: a dead node is
	// declared dead in about 5 s, and round trips of a few hundred
	// milliseconds with lost packets raise no false alarm.
	PresetWAN = "wan"
)

// preset holds the failure detector's timers.
type preset struct {
	probeInterval    time.Duration
	probeTimeout     time.Duration
	suspicionMult    int
	suspicionMaxMult int
	gossipInterval   time.Duration
	pushPullInterval time.Duration
	tcpTimeout       time.Duration
	deadReclaim      time.Duration
}

var presets = map[string]preset{
	PresetLAN: lanPreset(),
	PresetWAN: wanPreset(),
}

// lanPreset makes failover take about a second. memberlist declares a node
// dead after it has been probed (once per probe interval, in turn),
// failed the probe (the probe timeout, then indirect and TCP probes until
// the interval ends) and stayed suspect for SuspicionMult × probe interval
// (for fewer than ten nodes) when enough peers confirm the suspicion, or up
// to SuspicionMaxTimeoutMult times that when they do not.
func lanPreset() preset {
	return preset{
		// Probe someone five times a second: with three nodes, each is
		// probed at least every 400 ms.
		probeInterval: 200 * time.Millisecond,
		// A LAN round trip is well under a millisecond; 100 ms leaves room
		// for a busy node or a garbage collection pause.
		probeTimeout: 100 * time.Millisecond,
		// Suspect for 3 × 200 ms = 600 ms when one other peer confirms,
		// long enough for a suspected node to hear of it and refute.
		suspicionMult: 3,
		// Without confirmation, 2 × 600 ms = 1.2 s at most. On loopback
		// (BenchmarkDeadDetection) a stopped node is declared dead by every
		// survivor in about 1 s, 1.2 s at most, with 2 to 5 members.
		suspicionMaxMult: 2,
		// Spread suspicions and verdicts quickly; a few nodes make this
		// cheap.
		gossipInterval: 100 * time.Millisecond,
		// Anti-entropy of the event log rides on push/pull, and so does
		// the repair of views that disagree after a partition heals (one
		// side still counting a member of the other dead, which probes
		// alone never correct). Marks are small, so every 3 s costs little
		// and bounds both.
		pushPullInterval: 3 * time.Second,
		// A push/pull or a reliable message on a LAN takes milliseconds;
		// a silent peer holds a send no longer than this.
		tcpTimeout: 3 * time.Second,
		// A node restarted under a new address takes its name back once it
		// has been dead this long.
		deadReclaim: 5 * time.Second,
	}
}

// wanPreset is for nodes in different regions, with round trips up to a
// few hundred milliseconds and some packet loss: failover in seconds, not
// the half minute memberlist's own WAN timers take (their suspicion alone
// lasts 30 s: BenchmarkWANDetection measured 44 s from a node's death to
// its verdict with them).
func wanPreset() preset {
	return preset{
		// Probe a peer every 1.5 s: with three nodes each is probed at
		// least every 3 s.
		probeInterval: 1500 * time.Millisecond,
		// 700 ms is more than twice a 250 ms round trip (Seoul to
		// Frankfurt) with a busy node; the 800 ms left of the interval go
		// to the indirect and TCP probes.
		probeTimeout: 700 * time.Millisecond,
		// Suspect for 2 × 1.5 s = 3 s when another peer confirms, up to
		// 2 × 3 s = 6 s when none does: time enough for a suspected node
		// to hear of it and refute across a lossy link.
		suspicionMult:    2,
		suspicionMaxMult: 2,
		// Spread news in a few round trips.
		gossipInterval: 200 * time.Millisecond,
		// Anti-entropy of the event log, and the repair of views after a
		// partition heals, every 10 s.
		pushPullInterval: 10 * time.Second,
		// A push/pull or a reliable message across regions: seconds at
		// worst.
		tcpTimeout: 10 * time.Second,
		// A node restarted under a new address takes its name back once it
		// has been dead this long.
		deadReclaim: 30 * time.Second,
	}
}

// memberlistConfig turns a validated Config into memberlist's, without
// delegates, keyring or logger.
func (c *Config) memberlistConfig(name string) (*memberlist.Config, error) {
	p := presets[c.Preset]
	mc := memberlist.DefaultLANConfig()
	if c.Preset == PresetWAN {
		mc = memberlist.DefaultWANConfig()
	}
	mc.Name = name
	host, port, err := splitHostPort(c.Bind)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if c.Advertise != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = splitHostPort(c.Advertise); err != nil {
			return nil, err
		}
	}
	mc.Label = c.Label
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = p.suspicionMaxMult
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.TCPTimeout
	mc.DeadNodeReclaimTime = p.deadReclaim
	return mc, nil
}
