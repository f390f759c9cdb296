package apache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadTreeDebian reads the shipped Debian tree: the MPM from the
// mods-enabled link the tree itself includes, the shop vhost from
// sites-enabled, and its Listen lines with the TLS one told apart.
func TestLoadTreeDebian(t *testing.T) {
	cfg, err := LoadTree("shop", "../scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Tree
	if tr.Layout != "debian" || tr.Main != "apache2.conf" || cfg.MPM != "event" {
		t.Errorf("layout %s, main %s, MPM %s: want debian, apache2.conf, event", tr.Layout, tr.Main, cfg.MPM)
	}
	// mpm_event.conf, reached through mods-enabled/*.conf, sets these.
	if v, _ := cfg.Get("MaxRequestWorkers"); v != "150" {
		t.Errorf("MaxRequestWorkers %q, want 150 from mods-enabled/mpm_event.conf", v)
	}
	if got := tr.DefaultHost(); got != "shop.example" {
		t.Errorf("default host %q, want shop.example (000-default has no ServerName)", got)
	}
	if !tr.HasVhost("www.shop.example") || tr.HasVhost("blog.example") {
		t.Error("HasVhost: want the alias www.shop.example and not blog.example")
	}
	var ports []string
	for _, l := range tr.Listens() {
		ports = append(ports, l.Port+map[bool]string{true: "/tls", false: ""}[l.TLS])
	}
	if got := strings.Join(ports, " "); got != "80 443/tls 443/tls" {
		t.Errorf("Listen ports %q, want 80 443/tls 443/tls", got)
	}
	if got := strings.Join(tr.DocumentRoots(), " "); got != "/var/www/html /srv/shop/public" {
		t.Errorf("DocumentRoots %q", got)
	}
}

// TestRenderTree moves the ports, vhost addresses and logs, keeps every
// file's line count (httpd's messages name the user's lines), and puts
// --set after the tree.
func TestRenderTree(t *testing.T) {
	cfg, err := LoadTree("shop", "../scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tree.Set = []Directive{{"MaxRequestWorkers", "400"}}
	r := RenderTree(cfg, Debian, map[string]string{"80": "127.0.0.1:40080", "443": "127.0.0.1:40443"}, ContainerPaths)
	shop := r.Files[TreeRoot+"/sites-enabled/shop.conf"]
	for _, want := range []string{"<VirtualHost *:40080>", "ErrorLog /proc/self/fd/2", "CustomLog " + LogDir + "/shop-access.log combined"} {
		if !strings.Contains(shop, want) {
			t.Errorf("shop.conf lacks %q:\n%s", want, shop)
		}
	}
	if ports := r.Files[TreeRoot+"/ports.conf"]; !strings.Contains(ports, "Listen 127.0.0.1:40080\n") || !strings.Contains(ports, "Listen 127.0.0.1:40443\n") {
		t.Errorf("ports.conf:\n%s", ports)
	}
	for f, text := range cfg.Tree.Files {
		got := r.Files[TreeRoot+"/"+f]
		if f != cfg.Tree.Main && strings.Count(got, "\n") != strings.Count(text, "\n") {
			t.Errorf("%s: %d lines, was %d", f, strings.Count(got, "\n"), strings.Count(text, "\n"))
		}
	}
	main := r.Files[r.Conf]
	if i, j := strings.Index(main, "IncludeOptional sites-enabled/*.conf"), strings.LastIndex(main, "MaxRequestWorkers 400"); i < 0 || j < i {
		t.Errorf("--set must come after the tree's includes:\n%s", main[max(0, len(main)-800):])
	}
	var shopAdj bool
	for _, a := range r.Adjustments {
		shopAdj = shopAdj || strings.HasPrefix(a, "sites-enabled/shop.conf:6: <VirtualHost *:80> → <VirtualHost *:40080>")
	}
	if !shopAdj {
		t.Errorf("adjustments do not name shop.conf's vhost line: %q", r.Adjustments)
	}
}

// TestLoadTreeOfficial reads an official-layout tree: conf/httpd.conf,
// the MPM directives of its own MPM only (httpd-mpm.conf sets all three).
func TestLoadTreeOfficial(t *testing.T) {
	cfg, err := LoadTree("blog", "testdata/official-tree")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tree.Layout != "official" || cfg.Tree.Main != "conf/httpd.conf" || cfg.MPM != "worker" {
		t.Errorf("layout %s, main %s, MPM %s", cfg.Tree.Layout, cfg.Tree.Main, cfg.MPM)
	}
	if v, _ := cfg.Get("MaxRequestWorkers"); v != "400" {
		t.Errorf("MaxRequestWorkers %q, want the worker block's 400", v)
	}
	r := RenderTree(cfg, Debian, map[string]string{"80": "127.0.0.1:40080"}, ContainerPaths)
	main := r.Files[r.Conf]
	// Debian's binary has mod_log_config built in; the official one loads it.
	if !strings.Contains(main, "# loadcheck: built into this image's httpd: LoadModule log_config_module modules/mod_log_config.so") {
		t.Errorf("on Debian's image the LoadModule of log_config must be commented out:\n%s", main[:600])
	}
	if off := RenderTree(cfg, Official, map[string]string{"80": "127.0.0.1:40080"}, ContainerPaths); strings.Contains(off.Files[off.Conf], "built into") {
		t.Error("on the official image nothing the tree loads is built in")
	}
	for _, want := range []string{`ServerRoot "/loadcheck/tree"`, "ErrorLog /proc/self/fd/2", `CustomLog "/loadcheck-logs/access_log" common`} {
		if !strings.Contains(main, want) {
			t.Errorf("httpd.conf lacks %q", want)
		}
	}
}

// TestLoadTreeBadInput: each refusal names the path and what to do.
func TestLoadTreeBadInput(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "site.conf"), []byte("Listen 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(empty, "site.conf")
	for _, tc := range []struct{ dir, want string }{
		{empty, "no top-level config file: expected apache2.conf"},
		{file, "not a directory"},
		{filepath.Join(empty, "nope"), "no such file"},
	} {
		_, err := LoadTree("x", tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.dir) {
			t.Errorf("LoadTree(%s): %v, want an error naming it and %q", tc.dir, err, tc.want)
		}
	}
}
