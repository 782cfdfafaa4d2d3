package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A node whose peers truncated their logs below what it holds (it was
// away long, or its data dir is new) catches up from a peer's snapshot
// plus the log's tail. The peer that finds it cannot send the events the
// node lacks says so (kindSnapNeeded); the node then pulls the peer's
// snapshot part by part (kindSnapGet, kindSnapPart), a few parts in
// flight, each asked again when it does not come; checks its size and
// SHA-256; installs it (store.Restore); and tells every peer its new
// marks, from which their pushes go on.
const (
	// snapPartBytes bounds one part of a snapshot.
	snapPartBytes = 1 << 20
	// snapInFlight is how many parts are asked for at once.
	snapInFlight = 4
	// snapKeep is how long a node keeps a snapshot it made, for the parts
	// still to come and for another peer that needs one.
	snapKeep = 5 * time.Minute
	// snapFirstWait bounds the wait for a snapshot's first part, which
	// the peer makes first; later parts wait Options.Resend.
	snapFirstWait = time.Minute
	// snapTries bounds the times one part is asked for.
	snapTries = 10
)

// snapshots are the snapshots this node made for its peers.
type snapshots struct {
	mu    sync.Mutex
	files map[string]*snapFile
}

type snapFile struct {
	path  string
	size  int64
	sum   string
	made  time.Time
	marks map[string]uint64
}

// serveSnapshot answers a peer's request for a part of a snapshot.
func (r *Replicator) serveSnapshot(from string, req *snapPart) {
	t := r.transport()
	if t == nil {
		return
	}
	answer := func(p snapPart) {
		if err := t.SendReliable(from, r.seal(from, wire{Kind: kindSnapPart, Snap: &p})); err != nil {
			r.log.Debug("sending a snapshot part failed", "peer", from, "err", err)
		}
	}
	f, err := r.snapshotFile(req.ID)
	if err != nil {
		answer(snapPart{ID: req.ID, Offset: req.Offset, Err: err.Error()})
		return
	}
	if req.Offset > f.size {
		answer(snapPart{ID: req.ID, Offset: req.Offset, Err: "offset beyond the snapshot"})
		return
	}
	fh, err := os.Open(f.path)
	if err != nil {
		answer(snapPart{ID: req.ID, Offset: req.Offset, Err: "snapshot gone"})
		return
	}
	defer fh.Close()
	buf := make([]byte, min(snapPartBytes, f.size-req.Offset))
	if _, err := fh.ReadAt(buf, req.Offset); err != nil && !errors.Is(err, io.EOF) {
		answer(snapPart{ID: req.ID, Offset: req.Offset, Err: "reading the snapshot failed"})
		return
	}
	id := filepath.Base(f.path)
	answer(snapPart{ID: id, Offset: req.Offset, Size: f.size, Sum: f.sum, Data: buf})
}

// snapshotFile returns the snapshot id, or, for an empty id, a recent
// one or a new one.
func (r *Replicator) snapshotFile(id string) (*snapFile, error) {
	r.snaps.mu.Lock()
	defer r.snaps.mu.Unlock()
	now := r.opts.Now()
	for k, f := range r.snaps.files {
		if now.Sub(f.made) > snapKeep {
			os.Remove(f.path)
			delete(r.snaps.files, k)
		}
	}
	if id != "" {
		if f := r.snaps.files[id]; f != nil {
			return f, nil
		}
		return nil, errors.New("no such snapshot")
	}
	for _, f := range r.snaps.files {
		if now.Sub(f.made) < snapKeep/2 {
			return f, nil
		}
	}
	path := filepath.Join(r.opts.Dir, "snapshot-"+rand.Text()+".db")
	marks, err := r.st.WriteSnapshot(path)
	if err != nil {
		return nil, err
	}
	size, sum, err := fileSum(path)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	f := &snapFile{path: path, size: size, sum: sum, made: now, marks: marks}
	r.snaps.files[filepath.Base(path)] = f
	r.log.Info("made a snapshot for a peer", "bytes", size)
	return f, nil
}

// removeSnapshots deletes the snapshots this node made; at Close.
func (r *Replicator) removeSnapshots() {
	r.snaps.mu.Lock()
	defer r.snaps.mu.Unlock()
	for k, f := range r.snaps.files {
		os.Remove(f.path)
		delete(r.snaps.files, k)
	}
}

func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// needSnapshot starts pulling a snapshot from peer from, unless one is
// on its way already.
func (r *Replicator) needSnapshot(from string) {
	r.mu.Lock()
	if r.closed || r.fetching != "" {
		r.mu.Unlock()
		return
	}
	r.fetching = from
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			r.fetching = ""
			r.mu.Unlock()
		}()
		start := r.opts.Now()
		size, err := r.fetchSnapshot(from)
		if err != nil {
			r.m.snapshots.WithLabelValues("failed").Inc()
			r.log.Warn("catching up from a peer's snapshot failed; trying again when it says so", "peer", from, "err", err)
			return
		}
		r.m.snapshots.WithLabelValues("installed").Inc()
		r.log.Info("caught up from a peer's snapshot", "peer", from, "bytes", size,
			"took", r.opts.Now().Sub(start).Round(time.Millisecond))
		r.announceMarks()
		r.checkReady()
	}()
}

// fetchSnapshot pulls peer from's snapshot into a file, checks it and
// installs it. It returns the snapshot's size.
func (r *Replicator) fetchSnapshot(from string) (int64, error) {
	t := r.transport()
	if t == nil {
		return 0, errors.New("not attached")
	}
	tmp, err := os.CreateTemp(r.opts.Dir, "incoming-snapshot-*.db")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	for len(r.snapIn) > 0 { // parts of an earlier attempt
		<-r.snapIn
	}
	ask := func(p snapPart) error {
		return t.SendReliable(from, r.seal(from, wire{Kind: kindSnapGet, Snap: &p}))
	}
	// The first part comes once the peer has made the snapshot.
	var first *snapPart
	err = r.awaitParts(snapFirstWait, func() error { return ask(snapPart{}) }, func(p *snapPart) (bool, error) {
		if p.Offset != 0 {
			return false, nil
		}
		first = p
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	if first.Size <= 0 || first.Size > r.opts.MaxSnapshot || len(first.Data) == 0 {
		return 0, fmt.Errorf("snapshot of %d bytes (at most %d are taken)", first.Size, r.opts.MaxSnapshot)
	}
	id, size, sum := first.ID, first.Size, first.Sum
	got := map[int64]bool{}
	take := func(p *snapPart) (bool, error) {
		if p.ID != id || p.Size != size || p.Sum != sum || p.Offset%snapPartBytes != 0 ||
			p.Offset+int64(len(p.Data)) > size || len(p.Data) == 0 {
			return false, errors.New("a snapshot part does not fit the snapshot")
		}
		if !got[p.Offset] {
			if _, err := tmp.WriteAt(p.Data, p.Offset); err != nil {
				return false, err
			}
			got[p.Offset] = true
		}
		return true, nil
	}
	if _, err := take(first); err != nil {
		return 0, err
	}
	// The rest in order, a few parts asked for ahead; a part that does
	// not come is asked for again.
	asked := int64(len(first.Data))
	for off := int64(len(first.Data)); off < size; off += snapPartBytes {
		for ; asked < size && asked < off+snapInFlight*snapPartBytes; asked += snapPartBytes {
			if err := ask(snapPart{ID: id, Offset: asked}); err != nil {
				return 0, err
			}
		}
		if got[off] {
			continue
		}
		err := r.awaitParts(r.opts.Resend, func() error { return ask(snapPart{ID: id, Offset: off}) },
			func(p *snapPart) (bool, error) {
				if _, err := take(p); err != nil {
					return false, err
				}
				return got[off], nil
			})
		if err != nil {
			return 0, err
		}
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	n, have, err := fileSum(tmp.Name())
	if err != nil {
		return 0, err
	}
	if n != size || have != sum {
		return 0, errors.New("the snapshot's checksum does not match")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return size, r.st.Restore(ctx, tmp.Name())
}

// awaitParts hands every part that comes to take until take says it is
// done; each time wait passes without that, it asks again (asking once
// up front for a first part), at most snapTries times.
func (r *Replicator) awaitParts(wait time.Duration, askAgain func() error, take func(*snapPart) (bool, error)) error {
	tm := time.NewTimer(wait)
	defer tm.Stop()
	tries := 0
	if wait == snapFirstWait {
		tries++
		if err := askAgain(); err != nil {
			return err
		}
	}
	for {
		select {
		case p := <-r.snapIn:
			if p.Err != "" {
				return fmt.Errorf("the peer cannot give its snapshot: %s", p.Err)
			}
			done, err := take(p)
			if err != nil || done {
				return err
			}
		case <-tm.C:
			if tries++; tries > snapTries {
				return fmt.Errorf("a snapshot part did not come after %d tries", snapTries)
			}
			if err := askAgain(); err != nil {
				return err
			}
			tm.Reset(wait)
		case <-r.done:
			return errors.New("closed")
		}
	}
}

// announceMarks tells every live peer this node's marks.
func (r *Replicator) announceMarks() {
	t := r.transport()
	marks, err := r.st.Marks()
	if t == nil || err != nil {
		return
	}
	for _, p := range r.Peers() {
		if err := t.SendReliable(p.Name, r.seal(p.Name, wire{Kind: kindMarks, Marks: marks})); err != nil {
			r.log.Debug("telling a peer this node's marks failed", "peer", p.Name, "err", err)
		}
	}
}
