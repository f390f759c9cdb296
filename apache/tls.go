package apache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// The keys --tls can give a preset's certificate.
const (
	TLSKeyECDSA = "ecdsa-p256" // the default: what most sites serve today
	TLSKeyRSA   = "rsa2048"
)

// TLS files in the container (not on tmpfs: they are copied in before
// the container starts).
const (
	TLSCertFile = "/loadcheck/tls/cert.pem"
	TLSKeyFile  = "/loadcheck/tls/key.pem"
)

// CheckTLSKey refuses a key kind --tls-key does not know.
func CheckTLSKey(kind string) error {
	if kind != TLSKeyECDSA && kind != TLSKeyRSA {
		return fmt.Errorf("unknown TLS key %q: use %s (default) or %s", kind, TLSKeyECDSA, TLSKeyRSA)
	}
	return nil
}

// KeyKind is the kind of the first private key in PEM text (TLSKeyRSA
// for any RSA key, TLSKeyECDSA for any ECDSA one), "" for none or another.
func KeyKind(text string) string {
	rest := []byte(text)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return ""
		}
		var key any
		switch b.Type {
		case "RSA PRIVATE KEY":
			return TLSKeyRSA
		case "EC PRIVATE KEY":
			return TLSKeyECDSA
		case "PRIVATE KEY":
			key, _ = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue
		}
		switch key.(type) {
		case *rsa.PrivateKey:
			return TLSKeyRSA
		case *ecdsa.PrivateKey:
			return TLSKeyECDSA
		}
		return ""
	}
}

// SelfSigned makes a self-signed certificate for names (host names or IP
// addresses) with a key of kind, both PEM-encoded.
func SelfSigned(names []string, kind string) (certPEM, keyPEM []byte, err error) {
	var key crypto.Signer
	switch kind {
	case TLSKeyRSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"loadcheck (self-signed, for load tests)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// renderTLS writes what serves HTTPS on the config's Listen: mod_ssl with
// the generated certificate and a shared-memory session cache, so that
// resumed sessions are resumed by any process.
func renderTLS(p func(format string, a ...any), layout Layout, at Paths) {
	p("")
	p("# HTTPS (--tls): mod_ssl, a self-signed certificate, a shared session cache")
	loadModules(p, layout, "socache_shmcb", "ssl")
	p("SSLEngine on")
	p("SSLCertificateFile %s", TLSCertFile)
	p("SSLCertificateKeyFile %s", TLSKeyFile)
	p("SSLSessionCache \"shmcb:%s/ssl_scache(512000)\"", at.RunDir)
	p("SSLSessionCacheTimeout 300")
}
