package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestCAIssues(t *testing.T) {
	ca := NewCA(t, "testkit CA")
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1", "relay.test")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			c.Close()
		}
		done <- err
	}()
	for _, name := range []string{"127.0.0.1", "relay.test"} {
		if err := pair.Leaf.VerifyHostname(name); err != nil {
			t.Error(err)
		}
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool, ServerName: "relay.test"})
	if err != nil {
		t.Fatalf("a client trusting the CA: %v", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool()}); err == nil {
		t.Error("the certificate verifies without the CA")
	}
	other, _ := ca.Issue(t, "127.0.0.1")
	if string(other) == string(certPEM) {
		t.Error("two certificates issued alike")
	}
}
