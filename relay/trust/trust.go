// Package trust is who a node is and whom it believes.
//
// Each node holds a signing key of its own (ed25519), made on its first
// start and kept in its data dir (Signer). Every node lists the public
// keys of the nodes it trusts, by node name (Keyring), in a file that can
// be changed while the node runs: a node rotating its key is listed with
// both keys until every node has the new one.
//
// What each secret protects: the gossip key (memberlist's keyring) keeps
// strangers out of membership, but every member holds the same one, so it
// cannot tell members apart. A node key proves which node wrote an event
// or sent a cluster message: with the gossip key alone a process can join
// the membership but adds nothing, and is given no delivery to make. A
// stolen node key writes only as that node: events under its name and
// its own origins, which every node verifies.
package trust

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oob-relay/relay/relay"
)

// KeyFile is the name of a node's key file in its data dir.
const KeyFile = "node.key"

// keyHeader starts a key file, so that a wrong file is refused by name.
const keyHeader = "relay node key v1"

// Signer signs as one node. It is safe for concurrent use.
type Signer struct {
	name string
	key  ed25519.PrivateKey
}

// NewSigner returns a signer for node name with key.
func NewSigner(name string, key ed25519.PrivateKey) *Signer {
	return &Signer{name: name, key: key}
}

// LoadOrCreate reads the key in dir/KeyFile, or makes one and writes it
// there (mode 0600) when the node has none yet.
func LoadOrCreate(dir, name string) (*Signer, error) {
	path := filepath.Join(dir, KeyFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("trust: make the node key: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("trust: %w", err)
		}
		body := keyHeader + "\n" + base64.StdEncoding.EncodeToString(key.Seed()) + "\n"
		if err := writeFileSync(path, []byte(body), 0o600); err != nil {
			return nil, fmt.Errorf("trust: write the node key: %w", err)
		}
		return NewSigner(name, key), nil
	case err != nil:
		return nil, fmt.Errorf("trust: read the node key: %w", err)
	}
	header, seed, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if strings.TrimSpace(header) != keyHeader {
		return nil, fmt.Errorf("trust: %s is not a relay node key", path)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(seed))
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, fmt.Errorf("trust: %s holds no valid key", path)
	}
	return NewSigner(name, ed25519.NewKeyFromSeed(b)), nil
}

func writeFileSync(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Name returns the node's name.
func (s *Signer) Name() string { return s.name }

// Public returns the node's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Line returns the node's line for a trusted keys file: its name and
// its public key.
func (s *Signer) Line() string { return s.name + " " + EncodeKey(s.Public()) }

// Sign signs msg.
func (s *Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.key, msg) }

// String never shows the key.
func (s *Signer) String() string { return "node key of " + s.name }

// EncodeKey writes a public key as text.
func EncodeKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// DecodeKey reads a public key written by EncodeKey.
func DecodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%q is not an ed25519 public key in base64 (44 characters)", s)
	}
	return ed25519.PublicKey(b), nil
}

// Keyring holds the public keys of the trusted nodes, by node name, and
// verifies what they signed. It is safe for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	keys map[string][]ed25519.PublicKey
	path string    // the file it was read from, or ""
	mod  time.Time // the file's modification time when read
	size int64
}

// NewKeyring returns a keyring of the given keys.
func NewKeyring(keys map[string][]ed25519.PublicKey) *Keyring {
	k := &Keyring{keys: map[string][]ed25519.PublicKey{}}
	for name, ks := range keys {
		k.keys[name] = slices.Clone(ks)
	}
	return k
}

// ParseKeys reads a trusted keys file: a line per key, the node's name
// and its public key (Signer.Line), blank lines and lines starting with
// # ignored. A node may be listed twice, with its old and new keys, while
// its key is rotated. Every bad line is reported with its number.
func ParseKeys(r io.Reader) (map[string][]ed25519.PublicKey, error) {
	out := map[string][]ed25519.PublicKey{}
	var errs []error
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			errs = append(errs, fmt.Errorf("line %d: want a node name and its key, got %d fields", n, len(fields)))
			continue
		}
		key, err := DecodeKey(fields[1])
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", n, err))
			continue
		}
		if !slices.ContainsFunc(out[fields[0]], func(k ed25519.PublicKey) bool { return k.Equal(key) }) {
			out[fields[0]] = append(out[fields[0]], key)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// LoadKeyring reads the trusted keys file at path.
func LoadKeyring(path string) (*Keyring, error) {
	k := &Keyring{path: path}
	if _, err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the file again if it changed since it was last read, and
// reports whether the keys changed. A file that cannot be read or parsed
// leaves the keys as they were, and the error says why.
func (k *Keyring) Reload() (bool, error) {
	if k.path == "" {
		return false, nil
	}
	fi, err := os.Stat(k.path)
	if err != nil {
		return false, fmt.Errorf("trusted keys: %w", err)
	}
	k.mu.RLock()
	same := k.keys != nil && fi.ModTime().Equal(k.mod) && fi.Size() == k.size
	k.mu.RUnlock()
	if same {
		return false, nil
	}
	raw, err := os.ReadFile(k.path)
	if err != nil {
		return false, fmt.Errorf("trusted keys: %w", err)
	}
	keys, err := ParseKeys(bytes.NewReader(raw))
	if err != nil {
		return false, fmt.Errorf("trusted keys %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	changed := !sameKeys(k.keys, keys)
	k.keys, k.mod, k.size = keys, fi.ModTime(), fi.Size()
	return changed, nil
}

func sameKeys(a, b map[string][]ed25519.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for name, ka := range a {
		kb := b[name]
		if len(ka) != len(kb) {
			return false
		}
		for i := range ka {
			if !ka[i].Equal(kb[i]) {
				return false
			}
		}
	}
	return true
}

// Trusted reports whether node name has a key in the keyring.
func (k *Keyring) Trusted(name string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys[name]) > 0
}

// Names returns the trusted nodes' names.
func (k *Keyring) Names() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]string, 0, len(k.keys))
	for name := range k.keys {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Verify reports whether sig is node name's signature of msg, by any of
// its trusted keys.
func (k *Keyring) Verify(name string, msg, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	k.mu.RLock()
	keys := k.keys[name]
	k.mu.RUnlock()
	for _, key := range keys {
		if ed25519.Verify(key, msg, sig) {
			return true
		}
	}
	return false
}

// VerifyEvent checks that e carries its writer's signature (Event.Sig,
// over Event.SigningBytes) by one of the writer's trusted keys: the check
// a store makes of every event merged from elsewhere.
func (k *Keyring) VerifyEvent(e *relay.Event) error {
	if len(e.Sig) == 0 {
		return fmt.Errorf("event %s/%d of node %q is not signed", e.Origin, e.Seq, e.Node)
	}
	if !k.Trusted(e.Node) {
		return fmt.Errorf("event %s/%d is of node %q, which is not trusted", e.Origin, e.Seq, e.Node)
	}
	b, err := e.SigningBytes()
	if err != nil {
		return err
	}
	if !k.Verify(e.Node, b, e.Sig) {
		return fmt.Errorf("event %s/%d does not carry a signature of node %q", e.Origin, e.Seq, e.Node)
	}
	return nil
}
