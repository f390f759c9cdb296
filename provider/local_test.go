package provider

import (
	"context"
	cryptotls "crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/observe"
)

// TestLocalStartServeStop starts httpd natively, reads the page and
// mod_status through what the Endpoint says, and checks that Stop leaves
// no process, cgroup or folder behind.
func TestLocalStartServeStop(t *testing.T) {
	dockertest.RequireHTTPD(t)
	ctx := context.Background()
	for _, name := range []string{"prefork-stock", "event-stock"} {
		cfg, err := apache.Preset(name, 50)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Local{}.Start(ctx, cfg, StartOptions{RunID: "test", Connections: 50})
		if srv != nil {
			t.Cleanup(func() { srv.Stop() })
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ep := srv.Endpoint()
		resp, err := http.Get(ep.URL)
		if err != nil {
			t.Fatalf("%s: GET %s: %v", name, ep.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok\n" {
			t.Errorf("%s: GET / = %d %q, want 200 \"ok\\n\"", name, resp.StatusCode, body)
		}
		st, err := observe.FetchStatus(ctx, http.DefaultClient, ep.Sources.StatusURL)
		if err != nil {
			t.Fatalf("%s: status: %v", name, err)
		}
		if want := strings.TrimSuffix(name, "-stock"); st.ServerMPM != want || !strings.HasPrefix(ep.Version, "Apache/2.4") {
			t.Errorf("%s: MPM %q version %q, want %q and Apache/2.4", name, st.ServerMPM, ep.Version, want)
		}
		if ep.Nofile != 1074 || ep.Sources.ErrorLog == nil || ep.Sources.Netstat == "" {
			t.Errorf("%s: endpoint %+v: want nofile 1074, an error log and kernel counters", name, ep)
		}
		// The cgroup holds httpd's processes: memory above zero.
		if ep.Sources.Cgroup == nil {
			t.Errorf("%s: no cgroup: %v", name, ep.Sources.CgroupErr)
		} else if s, err := ep.Sources.Cgroup.Read(); err != nil || s.MemoryBytes <= 0 {
			t.Errorf("%s: cgroup reading %+v, %v: want memory above 0", name, s, err)
		}
		ls := srv.(*localServer)
		pgid, dir := ls.cmd.Process.Pid, ls.dir
		if err := srv.Stop(); err != nil {
			t.Errorf("%s: stop: %v", name, err)
		}
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: httpd's process group %d still exists after Stop (kill 0: %v)", name, pgid, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: %s still exists after Stop", name, dir)
		}
		if ep.Sources.Cgroup != nil {
			for _, f := range ep.Sources.Cgroup.ProcsFiles() {
				if _, err := os.Stat(filepath.Dir(f)); !os.IsNotExist(err) {
					t.Errorf("%s: cgroup %s still exists after Stop", name, filepath.Dir(f))
				}
			}
		}
	}
}

// A config httpd rejects stops with Apache's own message, naming the
// user's file.
func TestLocalRejectsBadConfig(t *testing.T) {
	dockertest.RequireHTTPD(t)
	path := filepath.Join(t.TempDir(), "broken.conf")
	text := "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\nNoSuchDirective on\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := apache.UserConfig("mine", path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Local{}.Start(context.Background(), cfg, StartOptions{RunID: "test", Connections: 10})
	if srv != nil {
		defer srv.Stop()
	}
	var ce *apache.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "NoSuchDirective") || ce.File != path {
		t.Fatalf("got %v, want a ConfigError naming %s and quoting NoSuchDirective", err, path)
	}
}

func TestTargetCheck(t *testing.T) {
	html := httpTestServer(t, "<html>not status</html>")
	status := httpTestServer(t, "127.0.0.1\nServerVersion: Apache/2.4.71 (Debian)\nBusyWorkers: 3\nIdleWorkers: 7\n")
	cases := []struct {
		t    Target
		want string // "" for no error
	}{
		{Target{URL: "127.0.0.1:80"}, "want an absolute http:// URL"},
		{Target{URL: "http://127.0.0.1:1/", StatusURL: "ftp://x/"}, "--status-url"},
		{Target{URL: "http://127.0.0.1:1/", StatusURL: html}, "ExtendedStatus On"},
		{Target{URL: "http://127.0.0.1:1/", StatusURL: status}, ""},
		{Target{URL: "https://127.0.0.1:1/"}, ""}, // the generator speaks TLS
		{Target{URL: "https://127.0.0.1:1/", StatusURL: "https://127.0.0.1:1/server-status?auto"}, "--status-url may not be https yet"},
		{Target{URL: "http://no-such-host.invalid/"}, "does not resolve"},
		{Target{URL: "http://192.0.2.1/"}, "--allow-remote"},
		{Target{URL: "http://10.1.2.3:8080/"}, ""},
	}
	for _, c := range cases {
		err := c.t.Check(context.Background())
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: got %v, want %q", c.t, err, c.want)
		}
	}
	srv, err := Target{URL: "http://127.0.0.1:1/", StatusURL: status}.Start(context.Background(), apache.Config{}, StartOptions{})
	if err != nil || srv.Endpoint().Version != "Apache/2.4.71 (Debian)" || srv.Endpoint().Sources.StatusURL != status {
		t.Errorf("got %v, %+v: want the status URL and the version it reports", err, srv)
	}
}

// TestLocalTree runs the shipped Debian-layout shop tree natively: its
// Listen lines on free loopback ports, its DocumentRoot (which this host
// lacks) created with the test page, its vhost answering for
// shop.example, its access log counted; Stop removes the DocumentRoot it
// created. Over TLS, its certificate (neither the tree nor the host has
// it) is generated in the run's folder and the load trusts it.
func TestLocalTree(t *testing.T) {
	dockertest.RequireHTTPD(t)
	ctx := context.Background()
	for _, tls := range []bool{false, true} {
		cfg, err := apache.LoadTree("shop", "../scenarios/trees/debian-shop")
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			cfg.TLS = apache.TLSKeyECDSA
		}
		if _, err := os.Stat("/srv/shop"); err == nil {
			t.Fatal("/srv/shop exists on this host: the test needs a DocumentRoot the host lacks")
		}
		srv, err := Local{}.Start(ctx, cfg, StartOptions{RunID: "test", Connections: 20, Files: []File{{Path: "/p.bin", Size: 10}}})
		if srv != nil {
			t.Cleanup(func() { srv.Stop() })
		}
		if err != nil {
			t.Fatalf("tls %v: %v", tls, err)
		}
		ep := srv.Endpoint()
		adj := strings.Join(ep.Adjustments, "\n")
		if ep.Host != "shop.example" || !strings.Contains(adj, "DocumentRoot /srv/shop/public did not exist on this host: created") || !strings.Contains(adj, "Listen 80 → Listen 127.0.0.1:") {
			t.Errorf("tls %v: host %q, adjustments:\n%s", tls, ep.Host, adj)
		}
		client := http.DefaultClient
		if tls {
			roots := x509.NewCertPool()
			if !strings.HasPrefix(ep.URL, "https://") || !roots.AppendCertsFromPEM(ep.TLSRoots) || !strings.Contains(adj, "warning: certificate /etc/ssl/shop/shop.example.crt for shop.example") {
				t.Fatalf("URL %s, %d bytes of roots, adjustments:\n%s", ep.URL, len(ep.TLSRoots), adj)
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &cryptotls.Config{RootCAs: roots, ServerName: "shop.example"}}}
		}
		for _, p := range []string{"", "p.bin"} {
			req, _ := http.NewRequest("GET", ep.URL+p, nil)
			req.Host = "shop.example"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("tls %v: GET %s: %v", tls, ep.URL+p, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := map[string]string{"": "ok\n", "p.bin": "xxxxxxxxxx"}[p]; resp.StatusCode != 200 || string(body) != want {
				t.Errorf("tls %v: GET /%s = %d %q, want 200 %q", tls, p, resp.StatusCode, body, want)
			}
		}
		if st, err := observe.FetchStatus(ctx, observe.StatusClient, ep.Sources.StatusURL); err != nil || st.ServerMPM != "event" {
			t.Errorf("tls %v: status %+v, %v", tls, st, err)
		}
		logs, err := ep.Sources.AccessLogs(ctx)
		if n := logs[map[bool]string{false: "shop-access.log", true: "shop-ssl-access.log"}[tls]]; err != nil || n < 2 {
			t.Errorf("tls %v: access logs %v, %v: want the shop's with 2 lines or more", tls, logs, err)
		}
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if _, err := os.Stat("/srv/shop"); !os.IsNotExist(err) {
			t.Errorf("tls %v: /srv/shop is still there after Stop (%v)", tls, err)
		}
	}
}

// TestSearchable: as root, a --docroot whose folders keep others out is
// refused before httpd starts (its workers run as daemon: every request
// would be a 403); one others may enter is taken.
func TestSearchable(t *testing.T) {
	closed := filepath.Join(t.TempDir(), "site") // t.TempDir's parent is 0700
	if err := os.Mkdir(closed, 0o755); err != nil {
		t.Fatal(err)
	}
	err := searchable(closed, "daemon")
	if os.Geteuid() != 0 {
		if err != nil {
			t.Errorf("not root: the workers run as this user, want no refusal: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "chmod o+rx") || !strings.Contains(err.Error(), "run as daemon") {
		t.Errorf("a folder under a 0700 one: %v, want a refusal naming chmod o+rx", err)
	}
	if err := searchable("/usr/share", "daemon"); err != nil {
		t.Errorf("/usr/share: %v", err)
	}
}
