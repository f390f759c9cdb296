package loadcheck

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/backend"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/scenarios"
)

// statusInterval is how often mod_status is read during a load.
const statusInterval = time.Second

// ready is one config's server, started and ready for load: what the one
// start sequence (start) gives runs, repeats, capacity probes and stepped
// runs alike.
type ready struct {
	cfg     apache.Config     // as started: with the backend's proxy, if any
	ep      provider.Endpoint // where the server is, and what it exposes
	load    scenarios.Load    // the load as sent: asking for the server's vhost
	be      *backend.Server   // the workload's backend, or nil
	session *observe.Session  // the observers, reading what ep exposes
	srv     provider.Server   // the server started
	stop    func()            // stops the server and the backend; the caller stops session
}

// start is the one start sequence of a config: the workload's backend, the
// server for l.Connections connections, the load's vhost and TLS check
// against it, and the observers on what it exposes. What the run needs to
// know on the way is logged under label. On an error, nothing is left
// running.
func (s *settings) start(ctx context.Context, sc scenarios.Scenario, cfg apache.Config, runID, label string) (*ready, error) {
	d := s.desc
	switch {
	case d.Image != "":
		s.logf("%s starting httpd (%s, %s layout)", label, d.Image, d.Layout)
	case d.Name == "local":
		s.logf("%s starting httpd on this host (%s layout)", label, d.Layout)
	}
	for _, fd := range cfg.Check(sc.Load.Connections) {
		s.logf("%s %s", label, fd)
	}
	r := &ready{stop: func() {}}
	be, cfg, err := startBackend(sc.Workload.Backend, cfg)
	if err != nil {
		return nil, err
	}
	if be != nil {
		r.be, r.stop = be, func() { be.Close() }
		s.logf("%s backend for %s at %s: %s per answer, %d bytes", label, sc.Workload.Backend.Path, be.URL(), sc.Workload.Backend.Latency, sc.Workload.Backend.Size)
	}
	o := provider.StartOptions{RunID: runID, Connections: sc.Load.Connections, DocRoot: sc.Workload.DocRoot}
	if d := o.DocRoot; d != "" {
		s.logf("%s serving %s read-only as its DocumentRoot, instead of the test page (--docroot)", label, d)
	}
	if len(s.placement.Server) > 0 {
		o.CPUSet = s.placement.Server.String()
	}
	for _, f := range sc.Workload.Files {
		o.Files = append(o.Files, provider.File{Path: f.Path, Size: int64(f.Size)})
	}
	srv, err := s.provider.Start(ctx, cfg, o)
	if srv != nil {
		closeBackend := r.stop
		r.stop = func() {
			if err := srv.Stop(); err != nil {
				s.logf("%s stop the server: %v (run `loadcheck clean`)", label, err)
			}
			closeBackend()
		}
	}
	if err != nil {
		r.stop()
		return nil, err
	}
	r.cfg, r.ep, r.srv = cfg, srv.Endpoint(), srv
	if r.load, err = s.loadFor(ctx, r.ep, scenarios.LoadFor(sc.Load, cfg), label); err != nil {
		r.stop()
		return nil, err
	}
	r.load.ServerKeepAlive = cfg.KeepAliveTimeout()
	if ka, rate := r.load.ServerKeepAlive, r.load.RatePerConn; ka > 0 && rate > 0 && time.Duration(float64(time.Second)/rate) >= ka {
		s.logf("%s a connection's requests come every %s, not sooner than its KeepAliveTimeout (%s): httpd closes them while idle, and loadcheck opens each again for its next request, as a browser does; counted as idle reopens, not as failures",
			label, time.Duration(float64(time.Second)/rate), ka)
	}
	if r.ep.Sources.CgroupErr != nil {
		s.logf("%s httpd's memory and CPU unavailable: %v", label, r.ep.Sources.CgroupErr)
	}
	r.ep.Sources.Threads = r.load.HTTP2() // mod_http2's workers are threads of httpd's children
	r.session = observe.Start(ctx, r.ep.Sources, statusInterval)
	return r, nil
}

// loadFor logs what was changed to run a config tree, and returns l
// asking for the vhost the server wants (its Host header), if any. An
// https:// server's certificate is verified for that name first, and a
// --target's offer of h2 for an h2 load (see bench.CheckTLS).
func (s *settings) loadFor(ctx context.Context, ep provider.Endpoint, l scenarios.Load, label string) (scenarios.Load, error) {
	for _, a := range ep.Adjustments {
		s.logf("%s adjusted: %s", label, a)
	}
	if ep.Host != "" {
		s.logf("%s the load asks for vhost %s (Host header)", label, ep.Host)
		l.Headers = append(append([]string(nil), l.Headers...), "Host: "+ep.Host)
	}
	err := bench.CheckTLS(ctx, ep.URL, l, ep.TLSRoots, ep.External)
	if err != nil && strings.Contains(strings.Join(ep.Adjustments, "\n"), "brought in") {
		err = fmt.Errorf("%w; or --no-host-keys, to run on a generated certificate instead of the host's the tree names", err)
	}
	return l, err
}

// startBackend starts the workload's backend, if it has one, and returns
// cfg proxying its path to it.
func startBackend(w scenarios.Backend, cfg apache.Config) (*backend.Server, apache.Config, error) {
	if !w.Set() {
		return nil, cfg, nil
	}
	lat, err := backend.ParseLatency(w.Latency)
	if err != nil {
		return nil, cfg, err
	}
	be, err := backend.Start(lat, int(w.Size))
	if err != nil {
		return nil, cfg, fmt.Errorf("start the backend: %w", err)
	}
	cfg.Proxy = append(append([]apache.Proxy(nil), cfg.Proxy...), apache.Proxy{Path: w.Path, URL: be.URL()})
	return be, cfg, nil
}
