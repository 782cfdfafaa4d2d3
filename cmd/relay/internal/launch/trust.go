package launch

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oob-relay/relay/config"
	"github.com/oob-relay/relay/relay/trust"
)

// keysReload is how often the trusted keys file is checked for changes.
const keysReload = 5 * time.Second

// identity loads the node's key (made in its data dir on the first
// start) and, on an authenticated cluster, the trusted keys, which must
// list this node's own.
func identity(cfg *config.Config) (*trust.Signer, *trust.Keyring, error) {
	signer, err := trust.LoadOrCreate(cfg.Path(cfg.Node.DataDir), cfg.Node.Name)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Cluster == nil || cfg.Cluster.TrustedKeysFile == "" {
		return signer, nil, nil
	}
	keys, err := trust.LoadKeyring(cfg.Path(cfg.Cluster.TrustedKeysFile))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.trusted_keys_file: %w", err)
	}
	if !listed(keys, signer) {
		return nil, nil, fmt.Errorf("cluster.trusted_keys_file: this node's key is not listed, so no other node would believe it; add its line (relay node id prints it): %s", signer.Line())
	}
	return signer, keys, nil
}

// listed reports whether keys holds signer's key under its name.
func listed(keys *trust.Keyring, signer *trust.Signer) bool {
	probe := make([]byte, 32)
	rand.Read(probe)
	return keys.Verify(signer.Name(), probe, signer.Sign(probe))
}

// keyWatch reads the trusted keys file again when it changes, and has
// the node re-count its peers: a node added is believed, a node removed
// is not, within keysReload.
type keyWatch struct {
	stop chan struct{}
	done sync.WaitGroup
}

func watchKeys(keys *trust.Keyring, signer *trust.Signer, changed func(), log *slog.Logger) *keyWatch {
	w := &keyWatch{stop: make(chan struct{})}
	w.done.Go(func() {
		tick := time.NewTicker(keysReload)
		defer tick.Stop()
		lastErr := ""
		for {
			select {
			case <-tick.C:
			case <-w.stop:
				return
			}
			ok, err := keys.Reload()
			switch {
			case err != nil:
				if err.Error() != lastErr { // said once, not every few seconds
					log.Error("the trusted keys file cannot be read; the keys read before stay in force", "err", err)
				}
				lastErr = err.Error()
				continue
			case ok:
				log.Info("trusted keys changed", "nodes", keys.Names())
				if !listed(keys, signer) {
					log.Error("this node's key is no longer among the trusted keys: the other nodes will not believe it", "line", signer.Line())
				}
				changed()
			}
			lastErr = ""
		}
	})
	return w
}

// close stops the watch; a nil watch is a no-op.
func (w *keyWatch) close() {
	if w == nil {
		return
	}
	close(w.stop)
	w.done.Wait()
}
