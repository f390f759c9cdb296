// Package provider puts every httpd loadcheck measures behind one small
// interface: start a config, say where to load it and what can be observed,
// stop it. The Docker provider lives in package containers; this package
// holds the interface and the two providers that need no engine: Target, a
// server that is already running, and Local, httpd started natively on
// this host.
//
// Providers import neither the generator (bench) nor the result model
// (results): they start servers and say what they expose, nothing more.
package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/observe"
)

// Provider starts one server per config.
type Provider interface {
	// Describe says what this provider runs; it is recorded in the result.
	Describe() Description
	// Start starts (or, for a running server, attaches to) the server for
	// cfg. On error the returned Server, when not nil, must still be
	// stopped.
	Start(ctx context.Context, cfg apache.Config, o StartOptions) (Server, error)
}

// Cleaner is a Provider that can remove whatever a run left behind (a
// container whose removal was cut short): the safety net after a run.
type Cleaner interface {
	CleanRun(ctx context.Context, runID string) (removed []string, err error)
}

// The providers of this package.
var (
	_ Provider = Local{}
	_ Provider = Target{}
)

// Description names a provider and, for images, the image and its layout.
type Description struct {
	Name    string // "docker", "target", "local"
	Image   string // docker only
	ImageID string
	Layout  string // "official" or "debian"; "" for a target
	Target  string // a target's URL and the addresses it resolved to
	// EngineVersion is the Docker engine's version (docker only; "" when
	// unknown), part of a result's environment fingerprint.
	EngineVersion string
	// ImageWhy says why the image was chosen when the run named none.
	ImageWhy string
}

// StartOptions is what every provider needs to start a config.
type StartOptions struct {
	RunID string
	// Connections is the load's target; descriptor limits are sized to it.
	Connections int
	// Files are served beside the test page (a workload's page sizes).
	Files []File
	// DocRoot is a folder of this host served, read-only, as every
	// DocumentRoot instead of the test page ("": the test page).
	DocRoot string
	// CPUSet is the CPUs the server may run on, as a CPU list ("1",
	// "2-3"), apart from the generator's; "" for every CPU. A running
	// server (Target) is where it is.
	CPUSet string
}

// Switcher is a server loadcheck started that can take another config
// while it runs, as production does on a deploy (loadcheck rollout).
type Switcher interface {
	// Prepare renders cfg as this server runs its config (same listener,
	// same paths) beside the running one and checks it with httpd -t,
	// before any load: a config httpd rejects is an *apache.ConfigError.
	Prepare(ctx context.Context, cfg apache.Config) error
	// Switch puts the prepared config in place of the running one and
	// signals httpd: SwitchGraceful (apachectl -k graceful, SIGUSR1),
	// SwitchRestart (-k restart, SIGHUP), or SwitchStopStart
	// (-k graceful-stop, SIGWINCH, and once httpd has exited a new start:
	// the same container, or a new process here).
	Switch(ctx context.Context, how string) error
}

// How a Switcher switches.
const (
	SwitchGraceful  = "graceful"
	SwitchRestart   = "restart"
	SwitchStopStart = "stop-start"
)

// StopStartGrace bounds a graceful stop's wait for requests in flight
// (SwitchStopStart) before httpd is killed.
const StopStartGrace = 30 * time.Second

// SwitchSignal is the signal httpd takes for how.
func SwitchSignal(how string) (string, error) {
	switch how {
	case SwitchGraceful:
		return "USR1", nil
	case SwitchRestart:
		return "HUP", nil
	case SwitchStopStart:
		return "WINCH", nil
	}
	return "", fmt.Errorf("unknown switch %q: use graceful (apachectl -k graceful), restart (-k restart) or stop-start (-k graceful-stop, then a start)", how)
}

// File is a file of Size bytes the server serves at Path.
type File struct {
	Path string
	Size int64
}

// Server is a running server.
type Server interface {
	// Endpoint says where to send the load and what observers can read.
	Endpoint() Endpoint
	// Stop stops the server and releases what Start took. It is safe to
	// call after ctx was cancelled, and on a server that failed to start.
	Stop() error
}

// Endpoint is a running server as the generator, the observers and the
// report see it.
type Endpoint struct {
	URL string // base URL for the load, "http://127.0.0.1:PORT/"
	// Sources are what the observers read; empty fields turn them off.
	Sources observe.Sources
	// What the server is, for the result: httpd's version line, the
	// httpd.conf it runs, its nofile limit.
	Version string
	Conf    string
	Nofile  int
	// Adjustments are what was changed to run a config tree here; Host is
	// the Host header the load sends to reach the vhost asked for.
	Adjustments []string
	Host        string
	// TLSRoots are the certificates (PEM) loadcheck made for the server:
	// an https:// load trusts them, and no others unless --insecure.
	TLSRoots []byte
	// OOMKilled reports whether httpd itself was killed for memory, as
	// the engine saw it; nil when nothing can tell.
	OOMKilled func(ctx context.Context) bool
	// Exited reports whether httpd has exited, when, and how (exit status,
	// signal); nil when nothing can tell (a server loadcheck did not start).
	Exited func(ctx context.Context) Exit
	// External marks a server loadcheck did not start (--target): an h2
	// load checks by ALPN that it offers h2 before any load
	// (bench.CheckTLS).
	External bool
}

// Exit is how a server ended.
type Exit struct {
	Exited bool
	At     time.Time
	How    string // "exit status 1", "signal: killed", "OOM-killed"
	OOM    bool   // killed for memory: a result of the config, not a fault
}
