package cluster

// Transport is the membership a cluster runs over: gossip.Membership.
//
// Its methods are safe for concurrent use and never call back into the
// Replicator while they run. SendReliable may block for as long as the
// network takes (bounded by the transport's own timeout, such as
// memberlist's TCP timeout), so the Replicator calls it only from
// goroutines of its own, one per peer, never from a Transport callback.
type Transport interface {
	// LocalNode returns this node's name.
	LocalNode() string
	// Alive returns the names of the members alive now, this node
	// included, sorted.
	Alive() []string
	// SendReliable sends payload to the named member over an encrypted,
	// authenticated stream. It returns once the payload is written, not
	// once the member has handled it; a nil error does not mean the
	// member took it (it may drop it when overloaded). The payload is not
	// kept after it returns.
	SendReliable(to string, payload []byte) error
	// SendBestEffort sends payload to the named member in one datagram,
	// which may be lost, duplicated or reordered, and must fit one packet
	// (see maxDatagram). It does not block on the network.
	SendBestEffort(to string, payload []byte) error
}

// Membership is a Transport that can also list every member it knows.
type Membership interface {
	Transport
	// Members returns every member known, in any state, sorted by name.
	Members() []Member
}

// Member is one cluster member as this node sees it.
type Member struct {
	Name string
	// Addr is its gossip address, host:port.
	Addr string
	// State is alive, dead or left.
	State string
	// API is the base URL of its HTTP API, from its metadata.
	API  string
	Self bool
}
