package kubernetes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned is a PEM certificate and key.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ci"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// A kubeconfig is read as kubectl reads it: the current context's
// cluster and user, a CA and client certificate inline or from files
// relative to the kubeconfig, a token or a token file; what loadcheck
// cannot do (exec plugins, passwords) is refused with what to use.
func TestLoadKubeAPI(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	for name, data := range map[string][]byte{"ca.pem": cert, "token": []byte("file-token\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head := "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u, namespace: perf}}]\n"
	for _, tc := range []struct {
		name, config, want string
		check              func(*API) bool
	}{
		{"token, CA file", head + "clusters: [{name: k, cluster: {server: 'https://10.0.0.1:6443', certificate-authority: ca.pem}}]\nusers: [{name: u, user: {token: abc}}]\n", "",
			func(a *API) bool {
				return a.Server == "https://10.0.0.1:6443" && a.Token == "abc" && a.Namespace == "perf"
			}},
		{"token file, client certificate inline", head + "clusters: [{name: k, cluster: {server: 'https://k:6443', certificate-authority-data: " + b64(cert) + "}}]\nusers: [{name: u, user: {tokenFile: token, client-certificate-data: " + b64(cert) + ", client-key-data: " + b64(key) + "}}]\n", "",
			func(a *API) bool { return a.Token == "file-token" }},
		{"exec plugin", head + "clusters: [{name: k, cluster: {server: 'https://k'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n", `user "u" signs in through an exec plugin or auth provider, which loadcheck does not run: give it a token`, nil},
		{"password", head + "clusters: [{name: k, cluster: {server: 'https://k'}}]\nusers: [{name: u, user: {username: a, password: b}}]\n", "has a username and password", nil},
		{"no current context", "clusters: []\n", "no current-context: run kubectl config use-context NAME", nil},
		{"unknown context", "current-context: x\ncontexts: []\n", `current-context "x" is not among its contexts`, nil},
		{"missing cluster", head, `context "c" names cluster "k", which the file lacks`, nil},
		{"bad CA", head + "clusters: [{name: k, cluster: {server: 'https://k', certificate-authority-data: " + b64([]byte("junk")) + "}}]\n", "certificate authority: no PEM certificate in it", nil},
		{"bad key", head + "clusters: [{name: k, cluster: {server: 'https://k'}}]\nusers: [{name: u, user: {client-certificate-data: " + b64(cert) + ", client-key-data: " + b64([]byte("junk")) + "}}]\n", `user "u": client certificate:`, nil},
		{"server no URL", head + "clusters: [{name: k, cluster: {server: 'k:6443'}}]\n", `server "k:6443" is not an http(s) URL`, nil},
	} {
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("KUBECONFIG", path)
		api, err := LoadAPI()
		switch {
		case tc.want == "" && (err != nil || !tc.check(api)):
			t.Errorf("%s: %+v, %v", tc.name, api, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: %v; want an error naming %s and %q", tc.name, err, path, tc.want)
		}
	}

	// In a pod: the service account's token, CA and namespace.
	sa := t.TempDir()
	for name, data := range map[string][]byte{"token": []byte("sa-token"), "ca.crt": cert, "namespace": []byte("loadtest")} {
		if err := os.WriteFile(filepath.Join(sa, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := inClusterDir
	inClusterDir = sa
	defer func() { inClusterDir = old }()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	if api, err := LoadAPI(); err != nil || api.Server != "https://10.96.0.1:443" || api.Token != "sa-token" || api.Namespace != "loadtest" {
		t.Errorf("in a pod: %+v, %v", api, err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := LoadAPI(); err == nil || !strings.Contains(err.Error(), "no kubeconfig (looked for "+filepath.Join(dir, "none")+") and not in a pod") {
		t.Errorf("nothing: %v", err)
	}
}
