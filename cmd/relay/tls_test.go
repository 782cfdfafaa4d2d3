package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oob-relay/relay/internal/testkit"
)

// tlsNode is a relay serve process with HTTPS from certificate files.
type tlsNode struct {
	dir, url, plainURL, certFile, keyFile string
	ca                                    *testkit.CA
	hc                                    *http.Client
	proc                                  *proc
}

// startTLSNode writes a config with http.tls from files issued by a CA
// made for the test, and starts relay serve with it.
func startTLSNode(t *testing.T) *tlsNode {
	t.Helper()
	ca := testkit.NewCA(t, "relay test CA")
	dir := t.TempDir()
	addr, plain := freeAddr(t), freeAddr(t)
	n := &tlsNode{dir: dir, url: "https://" + addr, plainURL: "http://" + plain, ca: ca,
		certFile: filepath.Join(dir, "tls", "relay.pem"), keyFile: filepath.Join(dir, "tls", "relay-key.pem"),
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}}
	if err := os.MkdirAll(filepath.Dir(n.certFile), 0o700); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1")
	n.replace(t, certPEM, keyPEM)
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`node:
  name: tls-1
  data_dir: data
http:
  listen: %s
  public_url: %s
  tls:
    cert_file: tls/relay.pem
    key_file: tls/relay-key.pem
    redirect_listen: %s
api:
  tokens:
    - name: ops-bot
      role: bot
      token_env: TEST_RELAY_TOKEN
`, addr, n.url, plain)
	path := filepath.Join(dir, "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("relay")
	if err != nil {
		t.Fatal(err)
	}
	n.proc = serveClient(t, bin, path, n.url, n.hc)
	return n
}

// replace writes a new pair as certbot does: each file written beside
// and renamed over the old one.
func (n *tlsNode) replace(t *testing.T, certPEM, keyPEM []byte) {
	t.Helper()
	for _, f := range []struct {
		path string
		data []byte
	}{{n.certFile, certPEM}, {n.keyFile, keyPEM}} {
		if err := os.WriteFile(f.path+".new", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".new", f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// served returns the serial number of the certificate a new handshake
// gets, verified against the test CA.
func (n *tlsNode) served(t *testing.T) (string, error) {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(n.url, "https://"), &tls.Config{RootCAs: n.ca.Pool})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

func serialOf(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// TestServeHTTPS runs relay serve with http.tls from certificate files:
// a client that trusts the CA talks to it, one that does not is refused,
// and plain HTTP gets nothing but a redirect.
func TestServeHTTPS(t *testing.T) {
	n := startTLSNode(t)

	req, _ := http.NewRequest("GET", n.url+"/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := n.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET /v1/incidents over HTTPS: %s, TLS %+v", resp.Status, resp.TLS)
	}

	// A client without the CA refuses the node's certificate.
	if _, err := http.Get(n.url + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client without the CA: %v", err)
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", strings.TrimPrefix(n.url, "https://"),
		&tls.Config{RootCAs: n.ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// Plain HTTP on the HTTPS port reaches no handler.
	resp, err = http.Get("http://" + strings.TrimPrefix(n.url, "https://") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS port: %s, want 400", resp.Status)
	}

	// The CLI talks HTTPS with the CA of RELAY_CA_FILE, and refuses the
	// node without it.
	cli := func(env map[string]string, args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
		return code, stdout.String() + stderr.String()
	}
	env := map[string]string{"RELAY_ADDR": n.url, "RELAY_TOKEN": testToken, "RELAY_CA_FILE": filepath.Join(n.dir, "ca.pem")}
	if code, out := cli(env, "status"); code != 0 || !strings.Contains(out, "as seen by tls-1") {
		t.Errorf("relay status with RELAY_CA_FILE: exit %d\n%s", code, out)
	}
	if code, out := cli(env, "incident", "list"); code != 0 {
		t.Errorf("relay incident list with RELAY_CA_FILE: exit %d\n%s", code, out)
	}
	delete(env, "RELAY_CA_FILE")
	if code, out := cli(env, "status"); code == 0 || !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("relay status without the CA: exit %d\n%s", code, out)
	}
	env["RELAY_CA_FILE"] = filepath.Join(n.dir, "relay.yaml")
	if code, out := cli(env, "status"); code == 0 || !strings.Contains(out, "RELAY_CA_FILE: "+env["RELAY_CA_FILE"]+" holds no PEM certificate") {
		t.Errorf("relay status with a CA file that holds no certificate: exit %d\n%s", code, out)
	}

	// The plain port redirects reads to the public URL and refuses the
	// rest.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(n.plainURL + "/v1/incidents?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != n.url+"/v1/incidents?x=1" {
		t.Errorf("GET on the plain port: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = http.Post(n.plainURL+"/v1/messages", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST on the plain port: %s, want 403", resp.Status)
	}
}

// TestServeHTTPSReloadsCertificate replaces the certificate files of a
// running relay serve: new handshakes get the new certificate without a
// restart, and a pair that does not load leaves the one in force.
func TestServeHTTPSReloadsCertificate(t *testing.T) {
	n := startTLSNode(t)
	first, err := n.served(t)
	if err != nil {
		t.Fatal(err)
	}
	pid := n.proc.cmd.Process.Pid

	cert2, key2 := n.ca.Issue(t, "127.0.0.1")
	n.replace(t, cert2, key2)
	want := serialOf(t, cert2)
	if want == first {
		t.Fatal("the CA issued the same serial twice")
	}
	testkit.EventuallyNil(t, 20*time.Second, func() error {
		got, err := n.served(t)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("served certificate %s, want the new one %s", got, want)
		}
		return nil
	})

	// A bad pair: a new certificate with the old key.
	cert3, _ := n.ca.Issue(t, "127.0.0.1")
	n.replace(t, cert3, key2)
	testkit.Eventually(t, 20*time.Second, "the bad pair logged", func() bool {
		n.served(t)
		return strings.Contains(n.proc.log(), "do not load")
	})
	for range 3 {
		if got, err := n.served(t); err != nil || got != want {
			t.Fatalf("with a bad pair on disk: served %s (%v), want the one in force %s", got, err, want)
		}
	}
	if c := strings.Count(n.proc.log(), "do not load"); c != 1 {
		t.Errorf("the bad pair was logged %d times", c)
	}
	select {
	case <-n.proc.exited:
		t.Fatalf("relay serve exited:\n%s", n.proc.log())
	default:
	}
	if n.proc.cmd.Process.Pid != pid {
		t.Fatal("the process changed")
	}
	m := scrape(n.hc, n.url)
	if m[`relay_http_tls_certificate_reloads_total{result="loaded"}`] != 1 || m[`relay_http_tls_certificate_reloads_total{result="failed"}`] != 1 {
		t.Errorf("reload metrics: loaded %v, failed %v", m[`relay_http_tls_certificate_reloads_total{result="loaded"}`],
			m[`relay_http_tls_certificate_reloads_total{result="failed"}`])
	}
}

// TestClusterOverHTTPS runs two relay serve processes with HTTPS: each
// tells the other its https API URL, and relay status with RELAY_CA_FILE
// reads the other member's store there.
func TestClusterOverHTTPS(t *testing.T) {
	cl := startCluster(t, clusterSpec{nodes: 2, people: 2, tls: true})
	a, b := cl.nodes[0], cl.nodes[1]
	env := map[string]string{"RELAY_ADDR": a.api, "RELAY_TOKEN": testToken, "RELAY_CA_FILE": filepath.Join(cl.root, "ca.pem")}
	line := regexp.MustCompile(`(?m)^node-b\s+alive\s+\S+\s+(\S+)\s+\d+\s+\S+\s+\d+\s+(\S+)`)
	testkit.EventuallyNil(t, 15*time.Second, func() error {
		var stdout, stderr bytes.Buffer
		code := run([]string{"status"}, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
		m := line.FindStringSubmatch(stdout.String())
		switch {
		case code != 0:
			return fmt.Errorf("relay status: exit %d\n%s%s", code, stdout.String(), stderr.String())
		case m == nil:
			return fmt.Errorf("relay status shows no alive node-b:\n%s", stdout.String())
		case m[1] != b.api:
			return fmt.Errorf("node-b's API is %s, want %s", m[1], b.api)
		case m[2] == "-":
			return fmt.Errorf("node-b's store was not read over HTTPS:\n%s", stdout.String())
		}
		return nil
	})
}
