package apache

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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

// TestKeyKind tells RSA from ECDSA keys in each PEM form httpd reads.
func TestKeyKind(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8 := func(k any) string {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
	}
	ec, _ := x509.MarshalECPrivateKey(ecKey)
	cert, _, _ := SelfSigned([]string{"a.example"}, TLSKeyECDSA)
	for text, want := range map[string]string{
		p8(rsaKey): TLSKeyRSA, p8(ecKey): TLSKeyECDSA,
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})): TLSKeyRSA,
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ec})):                                   TLSKeyECDSA,
		string(cert) + p8(rsaKey): TLSKeyRSA, // a certificate and its key in one file
		string(cert):              "",
		"not a key":               "",
	} {
		if got := KeyKind(text); got != want {
			t.Errorf("%.40q...: %q, want %q", text, got, want)
		}
	}
}
