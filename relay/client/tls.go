package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// HTTPClient returns the HTTP client of New for nodes that serve HTTPS
// with a certificate from a private CA: caFile is a PEM bundle, and the
// nodes' certificates are verified against its certificates only, not the
// system's roots. An empty caFile means the system's roots. Each request
// has a 10 s timeout; TLS 1.2 is the oldest version spoken.
func HTTPClient(caFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}, nil
}
