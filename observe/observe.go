// Package observe reads what any httpd exposes while it is loaded, wherever
// it runs: mod_status (busy and idle workers, processes, connections,
// scoreboard, Total Accesses), the kernel's listen-queue counters and the
// listening socket's accept queue, the memory and CPU of a cgroup, and the
// AH codes and event MPM lines of the error log. A provider says which of
// these its server exposes (Sources); Start and Stop bracket one load.
//
// It imports no other package of loadcheck's, so that every provider can
// use it.
package observe

import (
	"context"
	"errors"
	"time"
)

// NetstatPath is where Linux keeps the kernel's TCP counters of the
// current network namespace.
const NetstatPath = "/proc/net/netstat"

// Sources says what a server exposes to the observers. An empty field
// turns its observer off.
type Sources struct {
	// StatusURL is mod_status's machine-readable page (…/server-status?auto).
	StatusURL string
	// FPMStatusURL is php-fpm's status page (?json), for a server that
	// runs PHP in a php-fpm pool.
	FPMStatusURL string
	// Cgroup holds httpd's processes and no others: memory, CPU, OOM kills.
	Cgroup *Cgroup
	// CgroupErr says why Cgroup is nil when the server has one.
	CgroupErr error
	// NetTCP is a /proc/PID/net/tcp file in httpd's network namespace and
	// Port the port it listens on there: the accept queue.
	NetTCP string
	Port   int
	// Netstat is the /proc/net/netstat whose listen counters cover httpd's
	// socket, and KernelScope says which sockets else they count.
	Netstat     string
	KernelScope string
	// ErrorLog returns httpd's error log so far.
	ErrorLog func(ctx context.Context) (string, error)
	// AccessLogs counts the lines of each access log a config tree
	// writes, by file name; nil when there are none to read.
	AccessLogs func(ctx context.Context) (map[string]int64, error)
	// Threads asks for each httpd process's threads to be counted (see
	// ServerStats.PeakThreads): set for an HTTP/2 load, whose mod_http2
	// workers are threads there.
	Threads bool
}

// Session observes one load: it reads the kernel counters and starts the
// mod_status sampler in Start, and takes the last readings in Stop.
type Session struct {
	src     Sources
	before  ListenCounters
	errKern error
	sampler *Sampler
	fpm     *fpmSampler
	stop    context.CancelFunc
}

// Report is everything a session saw.
type Report struct {
	// Stats is mod_status and cgroup figures; Stats.Samples is 0 when the
	// server has no status URL.
	Stats ServerStats
	// Started is when the sampler started: the T of Stats.Points counts
	// from it.
	Started time.Time
	// Kernel is the change of the listen counters over the session, nil
	// when they could not be read (KernelErr says why).
	Kernel      *ListenCounters
	KernelScope string
	KernelErr   error
	// FPM is php-fpm's pool over the session; nil without FPMStatusURL.
	FPM *FPMStats
}

// Start begins observing src, sampling mod_status every interval. The
// sampler's first reading is taken before Start returns.
func Start(ctx context.Context, src Sources, interval time.Duration) *Session {
	s := &Session{src: src}
	if src.Netstat != "" {
		s.before, s.errKern = ReadListenCounters(src.Netstat)
	}
	sctx, cancel := context.WithCancel(ctx)
	s.stop = cancel
	if src.StatusURL != "" {
		s.sampler = StartSampler(sctx, src.StatusURL, interval, Probe{Cgroup: src.Cgroup, NetTCP: src.NetTCP, Port: src.Port, Threads: src.Threads && src.Cgroup != nil})
	}
	if src.FPMStatusURL != "" {
		s.fpm = startFPMSampler(sctx, src.FPMStatusURL, interval)
	}
	return s
}

// Latest is the server's last mod_status reading while the session runs;
// false when there is none (no status URL, or no answer yet).
func (s *Session) Latest() (Point, bool) {
	if s.sampler == nil {
		return Point{}, false
	}
	return s.sampler.Latest()
}

// Stop ends the session and returns what it saw.
func (s *Session) Stop() Report {
	s.stop()
	r := Report{Stats: emptyStats()}
	if s.sampler != nil {
		r.Stats, r.Started = s.sampler.Wait(), s.sampler.start
	}
	if s.fpm != nil {
		f := s.fpm.wait()
		r.FPM = &f
	}
	if s.src.Netstat == "" {
		return r
	}
	after, err := ReadListenCounters(s.src.Netstat)
	if err = errors.Join(s.errKern, err); err != nil {
		r.KernelErr = err
		return r
	}
	d := after.Sub(s.before)
	r.Kernel, r.KernelScope = &d, s.src.KernelScope
	return r
}
