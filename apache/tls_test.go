package apache

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
)

// TestSelfSigned: the certificate matches its key, names the loopback
// address, and has the key kind asked for.
func TestSelfSigned(t *testing.T) {
	for _, kind := range []string{TLSKeyECDSA, TLSKeyRSA} {
		cert, key, err := SelfSigned([]string{"127.0.0.1", "localhost"}, kind)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			t.Fatalf("%s: certificate and key do not match: %v", kind, err)
		}
		c, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
		switch c.PublicKey.(type) {
		case *ecdsa.PublicKey:
			if kind != TLSKeyECDSA {
				t.Errorf("%s: got an ECDSA key", kind)
			}
		case *rsa.PublicKey:
			if kind != TLSKeyRSA {
				t.Errorf("%s: got an RSA key", kind)
			}
		}
	}
	if err := CheckTLSKey("dsa"); err == nil {
		t.Error("dsa accepted")
	}
}

// TestRenderTLS: --tls serves HTTPS on the config's Listen with the
// generated certificate and a shared session cache.
func TestRenderTLS(t *testing.T) {
	cfg, _ := Preset("event-tuned", 100)
	cfg.TLS = TLSKeyECDSA
	conf := Render(cfg, Debian, "127.0.0.1:8443", ContainerPaths)
	for _, want := range []string{"Listen 127.0.0.1:8443 https", "SSLEngine on", "SSLCertificateFile " + TLSCertFile,
		"LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so", `SSLSessionCache "shmcb:/loadcheck-run/ssl_scache(512000)"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("lacks %q", want)
		}
	}
	cfg.TLS = ""
	if strings.Contains(Render(cfg, Debian, "127.0.0.1:8080", ContainerPaths), "SSL") {
		t.Error("SSL directives without --tls")
	}
}
