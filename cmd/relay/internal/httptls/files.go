package httptls

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// files serves a certificate read from a pair of PEM files and reads the
// pair again when either file changes: renewals (certbot, cert-manager,
// an operator's cp or mv) take effect from the next handshake, with no
// restart. It looks at the files on a handshake, at most once every
// interval, so it owns no goroutine and no timer. A pair that does not
// load leaves the certificate in force as it is and is logged once.
type files struct {
	certPath, keyPath string
	every             time.Duration
	log               *slog.Logger
	reloads           *prometheus.CounterVec

	cert atomic.Pointer[tls.Certificate]

	// mu is held by the one handshake that looks at the files; the others
	// go on with the certificate in force meanwhile.
	mu      sync.Mutex
	checked time.Time
	loaded  pairStamp // the files as they were when cert was read
	bad     pairStamp // the files as they were when they last failed to load
	statErr string    // the last error looking at the files, already logged
}

// pairStamp tells two versions of the files apart: a file replaced
// (renamed over, or a symlink moved) is another file; one written in
// place has another size or modification time.
type pairStamp struct{ cert, key os.FileInfo }

func (a pairStamp) same(b pairStamp) bool {
	return sameFile(a.cert, b.cert) && sameFile(a.key, b.key)
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func loadFiles(certPath, keyPath string, every time.Duration, log *slog.Logger, reloads *prometheus.CounterVec) (*files, error) {
	f := &files{certPath: certPath, keyPath: keyPath, every: every, log: log, reloads: reloads}
	st, err := f.stat()
	if err != nil {
		return nil, err
	}
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cert.Store(c)
	f.loaded, f.checked = st, time.Now()
	return f, nil
}

func (f *files) current() *tls.Certificate { return f.cert.Load() }

// getCertificate is tls.Config.GetCertificate.
func (f *files) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.check()
	return f.cert.Load(), nil
}

// check reads the files again if they changed since they were read,
// unless they were looked at less than an interval ago or another
// handshake is looking at them now.
func (f *files) check() {
	if !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.checked) < f.every {
		return
	}
	f.checked = now
	st, err := f.stat()
	switch {
	case err != nil:
		// A file missing for a moment is said once, not every second.
		if msg := err.Error(); msg != f.statErr {
			f.statErr = msg
			f.failure(err)
		}
		return
	case st.same(f.loaded) || st.same(f.bad):
		f.statErr = ""
		return
	}
	f.statErr = ""
	c, err := f.load()
	if err != nil {
		f.bad = st // said once: tried again only when the files change again
		f.failure(err)
		return
	}
	old := f.cert.Swap(c)
	f.loaded = st
	f.reloads.WithLabelValues("loaded").Inc()
	f.log.Info("HTTPS certificate loaded again from its files", "file", f.certPath,
		"names", names(c), "not_after", c.Leaf.NotAfter, "previous_not_after", old.Leaf.NotAfter)
}

func (f *files) failure(err error) {
	f.reloads.WithLabelValues("failed").Inc()
	f.log.Error("the HTTPS certificate files changed but do not load; the certificate loaded before stays in force",
		"err", err, "not_after", f.cert.Load().Leaf.NotAfter)
}

func (f *files) stat() (pairStamp, error) {
	c, err := os.Stat(f.certPath)
	if err != nil {
		return pairStamp{}, fmt.Errorf("certificate file: %w", err)
	}
	k, err := os.Stat(f.keyPath)
	if err != nil {
		return pairStamp{}, fmt.Errorf("key file: %w", err)
	}
	return pairStamp{cert: c, key: k}, nil
}

// load reads the pair. Its errors name the files and hold no key
// material.
func (f *files) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(f.certPath, f.keyPath)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", f.certPath, f.keyPath, err)
	}
	return &c, nil
}

func names(c *tls.Certificate) []string {
	out := append([]string(nil), c.Leaf.DNSNames...)
	for _, ip := range c.Leaf.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 {
		out = append(out, c.Leaf.Subject.CommonName)
	}
	return out
}
