package containers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/internal/dockertest"
	"github.com/loadcheck/loadcheck/scenarios"
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
		cfg, _ := scenarios.Preset(name, 100)
		srv, err := Start(ctx, Options{Image: dockertest.Image, Layout: info.Layout, Config: cfg, RunID: "test", Connections: 100})
		t.Cleanup(func() {
			if err := srv.Terminate(); err != nil {
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
		st, err := FetchStatus(ctx, http.DefaultClient, srv.StatusURL)
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
	cfg, _ := scenarios.Preset("event-stock", 10)
	cfg.Directives = append(cfg.Directives, scenarios.Directive{Name: "NoSuchDirective", Value: "1"})
	srv, err := Start(ctx, Options{Image: dockertest.Image, Layout: Debian, Config: cfg, RunID: "test", Connections: 10})
	defer srv.Terminate()
	var cerr *ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("got %v, want a ConfigError", err)
	}
	if !strings.Contains(cerr.Message, "NoSuchDirective") {
		t.Errorf("got message %q, want Apache's line naming NoSuchDirective", cerr.Message)
	}
}

func TestCleanRemovesLabelled(t *testing.T) {
	dockertest.Require(t)
	ctx := context.Background()
	cfg, _ := scenarios.Preset("worker-stock", 10)
	srv, err := Start(ctx, Options{Image: dockertest.Image, Layout: Debian, Config: cfg, RunID: "test-clean", Connections: 10})
	if err != nil {
		srv.Terminate()
		t.Fatal(err)
	}
	// Simulate a crash: the container is left running, then Clean runs.
	removed, err := Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) == 0 {
		t.Fatal("Clean removed nothing")
	}
	if left := dockertest.Leftovers(t); len(left) != 0 {
		t.Errorf("containers left after Clean: %v", left)
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
