package containers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/provider"
)

func TestStartServesAndStatus(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	info, err := InspectImage(ctx, dockertest.Image, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Layout.Name != "debian" || info.ID == "" {
		t.Fatalf("got layout %q id %q, want debian and an ID", info.Layout.Name, info.ID)
	}
	for _, name := range []string{"event-stock", "prefork-stock"} {
		cfg, _ := apache.Preset(name, 100)
		srv, err := Run(ctx, dockertest.Image, WithLayout(info.Layout), WithConfig(cfg), WithRunID("test"), WithConnections(100))
		t.Cleanup(func() {
			if err := srv.Stop(); err != nil {
				t.Errorf("terminate: %v", err)
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
			t.Errorf("%s: got URL %s, want loopback (host network)", name, srv.URL)
		}
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatalf("%s: GET %s: %v", name, srv.URL, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: GET / = %d, want 200", name, resp.StatusCode)
		}
		st, err := observe.FetchStatus(ctx, http.DefaultClient, srv.StatusURL)
		if err != nil {
			t.Fatalf("%s: status: %v", name, err)
		}
		if want := strings.TrimSuffix(name, "-stock"); st.ServerMPM != want {
			t.Errorf("%s: mod_status says MPM %q, want %q", name, st.ServerMPM, want)
		}
		if srv.Nofile != 1124 {
			t.Errorf("%s: nofile %d, want 100+1024", name, srv.Nofile)
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	dockertest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, _ := apache.Preset("event-stock", 10)
	cfg.Directives = append(cfg.Directives, apache.Directive{Name: "NoSuchDirective", Value: "1"})
	srv, err := Run(ctx, dockertest.Image, WithLayout(apache.Debian), WithConfig(cfg), WithRunID("test"), WithConnections(10))
	defer srv.Stop()
	var cerr *apache.ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("got %v, want a ConfigError", err)
	}
	if !strings.Contains(cerr.Message, "NoSuchDirective") {
		t.Errorf("got message %q, want Apache's line naming NoSuchDirective", cerr.Message)
	}
}

// Clean leaves the containers of a run that is still alive, and removes
// those whose loadcheck process is gone (crashed, or SIGKILLed); --all
// removes both.
func TestCleanRemovesLabelled(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	cfg, _ := apache.Preset("worker-stock", 10)
	// A run that is gone: its owner was a process that has exited.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead, err := Run(ctx, dockertest.Image, WithLayout(apache.Debian), WithConfig(cfg), WithRunID("test-clean-dead"), WithConnections(10),
		func(o *Options) { o.ownerPID = gone.Process.Pid })
	if err != nil {
		dead.Stop()
		t.Fatal(err)
	}
	live, err := Run(ctx, dockertest.Image, WithLayout(apache.Debian), WithConfig(cfg), WithRunID("test-clean-live"), WithConnections(10))
	t.Cleanup(func() { live.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	removed, err := Clean(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || !strings.HasPrefix(dead.GetContainerID(), removed[0]) {
		t.Errorf("Clean removed %v, want only the dead run's %.12s", removed, dead.GetContainerID())
	}
	if left := dockertest.Leftovers(t); len(left) != 1 || !strings.HasPrefix(live.GetContainerID(), left[0]) {
		t.Errorf("left %v, want the live run's container %.12s", left, live.GetContainerID())
	}
	if removed, err := Clean(ctx, true); err != nil || len(removed) != 1 {
		t.Errorf("Clean --all removed %v (%v), want the live run's container", removed, err)
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left after Clean --all: %v", left)
	}
}

func TestInspectMissingImage(t *testing.T) {
	dockertest.Require(t)
	_, err := InspectImage(context.Background(), "loadcheck/no-such-image:1", "")
	var miss *ImageMissingError
	if !errors.As(err, &miss) {
		t.Fatalf("got %v, want ImageMissingError", err)
	}
}

// TestOfficialLayout runs the official image's layout. httpd:2.4 cannot be
// pulled here, so the test builds a stand-in from the Debian image that puts
// httpd and its modules where the official image has them
// (/usr/local/apache2/bin/httpd, /usr/local/apache2/modules) and sets
// HTTPD_PREFIX as the official image does, with no layout label.
func TestOfficialLayout(t *testing.T) {
	dockertest.Require(t)
	const image = "loadcheck/official-layout:test"
	dockerfile := "FROM " + dockertest.Image + "\n" +
		"LABEL org.loadcheck.layout=\n" +
		"RUN mkdir -p /usr/local/apache2/bin && cp /usr/sbin/apache2 /usr/local/apache2/bin/httpd && " +
		"cp -r /usr/lib/apache2/modules /usr/local/apache2/modules && rm /usr/sbin/apache2 && rm -r /usr/lib/apache2/modules\n" +
		"ENV HTTPD_PREFIX=/usr/local/apache2\n"
	build := exec.Command("docker", "build", "-q", "-t", image, "-")
	build.Stdin = strings.NewReader(dockerfile)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	ctx := context.Background()
	info, err := InspectImage(ctx, image, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Layout.Name != "official" {
		t.Fatalf("got layout %q, want official (from HTTPD_PREFIX)", info.Layout.Name)
	}
	cfg, _ := apache.Preset("event-tuned", 100)
	srv, err := Run(ctx, image, WithLayout(info.Layout), WithConfig(cfg), WithRunID("test"), WithConnections(100))
	t.Cleanup(func() { srv.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.ConfText, "/usr/local/apache2/modules/mod_mpm_event.so") {
		t.Errorf("config does not use the official module path:\n%s", srv.ConfText)
	}
	st, err := observe.FetchStatus(ctx, http.DefaultClient, srv.StatusURL)
	if err != nil || st.ServerMPM != "event" {
		t.Fatalf("status: %+v, %v; want the event MPM answering", st, err)
	}
}

// TestOfficialImage runs the official-layout image built from Debian's
// packages (make image): the layout and Debian's built-in modules come
// from its labels, a preset loads its modules from
// /usr/local/apache2/modules, and the official-layout tree runs over TLS
// on its own SSL vhost with its LoadModule of a built-in commented out.
func TestOfficialImage(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	info, err := InspectImage(ctx, OfficialImage, "")
	if err != nil {
		t.Fatalf("%v (make image builds it)", err)
	}
	if info.Layout.Name != "official" || !slices.Contains(info.Layout.BuiltIn, "log_config") || !strings.Contains(info.Version, "Apache/2.4") {
		t.Fatalf("layout %+v version %q: want official with Debian's built-ins and httpd's version", info.Layout, info.Version)
	}
	cfg, _ := apache.Preset("worker-tuned", 50)
	srv, err := Run(ctx, OfficialImage, WithLayout(info.Layout), WithConfig(cfg), WithRunID("test"), WithConnections(50))
	t.Cleanup(func() { srv.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.ConfText, "/usr/local/apache2/modules/mod_mpm_worker.so") {
		t.Errorf("the preset does not load from the official module path:\n%s", srv.ConfText)
	}
	if st, err := observe.FetchStatus(ctx, http.DefaultClient, srv.StatusURL); err != nil || st.ServerMPM != "worker" {
		t.Errorf("status: %+v, %v; want worker answering", st, err)
	}
	tree, err := apache.LoadTree("shop", "../scenarios/trees/official-shop")
	if err != nil {
		t.Fatal(err)
	}
	tree.TLS = apache.TLSKeyECDSA
	ts, err := Run(ctx, OfficialImage, WithLayout(info.Layout), WithConfig(tree), WithRunID("test"), WithConnections(10))
	t.Cleanup(func() { ts.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ts.Adjustments, "\n"), "# loadcheck: built into this image's httpd: LoadModule log_config_module") {
		t.Errorf("adjustments %q: want the built-in mod_log_config commented out", ts.Adjustments)
	}
	if st, err := observe.FetchStatus(ctx, observe.StatusClient, ts.StatusURL); err != nil || st.ServerMPM != "event" {
		t.Errorf("the tree's status: %+v, %v", st, err)
	}
}

// TestConfigTree runs whole config trees, Debian's and the official
// layout, in the Debian image: each answers on the ports chosen here, the
// vhost asked for by its Host header serves its own page, and what was
// changed is listed.
func TestConfigTree(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	get := func(url, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s (Host %s): %v", url, host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, dir, mpm, host string
		other, otherPage     string // another vhost and what it serves
	}{
		{"shop", "../scenarios/trees/debian-shop", "event", "shop.example", "", "Apache2 Debian Default Page"},
		{"blog", "../apache/testdata/official-tree", "worker", "blog.example", "shop.example", "ok\n"},
	} {
		cfg, err := apache.LoadTree(tc.name, tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Run(ctx, dockertest.Image, WithLayout(apache.Debian), WithConfig(cfg), WithRunID("test"), WithConnections(50))
		t.Cleanup(func() { srv.Stop() })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if srv.VHost != tc.host {
			t.Errorf("%s: vhost %q, want %q", tc.name, srv.VHost, tc.host)
		}
		if code, body := get(srv.URL, tc.host); code != 200 || body != "ok\n" {
			t.Errorf("%s: GET / Host %s = %d %q, want 200 and the created page", tc.name, tc.host, code, body)
		}
		if code, body := get(srv.URL, tc.other); code != 200 || !strings.Contains(body, tc.otherPage) {
			t.Errorf("%s: GET / Host %q = %d %.80q, want 200 with %q", tc.name, tc.other, code, body, tc.otherPage)
		}
		st, err := observe.FetchStatus(ctx, http.DefaultClient, srv.StatusURL)
		if err != nil || st.ServerMPM != tc.mpm {
			t.Errorf("%s: mod_status: MPM %q, %v; want %s", tc.name, st.ServerMPM, err, tc.mpm)
		}
		adj := strings.Join(srv.Adjustments, "\n")
		for _, want := range []string{"Listen 80 → Listen 127.0.0.1:", "did not exist in the image: created on tmpfs"} {
			if !strings.Contains(adj, want) {
				t.Errorf("%s: adjustments lack %q:\n%s", tc.name, want, adj)
			}
		}
		srv.Stop()
	}
}

// TestConfigTreeTLS serves both shipped shop trees on their own SSL vhost:
// the certificate neither the tree nor the image has is generated (and
// said so), the load's URL is the vhost's port, and a client that trusts
// only what loadcheck generated gets the shop's page for shop.example.
func TestConfigTreeTLS(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	for _, tc := range []struct{ dir, cert, log string }{
		{"../scenarios/trees/debian-shop", "/etc/ssl/shop/shop.example.crt", "shop-ssl-access.log"},
		{"../scenarios/trees/official-shop", apache.TreeRoot + "/conf/server.crt", "ssl_request_log"},
	} {
		cfg, err := apache.LoadTree("shop", tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = apache.TLSKeyECDSA
		srv, err := Run(ctx, dockertest.Image, WithLayout(apache.Debian), WithConfig(cfg), WithRunID("test"), WithConnections(50),
			WithServedFiles(provider.File{Path: "/files/p.bin", Size: 1000}))
		t.Cleanup(func() { srv.Stop() })
		if err != nil {
			t.Fatalf("%s: %v", tc.dir, err)
		}
		if !strings.HasPrefix(srv.URL, "https://") || srv.VHost != "shop.example" {
			t.Errorf("%s: URL %s, vhost %q: want https:// and shop.example", tc.dir, srv.URL, srv.VHost)
		}
		adj := strings.Join(srv.Adjustments, "\n")
		if !strings.Contains(adj, "warning: certificate "+tc.cert+" for shop.example, www.shop.example, localhost, 127.0.0.1") {
			t.Errorf("%s: adjustments do not warn of the generated certificate %s:\n%s", tc.dir, tc.cert, adj)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(srv.TLSRoots)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "shop.example"}}}
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Host = "shop.example"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: GET %s as shop.example, trusting the generated certificate: %v", tc.dir, srv.URL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok\n" || resp.TLS == nil {
			t.Errorf("%s: GET = %d %q, want 200 and the shop's created page over TLS", tc.dir, resp.StatusCode, body)
		}
		if st, err := observe.FetchStatus(ctx, observe.StatusClient, srv.StatusURL); err != nil || st.ServerMPM != "event" {
			t.Errorf("%s: mod_status over TLS: %+v, %v", tc.dir, st, err)
		}
		// The served file is in the shop's created DocumentRoot too.
		req, _ = http.NewRequest("GET", srv.URL+"files/p.bin", nil)
		req.Host = "shop.example"
		if resp, err := client.Do(req); err != nil {
			t.Errorf("%s: GET /files/p.bin: %v", tc.dir, err)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(body) != 1000 {
				t.Errorf("%s: GET /files/p.bin = %d, %d bytes; want 200 and 1000", tc.dir, resp.StatusCode, len(body))
			}
		}
		if lines, err := srv.Endpoint().Sources.AccessLogs(ctx); err != nil || lines[tc.log] != 2 {
			t.Errorf("%s: access logs %v (%v): want the two GETs in %s", tc.dir, lines, err, tc.log)
		}
		srv.Stop()
	}
}

// TestPHPPresetsNeedPHP: on an image without PHP each PHP preset stops
// before httpd serves, saying what the image lacks; on loadcheck's image
// both serve the PHP page, and php-fpm's status page answers through httpd.
func TestPHPPresetsNeedPHP(t *testing.T) {
	dockertest.Require(t)
	const image = "loadcheck/no-php:test"
	build := exec.Command("docker", "build", "-q", "-t", image, "-")
	build.Stdin = strings.NewReader("FROM " + dockertest.Image + "\nRUN rm -f /usr/lib/apache2/modules/libphp8.2.so /usr/sbin/php-fpm8.2\n")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	ctx := context.Background()
	for _, c := range []struct{ preset, want string }{
		{"prefork-modphp", "the image has no mod_php (/usr/lib/apache2/modules/libphp8.2.so)"},
		{"event-phpfpm", "the image has no php-fpm"},
	} {
		cfg, _ := apache.Preset(c.preset, 50)
		srv, err := Run(ctx, image, WithConfig(cfg), WithRunID("test"), WithConnections(50))
		if srv != nil {
			srv.Stop()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on an image without PHP: error %v, want %q", c.preset, err, c.want)
		}
		srv, err = Run(ctx, dockertest.Image, WithConfig(cfg), WithRunID("test"), WithConnections(50))
		if err != nil {
			t.Fatalf("%s: %v", c.preset, err)
		}
		resp, err := http.Get(strings.TrimSuffix(srv.URL, "/") + apache.PHPPage + "?wait_ms=1")
		if err != nil {
			t.Fatalf("%s: GET the PHP page: %v", c.preset, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok\n" {
			t.Errorf("%s: the PHP page answered %d %q, want 200 \"ok\\n\" (PHP ran it)", c.preset, resp.StatusCode, body)
		}
		if cfg.PHP.Mode == apache.PHPFPM {
			if srv.FPMStatusURL == "" {
				t.Errorf("%s: no php-fpm status URL", c.preset)
			} else if r, err := http.Get(srv.FPMStatusURL); err != nil {
				t.Errorf("%s: php-fpm status: %v", c.preset, err)
			} else {
				st, err := observe.ParseFPMStatus(r.Body)
				r.Body.Close()
				if err != nil || st.TotalProcesses != 20 || st.AcceptedConn < 1 {
					t.Errorf("%s: php-fpm status %+v, %v; want the pool's 20 start servers and the page's request", c.preset, st, err)
				}
			}
		}
		srv.Stop()
	}
}

// TestImageFor: with no image named, the configs decide, never what
// happens to be in the engine: presets and Debian-layout trees get the
// Debian image; official-layout trees get httpd:2.4 when the engine has
// it, else the official layout built from Debian's packages, said so;
// trees of both layouts in one run are refused until --image names one.
func TestImageFor(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	preset, _ := apache.Preset("event-stock", 100)
	deb, err := apache.LoadTree("deb", "../scenarios/trees/debian-shop")
	if err != nil {
		t.Fatal(err)
	}
	off, err := apache.LoadTree("off", "../scenarios/trees/official-shop")
	if err != nil {
		t.Fatal(err)
	}
	_, official := InspectImage(ctx, DefaultImage, "")
	for _, tc := range []struct {
		name    string
		configs []apache.Config
		image   string
		why     string
	}{
		{"presets", []apache.Config{preset}, DebianImage, "presets run on"},
		{"a Debian tree", []apache.Config{preset, deb}, DebianImage, "Debian-layout trees [deb]"},
		{"an official tree", []apache.Config{off}, map[bool]string{true: OfficialImage, false: DefaultImage}[official != nil],
			map[bool]string{true: "the official layout built from Debian's packages (httpd:2.4 is not in the engine), for the official-layout trees [off]", false: "the official image"}[official != nil]},
	} {
		image, why, err := ImageFor(ctx, tc.configs)
		if err != nil || image != tc.image || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %s (%q), %v; want %s (%q)", tc.name, image, why, err, tc.image, tc.why)
		}
	}
	if _, _, err := ImageFor(ctx, []apache.Config{deb, off}); err == nil || !strings.Contains(err.Error(), "give --image") {
		t.Errorf("both layouts: %v, want a refusal naming --image", err)
	}
	p, err := NewProvider(ctx, "", "", []apache.Config{preset})
	if err != nil || p.Describe().Image != DebianImage || p.Describe().ImageWhy == "" {
		t.Errorf("NewProvider with no image: %+v, %v", p, err)
	}
}

// TestCPUSet: httpd runs on the CPUs it was given: the container's cpuset
// says so, and so does the kernel for httpd's own process.
func TestCPUSet(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	cfg, _ := apache.Preset("event-stock", 10)
	srv, err := Run(ctx, dockertest.Image, WithConfig(cfg), WithRunID("test"), WithConnections(10), WithCPUSet("0"))
	t.Cleanup(func() { srv.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command("docker", "inspect", "--format", "{{.HostConfig.CpusetCpus}}", srv.GetContainerID()).Output()
	if err != nil || strings.TrimSpace(string(got)) != "0" {
		t.Errorf("container cpuset %q (%v), want 0", got, err)
	}
	out, err := exec.Command("docker", "exec", srv.GetContainerID(), "sh", "-c", "grep Cpus_allowed_list /proc/1/status").Output()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "\t0") {
		t.Errorf("httpd's CPUs: %q (%v), want 0", out, err)
	}
}
