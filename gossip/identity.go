package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Signed metadata: the byte, the node's 64-byte signature of its name
// and metadata, then the metadata.
const (
	signedMeta         = 0x01
	metaSigSize        = 64
	signedMetaOverhead = 1 + metaSigSize
)

// metaContext separates what a node signs for its membership from what
// it signs elsewhere with the same key.
const metaContext = "relay member v1\n"

func metaSigning(name string, meta []byte) []byte {
	b := make([]byte, 0, len(metaContext)+len(name)+1+len(meta))
	b = append(b, metaContext...)
	b = append(b, name...)
	b = append(b, '\n')
	return append(b, meta...)
}

type signer interface{ Sign(msg []byte) []byte }

func signMeta(s signer, name string, meta []byte) []byte {
	out := make([]byte, 0, signedMetaOverhead+len(meta))
	out = append(out, signedMeta)
	out = append(out, s.Sign(metaSigning(name, meta))...)
	return append(out, meta...)
}

// splitMeta returns a member's metadata without its signature, and the
// signature (nil when it carries none).
func splitMeta(b []byte) (meta, sig []byte) {
	if len(b) >= signedMetaOverhead && b[0] == signedMeta {
		return b[signedMetaOverhead:], b[1:signedMetaOverhead]
	}
	return b, nil
}

// NotifyAlive admits a member to the membership only when its name has a
// trusted key and its metadata carries that key's signature. It runs on
// memberlist's goroutines while memberlist holds its lock, and returns
// at once.
func (d delegate) NotifyAlive(n *memberlist.Node) error {
	if n.Name == d.m.name {
		return nil
	}
	err := d.m.admit(n.Name, n.Meta)
	if err != nil {
		d.m.metrics.refusedMembers.Inc()
		if held, ok := d.m.refusals.Allow(time.Now()); ok {
			d.m.logger.Warn("a member without a trusted node key was kept out", "member", n.Name, "addr", n.Address(), "err", err, "not_logged_before", held)
		}
	}
	return err
}

func (m *Membership) admit(name string, raw []byte) error {
	meta, sig := splitMeta(raw)
	switch {
	case !m.opts.Keys.Trusted(name):
		return fmt.Errorf("%q has no trusted node key", name)
	case sig == nil:
		return errors.New("its metadata is not signed")
	case !m.opts.Keys.Verify(name, metaSigning(name, meta), sig):
		return fmt.Errorf("its metadata is not signed by %s's key", name)
	}
	return nil
}

var _ memberlist.AliveDelegate = delegate{}

// metaOf returns a member's metadata as published, without signature.
func metaOf(b []byte) []byte {
	meta, _ := splitMeta(b)
	return bytes.Clone(meta)
}
