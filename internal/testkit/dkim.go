package testkit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey signs mail for a domain as its outgoing mail server would, with
// an Ed25519 key whose public half is published on a test DNS server.
type DKIMKey struct {
	Domain, Selector string
	key              ed25519.PrivateKey
}

// NewDKIMKey makes a key for domain and publishes it in d as
// <selector>._domainkey.<domain>.
func NewDKIMKey(tb testing.TB, d *DNS, domain, selector string) *DKIMKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	d.TXT(selector+"._domainkey."+domain, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	return &DKIMKey{Domain: domain, Selector: selector, key: priv}
}

// Sign returns raw (CRLF line endings) with a DKIM-Signature field that
// signs From, To, Subject, Date and Message-ID and the body.
func (k *DKIMKey) Sign(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: k.Domain, Selector: k.Selector, Signer: k.key,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}
