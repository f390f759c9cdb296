package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/internal/dockertest"
)

// TestUserConfigFile runs the user's own httpd.conf beside a preset, and
// stops with Apache's own message, exit 2 and before any load, when the
// file has a syntax error.
func TestUserConfigFile(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := run(t, "run", "--config-file", "broken=testdata/user-broken.conf", "-c", "50", "--json", out)
	if code != exitSetup || !strings.Contains(stderr, "testdata/user-broken.conf") ||
		!strings.Contains(stderr, "line 16") || !strings.Contains(stderr, "Invalid command 'ThisIsNotADirective'") {
		t.Errorf("broken file: got exit %d, stderr:\n%s\nwant 2 with Apache's message, the file and line 16", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a result was written for a config that never ran")
	}
	code, stdout, stderr := run(t, "run", "--config-file", "mine=testdata/user-event.conf", "-c", "200",
		"--ramp", "2s", "--warmup", "8s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("user file: got exit %d; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	if r.Config != "mine" || r.MPM != "event" || r.Connections.Served != 200 || !strings.Contains(r.HTTPDConf, "# loadcheck replaced: Listen 80") {
		t.Errorf("got config %q mpm %q served %d, conf replaced Listen: %v", r.Config, r.MPM, r.Connections.Served,
			strings.Contains(r.HTTPDConf, "# loadcheck replaced: Listen 80"))
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestConfigTreeRun runs the shipped Debian tree with its shop vhost
// under load: every connection served by the vhost asked for, and the
// changes made to run it in result.json. A syntax error in an included
// file, and a module the image lacks, stop before any load with exit 2,
// naming the tree's own file and line.
func TestConfigTreeRun(t *testing.T) {
	dockertest.Require(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := run(t, "run", "--config-dir", "shop=../../scenarios/trees/debian-shop", "--set", "MaxRequestWorkers=300",
		"-c", "200", "--ramp", "2s", "--warmup", "5s", "-d", "3s", "--json", out)
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("got exit %d; stderr:\n%s", code, stderr)
	}
	r := readResult(t, out).Runs[0]
	adj := strings.Join(r.Adjustments, "\n")
	if r.Config != "shop" || r.MPM != "event" || r.Host != "shop.example" || r.Connections.Served != 200 ||
		!strings.Contains(adj, "sites-enabled/shop.conf:6: <VirtualHost *:80> → <VirtualHost *:") ||
		!strings.Contains(adj, "DocumentRoot /srv/shop/public did not exist") {
		t.Errorf("config %q MPM %q host %q served %d, adjustments:\n%s", r.Config, r.MPM, r.Host, r.Connections.Served, adj)
	}
	if !strings.Contains(stderr, "adjusted: ports.conf:") || !strings.Contains(r.HTTPDConf, "MaxRequestWorkers 300") {
		t.Errorf("want the adjustments logged and --set after the tree; stderr:\n%s", stderr)
	}
	// The shop's own access log has every answer the window counted: the
	// shop vhost answered them, not the default one.
	if n := r.Server.AccessLogLines["shop-access.log"]; n < r.Requests.OK || r.Requests.OK == 0 {
		t.Errorf("shop-access.log has %d lines for %d answers (access logs %v)", n, r.Requests.OK, r.Server.AccessLogLines)
	}

	// The official-layout tree over TLS, on its own SSL vhost, on the
	// official layout's image (httpd:2.4 is not in this engine: the one
	// make image builds from Debian's packages).
	code, stdout, stderr = run(t, "run", "--config-dir", "shop=../../scenarios/trees/official-shop", "--tls",
		"-c", "200", "--ramp", "2s", "--warmup", "5s", "-d", "3s", "--json", out+".tls")
	t.Logf("stdout:\n%s", stdout)
	if code != exitPass {
		t.Fatalf("official tree over TLS: exit %d; stderr:\n%s", code, stderr)
	}
	tf := readResult(t, out+".tls")
	r = tf.Runs[0]
	if r.Image != containers.OfficialImage && r.Image != containers.DefaultImage {
		t.Errorf("the official-layout tree ran on %q, want the official layout's image", r.Image)
	}
	if r.TLS == nil || r.TLS.Handshakes < 200 || r.TLS.Failed != 0 || r.Connections.Served != 200 || r.Host != "shop.example" ||
		r.Server.AccessLogLines["ssl_request_log"] < r.Requests.OK || !strings.Contains(stdout, "shop TLS: TLS 1.3") ||
		!strings.Contains(stderr, "adjusted: warning: certificate /loadcheck/tree/conf/server.crt for shop.example") {
		t.Errorf("official tree over TLS: served %d host %q TLS %+v access logs %v; stderr:\n%s", r.Connections.Served, r.Host, r.TLS, r.Server.AccessLogLines, stderr)
	}

	tree := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apache2.conf", "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"+
		"LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\nUser daemon\nListen 80\nIncludeOptional sites/*.conf\n")
	write("sites/bad.conf", "<VirtualHost *:80>\n  ServerName bad.example\n  ThisIsNotADirective on\n</VirtualHost>\n")
	code, _, stderr = run(t, "run", "--config-dir", "bad="+tree, "-c", "50", "--json", out+".bad")
	if code != exitSetup || !strings.Contains(stderr, "line 3 of "+tree+"/sites/bad.conf") || !strings.Contains(stderr, "Invalid command 'ThisIsNotADirective'") {
		t.Errorf("syntax error: exit %d, stderr:\n%s\nwant 2 naming %s/sites/bad.conf, line 3", code, stderr, tree)
	}
	write("sites/bad.conf", "LoadModule nope_module /usr/lib/apache2/modules/mod_nope.so\n")
	code, _, stderr = run(t, "run", "--config-dir", "bad="+tree, "-c", "50", "--json", out+".bad")
	if code != exitSetup || !strings.Contains(stderr, "line 1 of "+tree+"/sites/bad.conf") || !strings.Contains(stderr, "mod_nope.so") {
		t.Errorf("missing module: exit %d, stderr:\n%s\nwant 2 naming %s/sites/bad.conf and mod_nope.so", code, stderr, tree)
	}
	if _, err := os.Stat(out + ".bad"); err == nil {
		t.Error("a result was written for a tree that never ran")
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestOwnImage runs a team-style image, loadcheck's plus Debian's
// mod_xsendfile and no loadcheck label (containers/image/build-extra.sh):
// its layout is found by its binary, and a tree that loads the module and
// uses its directive runs there; on the base image the same tree stops
// with exit 2, naming the tree's LoadModule line.
func TestOwnImage(t *testing.T) {
	dockertest.Require(t)
	const image = "loadcheck/apache2-xsendfile:bookworm"
	if out, err := exec.Command("bash", "../../containers/image/build-extra.sh", image).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", image, err, out)
	}
	out := filepath.Join(t.TempDir(), "r.json")
	args := []string{"run", "--config-dir", "files=testdata/xsendfile-tree", "-c", "50", "--ramp", "1s", "--warmup", "3s", "-d", "2s"}
	code, stdout, stderr := run(t, append(args, "--image", image, "--json", out)...)
	if code != exitPass {
		t.Fatalf("own image: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if r := readResult(t, out).Runs[0]; r.Image != image || r.Connections.Served != 50 || !strings.Contains(stderr, "debian layout") {
		t.Errorf("image %q served %d; stderr:\n%s", r.Image, r.Connections.Served, stderr)
	}
	code, _, stderr = run(t, append(args, "--image", dockertest.Image, "--json", out+".base")...)
	if code != exitSetup || !strings.Contains(stderr, "line 1 of testdata/xsendfile-tree/mods-enabled/xsendfile.load") || !strings.Contains(stderr, "mod_xsendfile.so") {
		t.Errorf("base image: exit %d, stderr:\n%s\nwant 2 naming mods-enabled/xsendfile.load line 1", code, stderr)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

// TestTreeCertificateRefused stops a tree whose certificate does not match
// its key, or has only one half of its pair, before any container starts.
func TestTreeCertificateRefused(t *testing.T) {
	certA, _, _ := apache.SelfSigned([]string{"shop.example"}, apache.TLSKeyECDSA)
	_, keyB, _ := apache.SelfSigned([]string{"shop.example"}, apache.TLSKeyECDSA)
	for name, pair := range map[string][2][]byte{"mismatch": {certA, keyB}, "no key": {certA, nil}} {
		tree := t.TempDir()
		if err := os.CopyFS(tree, os.DirFS("../../scenarios/trees/official-shop")); err != nil {
			t.Fatal(err)
		}
		for i, p := range []string{"conf/server.crt", "conf/server.key"} {
			if pair[i] != nil {
				if err := os.WriteFile(filepath.Join(tree, p), pair[i], 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		code, _, stderr := run(t, "run", "--config-dir", "shop="+tree, "--tls", "-c", "10")
		want := map[string]string{"mismatch": "certificate " + tree + "/conf/server.crt and key " + tree + "/conf/server.key do not match",
			"no key": "the key " + tree + "/conf/server.key is missing while its certificate " + tree + "/conf/server.crt is there"}[name]
		if code != exitSetup || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 and %q", name, code, stderr, want)
		}
	}
}

// debianSSLTree is a copy of this host's own /etc/apache2, as Debian's
// apache2 package installs it, with mod_ssl and the default-ssl site
// enabled (a2enmod ssl; a2ensite default-ssl): its snakeoil certificate
// and key are outside the tree, in /etc/ssl.
func debianSSLTree(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/etc/apache2/sites-available/default-ssl.conf"); err != nil {
		t.Fatalf("Debian's apache2 package tree is needed (make httpd): %v", err)
	}
	tree := filepath.Join(t.TempDir(), "apache2")
	if err := os.CopyFS(tree, os.DirFS("/etc/apache2")); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{
		"mods-enabled/ssl.load": "../mods-available/ssl.load", "mods-enabled/ssl.conf": "../mods-available/ssl.conf",
		"mods-enabled/socache_shmcb.load": "../mods-available/socache_shmcb.load", "sites-enabled/default-ssl.conf": "../sites-available/default-ssl.conf",
	} {
		_ = os.Remove(filepath.Join(tree, link))
		if err := os.Symlink(to, filepath.Join(tree, link)); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// TestTreeOutsideFiles: Debian's own tree with default-ssl, over TLS, as
// `run --config-dir prod=/etc/apache2 --tls` runs it, in a container and
// natively (--provider local). The snakeoil certificate and key it names
// in /etc/ssl are brought in and listed; that certificate is for this
// host's name, not the 127.0.0.1 the load asks for, so the run stops
// before any load saying so and what to do. With --insecure it loads the
// host's pair; with --no-host-keys the key is not copied, a generated
// pair runs (with a key of the host key's kind), said so, and the run
// passes.
func TestTreeOutsideFiles(t *testing.T) {
	dockertest.Require(t)
	dockertest.RequireHTTPD(t)
	tree := debianSSLTree(t)
	for _, prov := range []string{"docker", "local"} {
		out := filepath.Join(t.TempDir(), "r.json")
		args := []string{"run", "--provider", prov, "--config-dir", "prod=" + tree, "--tls", "-c", "100", "--ramp", "1s", "--warmup", "3s", "-d", "3s", "--json", out}
		code, _, stderr := run(t, args...)
		if code != exitSetup || !strings.Contains(stderr, "cannot be verified for 127.0.0.1") || !strings.Contains(stderr, "--no-host-keys") {
			t.Errorf("%s: the host's snakeoil certificate for 127.0.0.1: exit %d, want %d naming --insecure and --no-host-keys\nstderr:\n%s", prov, code, exitSetup, stderr)
		}
		code, stdout, stderr := run(t, append(args, "--insecure")...)
		if code != exitPass {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", prov, code, stdout, stderr)
		}
		r := readResult(t, out).Runs[0]
		adj := strings.Join(r.Adjustments, "\n")
		if r.TLS == nil || r.TLS.Handshakes < 100 || r.Connections.Served != 100 ||
			!strings.Contains(adj, "brought in /etc/ssl/private/ssl-cert-snakeoil.key") || !strings.Contains(adj, "brought in /etc/ssl/certs/ssl-cert-snakeoil.pem") {
			t.Errorf("%s: served %d, TLS %+v, adjustments:\n%s", prov, r.Connections.Served, r.TLS, adj)
		}
		if r.Server == nil || r.Server.AccessLogLines["access.log"] < r.Requests.OK {
			t.Errorf("%s: access log lines %v for %d answers", prov, r.Server, r.Requests.OK)
		}
		code, _, stderr = run(t, append(args, "--no-host-keys")...)
		r = readResult(t, out).Runs[0]
		adj = strings.Join(r.Adjustments, "\n")
		if code != exitPass || strings.Contains(adj, "ssl-cert-snakeoil.key, named outside") || !strings.Contains(adj, "warning: certificate /etc/ssl/certs/ssl-cert-snakeoil.pem") ||
			(apache.KeyKind(readFile(t, "/etc/ssl/private/ssl-cert-snakeoil.key")) == apache.TLSKeyRSA && !strings.Contains(adj, "(rsa2048, as the host's key)")) {
			t.Errorf("%s: --no-host-keys: exit %d, adjustments:\n%s\nstderr:\n%s", prov, code, adj, stderr)
		}
	}
}

// readFile is path's text; the test fails when it cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
