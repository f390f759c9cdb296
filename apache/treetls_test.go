package apache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTreeTLS finds the shipped trees' SSL vhosts and certificates: the
// Debian tree names its pair outside the tree, the official one under
// its ServerRoot, where the render points at the tree's copy.
func TestTreeTLS(t *testing.T) {
	for _, tc := range []struct {
		dir, port, cert, key, need string
	}{
		{"../scenarios/trees/debian-shop", "443", "/etc/ssl/shop/shop.example.crt", "/etc/ssl/shop/shop.example.key", "/etc/ssl/shop/shop.example.crt"},
		{"../scenarios/trees/official-shop", "443", "/usr/local/apache2/conf/server.crt", "/usr/local/apache2/conf/server.key", TreeRoot + "/conf/server.crt"},
	} {
		cfg, err := LoadTree("shop", tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := cfg.Tree.SSLVhost("")
		if err != nil || v.ServerName != "shop.example" || v.Port() != tc.port {
			t.Errorf("%s: SSL vhost %+v (%v), want shop.example on %s", tc.dir, v, err, tc.port)
		}
		if _, err := cfg.Tree.SSLVhost("www.shop.example"); err != nil {
			t.Errorf("%s: the alias has no SSL vhost: %v", tc.dir, err)
		}
		if _, err := cfg.Tree.SSLVhost("blog.example"); err == nil || !strings.Contains(err.Error(), "no SSL virtual host for blog.example; its SSL vhosts: shop.example") {
			t.Errorf("%s: blog.example: %v", tc.dir, err)
		}
		certs := cfg.Tree.Certs()
		if len(certs) != 1 || certs[0].Cert != tc.cert || certs[0].Key != tc.key || strings.Join(certs[0].Names, " ") != "shop.example www.shop.example localhost 127.0.0.1" {
			t.Fatalf("%s: certificates %+v", tc.dir, certs)
		}
		r := RenderTree(cfg, Debian, map[string]string{"80": "127.0.0.1:40080", "443": "127.0.0.1:40443"}, ContainerPaths)
		if len(r.Certs) != 1 || r.Certs[0].Cert != tc.need {
			t.Errorf("%s: certificates to generate %+v, want %s", tc.dir, r.Certs, tc.need)
		}
	}
	cfg, _ := LoadTree("shop", "../scenarios/trees/official-shop")
	r := RenderTree(cfg, Debian, map[string]string{"80": "127.0.0.1:40080", "443": "127.0.0.1:40443"}, ContainerPaths)
	ssl := r.Files[TreeRoot+"/conf/extra/httpd-ssl.conf"]
	for _, want := range []string{`SSLCertificateFile "` + TreeRoot + `/conf/server.crt"`, `SSLCertificateKeyFile "` + TreeRoot + `/conf/server.key"`,
		`SSLSessionCache "shmcb:` + ContainerPaths.RunDir + `/ssl_scache(512000)"`, "<VirtualHost _default_:40443>", "Listen 127.0.0.1:40443"} {
		if !strings.Contains(ssl, want) {
			t.Errorf("httpd-ssl.conf lacks %q:\n%s", want, ssl)
		}
	}
	// A tree without mod_ssl has no SSL vhost, and says what to do.
	plain, _ := LoadTree("blog", "testdata/official-tree")
	if _, err := plain.Tree.SSLVhost(""); err == nil || !strings.Contains(err.Error(), "has no SSL virtual host (mod_ssl loaded and a <VirtualHost> with SSLEngine on): add one, or run the tree without --tls") {
		t.Errorf("tree without SSL: %v", err)
	}
}

// TestTreeCertificates refuses a pair that does not match and a pair with
// one half missing, naming the paths; a matching pair loads.
func TestTreeCertificates(t *testing.T) {
	certA, keyA, _ := SelfSigned([]string{"shop.example"}, TLSKeyECDSA)
	_, keyB, _ := SelfSigned([]string{"shop.example"}, TLSKeyECDSA)
	for _, tc := range []struct {
		name      string
		cert, key []byte // nil: not in the tree
		want      string
	}{
		{"match", certA, keyA, ""},
		{"mismatch", certA, keyB, "conf/extra/httpd-ssl.conf:23: certificate %[1]s/conf/server.crt and key %[1]s/conf/server.key do not match (tls: private key does not match public key)"},
		{"key missing", certA, nil, "the key %[1]s/conf/server.key is missing while its certificate %[1]s/conf/server.crt is there"},
		{"cert missing", nil, keyA, "the certificate %[1]s/conf/server.crt is missing while its key %[1]s/conf/server.key is there"},
		{"both missing", nil, nil, ""},
	} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS("../scenarios/trees/official-shop")); err != nil {
			t.Fatal(err)
		}
		for p, b := range map[string][]byte{"conf/server.crt": tc.cert, "conf/server.key": tc.key} {
			if b != nil {
				if err := os.WriteFile(filepath.Join(dir, p), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		cfg, err := LoadTree("shop", dir)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tc.want, "%[1]s", dir))):
			t.Errorf("%s: error %v, want %q", tc.name, err, strings.ReplaceAll(tc.want, "%[1]s", dir))
		case tc.want == "":
			r := RenderTree(cfg, Debian, map[string]string{"80": "127.0.0.1:40080", "443": "127.0.0.1:40443"}, ContainerPaths)
			if n := len(r.Certs); (tc.cert == nil) != (n == 1) {
				t.Errorf("%s: %d certificates to generate", tc.name, n)
			}
		}
	}
}

// TestTreeWithMPM runs the Debian tree (event) under worker: the MPM's
// LoadModule line is rewritten in place. Debian's mpm_event.conf has no
// <IfModule> around its values, so they still apply, as they would in
// httpd; a tree's event-only section would drop out.
func TestTreeWithMPM(t *testing.T) {
	cfg, err := LoadTree("shop", "../scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	w, err := cfg.WithMPM("worker")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := w.Get("MaxRequestWorkers"); w.MPM != "worker" || v != "150" || w.Tree.MPM != "worker" || cfg.Tree.MPM != "" {
		t.Errorf("MPM %s (tree %q, was %q), MaxRequestWorkers %q: want worker, 150 from mpm_event.conf", w.MPM, w.Tree.MPM, cfg.Tree.MPM, v)
	}
	cfg.Tree.Files["mods-enabled/mpm_event.conf"] = "<IfModule mpm_event_module>\nMaxRequestWorkers 150\n</IfModule>\n"
	if w, _ = cfg.WithMPM("worker"); func() bool { _, set := w.Get("MaxRequestWorkers"); return set }() {
		t.Error("an event-only section still counts under worker")
	}
	r := RenderTree(w, Debian, map[string]string{"80": "127.0.0.1:40080", "443": "127.0.0.1:40443"}, ContainerPaths)
	if got := r.Files[TreeRoot+"/mods-enabled/mpm_event.load"]; !strings.Contains(got, "LoadModule mpm_worker_module /usr/lib/apache2/modules/mod_mpm_worker.so") {
		t.Errorf("mpm_event.load:\n%s", got)
	}
	if e, _ := w.WithMPM("event"); e.MPM != "event" {
		t.Errorf("back to event: %s", e.MPM)
	}
	for mpm, want := range map[string]string{"fast": `unknown MPM "fast"`} {
		if _, err := cfg.WithMPM(mpm); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WithMPM(%s): %v", mpm, err)
		}
	}
	p, _ := Preset("event-stock", 100)
	if _, err := p.WithMPM("worker"); err == nil {
		t.Error("a preset's MPM was switched")
	}
}
