package cluster

// Transport is the membership a cluster runs over: gossip.Membership.
type Transport interface {
	// LocalNode returns this node's name.
	LocalNode() string
	// Alive returns the names of the members alive now, this node
	// included, sorted.
	Alive() []string
	// SendReliable sends payload to the named member over an encrypted,
	// authenticated stream.
	SendReliable(to string, payload []byte) error
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
