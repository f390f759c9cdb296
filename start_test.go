package loadcheck

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/scenarios"
)

// recordingProvider records the config it was asked to start, and starts
// nothing: Start fails with err, or gives a server at url.
type recordingProvider struct {
	started *apache.Config
	err     error
	url     string
	host    string
	stopped *bool
}

func (p recordingProvider) Describe() provider.Description { return provider.Description{Name: "test"} }

func (p recordingProvider) Start(_ context.Context, cfg apache.Config, _ provider.StartOptions) (provider.Server, error) {
	*p.started = cfg
	if p.err != nil {
		return nil, p.err
	}
	return fakeServer{ep: provider.Endpoint{URL: p.url, Host: p.host}, stopped: p.stopped}, nil
}

type fakeServer struct {
	ep      provider.Endpoint
	stopped *bool
}

func (s fakeServer) Endpoint() provider.Endpoint { return s.ep }
func (s fakeServer) Stop() error                 { *s.stopped = true; return nil }

// The one start sequence: a workload's backend starts before the server,
// the config the provider gets proxies to it, the load asks for the
// server's vhost, and stop stops the server and then the backend. When
// the provider fails, nothing is left running: the backend is closed.
func TestStart(t *testing.T) {
	sc := scenarios.Scenario{Load: scenarios.DefaultLoad(), Workload: scenarios.Workload{Backend: scenarios.Backend{Path: "/app", Latency: "1ms"}}}
	sc.Load.Connections = 10
	cfg := apache.Config{Name: "c", MPM: "event"}
	var got apache.Config
	var stopped bool
	s := newSettings([]Option{WithProvider(recordingProvider{started: &got, url: "http://127.0.0.1:1/", host: "shop.example", stopped: &stopped})})
	s.desc = s.provider.Describe()
	r, err := s.start(context.Background(), sc, cfg, "run", "[1/1 c]")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Proxy) != 1 || got.Proxy[0].Path != "/app" || r.be == nil || got.Proxy[0].URL != r.be.URL() {
		t.Fatalf("the provider got proxies %+v, want /app to the backend", got.Proxy)
	}
	if !strings.Contains(strings.Join(r.load.Headers, "\n"), "Host: shop.example") || len(sc.Load.Headers) != 0 {
		t.Errorf("load headers %v (the scenario's: %v): want the vhost's Host header on the load only", r.load.Headers, sc.Load.Headers)
	}
	backendURL := r.be.URL()
	if resp, err := http.Get(backendURL + "/app"); err != nil {
		t.Fatalf("the backend does not answer while the server runs: %v", err)
	} else {
		resp.Body.Close()
	}
	r.session.Stop()
	r.stop()
	if !stopped {
		t.Error("stop did not stop the server")
	}
	if resp, err := (&http.Client{Timeout: time.Second}).Get(backendURL + "/app"); err == nil {
		resp.Body.Close()
		t.Error("the backend still answers after stop")
	}

	// The provider fails: the error comes back and the backend is closed.
	s = newSettings([]Option{WithProvider(recordingProvider{started: &got, err: errors.New("no engine"), stopped: &stopped})})
	s.desc = s.provider.Describe()
	if _, err := s.start(context.Background(), sc, cfg, "run", "[1/1 c]"); err == nil || err.Error() != "no engine" {
		t.Fatalf("start: %v, want the provider's error", err)
	}
	if resp, err := (&http.Client{Timeout: time.Second}).Get(got.Proxy[0].URL + "/app"); err == nil {
		resp.Body.Close()
		t.Error("the backend still answers after the provider failed")
	}
}
