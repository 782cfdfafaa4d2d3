package gossip

import (
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// AddKey installs another base64 AES key for decryption, the first step of
// a key rotation. Do it on every node before UseKey on any.
func (m *Membership) AddKey(key string) error {
	return m.withKey("add", key, (*memberlist.Keyring).AddKey)
}

// UseKey makes an installed key the one that encrypts, the second step of
// a rotation. Do it on every node before RemoveKey of the old key on any.
func (m *Membership) UseKey(key string) error {
	return m.withKey("use", key, (*memberlist.Keyring).UseKey)
}

// RemoveKey uninstalls a key, the last step of a rotation. The key in use
// cannot be removed.
func (m *Membership) RemoveKey(key string) error {
	return m.withKey("remove", key, (*memberlist.Keyring).RemoveKey)
}

// withKey decodes key and applies op to the running keyring. Errors never
// contain the key.
func (m *Membership) withKey(verb, key string, op func(*memberlist.Keyring, []byte) error) error {
	b, err := decodeKey(key)
	if err != nil {
		return fmt.Errorf("gossip: %s key: the key %v", verb, err)
	}
	m.mu.Lock()
	ring, running := m.keyring, m.list != nil
	m.mu.Unlock()
	switch {
	case !running:
		return errors.New("gossip: not running")
	case ring == nil:
		return errors.New("gossip: encryption is off on this node; start it with keys to rotate them")
	}
	if err := op(ring, b); err != nil {
		return fmt.Errorf("gossip: %s key: %w", verb, err)
	}
	m.logger.Info("gossip key changed", "op", verb, "keys", len(ring.GetKeys()))
	return nil
}
