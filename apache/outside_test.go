package apache

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// certbotTree is a Debian-layout tree whose site is as certbot writes
// it: an Include of /…/letsencrypt/options-ssl-apache.conf and the live/
// certificate, chain and key, all outside the tree, under host (a temp
// folder standing in for /etc).
func certbotTree(t *testing.T) (dir, le string) {
	t.Helper()
	host := t.TempDir()
	le = filepath.Join(host, "letsencrypt")
	dir = filepath.Join(host, "apache2")
	cert, key, err := SelfSigned([]string{"shop.example"}, TLSKeyRSA)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(dir, "apache2.conf"): "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\nLoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nListen 443\nIncludeOptional sites-enabled/*.conf\n",
		filepath.Join(dir, "sites-enabled/shop-le-ssl.conf"): "<VirtualHost *:443>\n  ServerName shop.example\n  Include " + le + "/options-ssl-apache.conf\n" +
			"  SSLCertificateFile " + le + "/live/shop.example/fullchain.pem\n  SSLCertificateKeyFile " + le + "/live/shop.example/privkey.pem\n</VirtualHost>\n",
		filepath.Join(le, "options-ssl-apache.conf"):         "SSLEngine on\nSSLProtocol all -SSLv2 -SSLv3 -TLSv1 -TLSv1.1\n",
		filepath.Join(le, "live/shop.example/fullchain.pem"): string(cert),
		filepath.Join(le, "live/shop.example/privkey.pem"):   string(key),
	}
	for p, text := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, le
}

// TestOutsideFiles: what a tree names outside itself is brought in and
// runs from the copy, each file listed; without the host's keys the
// certificate and key are left out and generated instead.
func TestOutsideFiles(t *testing.T) {
	dir, le := certbotTree(t)
	cfg, err := LoadTree("shop", dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Tree
	want := []string{le + "/live/shop.example/fullchain.pem", le + "/live/shop.example/privkey.pem", le + "/options-ssl-apache.conf"}
	got := slices.Sorted(slices.Values(tr.Outside))
	if !slices.Equal(got, want) {
		t.Fatalf("brought in %v, want %v", got, want)
	}
	// The included file's directives are the tree's too.
	var protocol bool
	for _, l := range tr.Lines() {
		protocol = protocol || l.Name() == "SSLProtocol"
	}
	r := RenderTree(cfg, Debian, map[string]string{"443": "127.0.0.1:18443"}, ContainerPaths)
	site := r.Files[TreeRoot+"/sites-enabled/shop-le-ssl.conf"]
	adj := strings.Join(r.Adjustments, "\n")
	if !protocol || !strings.Contains(site, "Include "+TreeRoot+"/"+OutsideDir+le+"/options-ssl-apache.conf") ||
		!strings.Contains(site, "SSLCertificateFile "+TreeRoot+"/"+OutsideDir+le+"/live/shop.example/fullchain.pem") ||
		r.Files[TreeRoot+"/"+OutsideDir+le+"/options-ssl-apache.conf"] == "" || !strings.Contains(adj, "brought in "+le+"/options-ssl-apache.conf") || len(r.Certs) != 0 {
		t.Errorf("rendered site:\n%s\nadjustments:\n%s\ncertificates to generate: %+v", site, adj, r.Certs)
	}
	// --no-host-keys: the pair is generated (with an RSA key, as the
	// host's), the options file still comes.
	noKeys := cfg
	noKeys.Tree = tr.WithoutHostKeys()
	r = RenderTree(noKeys, Debian, map[string]string{"443": "127.0.0.1:18443"}, ContainerPaths)
	if len(noKeys.Tree.Outside) != 1 || len(r.Certs) != 1 || r.Certs[0].Kind != TLSKeyRSA || r.Files[TreeRoot+"/"+OutsideDir+le+"/live/shop.example/privkey.pem"] != "" {
		t.Errorf("without host keys: brought in %v, certificates to generate %+v", noKeys.Tree.Outside, r.Certs)
	}
	if len(tr.Outside) != 3 {
		t.Errorf("WithoutHostKeys changed the tree it was given: %v", tr.Outside)
	}
}
