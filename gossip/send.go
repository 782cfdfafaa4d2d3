package gossip

import (
	"errors"
	"fmt"
	"net"

	"github.com/hashicorp/memberlist"
)

// SendReliable sends payload to the named member over TCP and returns once
// it is written, within tcp_timeout. The member receives it in OnMessage.
// It fails when the member is unknown, not alive, or this node itself.
func (m *Membership) SendReliable(to string, payload []byte) error {
	return m.send(to, payload, modeReliable)
}

// SendBestEffort sends payload to the named member in one UDP packet,
// which may be lost; it must fit the packet with room to spare (about
// 1,200 bytes on the usual 1,400-byte packet). The member receives it in
// OnDatagram, or OnMessage when that is not set.
func (m *Membership) SendBestEffort(to string, payload []byte) error {
	return m.send(to, payload, modeBestEffort)
}

func (m *Membership) send(to string, payload []byte, mode string) error {
	m.mu.Lock()
	list := m.list
	mem, known := m.members[to]
	stopped := m.stopped
	m.mu.Unlock()
	switch {
	case list == nil || stopped:
		return errors.New("gossip: not running")
	case !known:
		return fmt.Errorf("gossip: %q is not a known member", to)
	case mem.Self:
		return fmt.Errorf("gossip: %q is this node", to)
	case mem.State != StateAlive:
		return fmt.Errorf("gossip: member %q is %s", to, mem.State)
	}
	host, port, err := splitHostPort(mem.Addr)
	if err != nil {
		return fmt.Errorf("gossip: member %q: %w", to, err)
	}
	node := &memberlist.Node{Name: to, Addr: net.ParseIP(host), Port: uint16(port)}
	if mode == modeReliable {
		err = list.SendReliable(node, frame(kindMessage, m.name, payload))
	} else {
		err = list.SendBestEffort(node, frame(kindDatagram, m.name, payload))
	}
	if err != nil {
		m.metrics.sendErrors.WithLabelValues(mode).Inc()
		return fmt.Errorf("gossip: send to %q: %w", to, err)
	}
	m.metrics.sent.WithLabelValues(mode).Inc()
	return nil
}
