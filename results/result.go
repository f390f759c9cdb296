// Package results is loadcheck's result model (the JSON schema), the
// verdict against thresholds, and the renderers.
package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/scenarios"
)

// Schema names the JSON format written by this version.
const Schema = "loadcheck.result/v1"

// Verdicts.
const (
	Pass  = "pass"
	Fail  = "fail"
	Error = "error" // the config could not be measured (setup failed)
	// Flaky is the verdict of a config run several times that passed some
	// repeats and failed others: not a pass.
	Flaky = "flaky"
	// Inconclusive is the verdict of a config whose generator, not the
	// server, was at its limit (GeneratorUse.Limits): the test box was
	// measured, not the config.
	Inconclusive = "inconclusive"
)

// GeneratorUse is how hard the generator itself worked in the measured
// window, so that a result can say when the test box, not the config,
// was the limit.
type GeneratorUse struct {
	// CPUs is how much CPU the generator's processes could use, in CPUs
	// (their affinity, or a cgroup quota: bench.CPULimit); 0 for a fleet
	// on other hosts, whose CPU is not summed here.
	CPUs float64 `json:"cpus,omitempty"`
	// BusyPct is the generator's CPU time in the window against those
	// CPUs; PeakBusyPct the busiest second's.
	BusyPct     float64 `json:"busy_pct"`
	PeakBusyPct float64 `json:"peak_busy_pct"`
	// LateSends counts the window's requests the generator sent more than
	// a tenth of their interval after they were due (requests.late_sends),
	// LateSendsPct of the requests sent; SendLateMaxMS is the latest it
	// reached a due request in the window.
	LateSends     int64   `json:"late_sends"`
	LateSendsPct  float64 `json:"late_sends_pct"`
	SendLateMaxMS float64 `json:"send_late_max_ms"`
}

// The generator is at its limit, and the verdict inconclusive, beyond
// these.
const (
	GeneratorBusyLimitPct = 90 // its CPUs busy over the window
	LateSendsLimitPct     = 1  // requests sent late, of those sent
	// LateSendsMin is the fewest late sends that count: in a small run
	// one hiccup of the test box is past 1% of 40 requests, and says
	// nothing of the generator's limit.
	LateSendsMin = 5
)

// lateLimited reports whether g sent too many requests late.
func (g *GeneratorUse) lateLimited() bool {
	return g.LateSendsPct > LateSendsLimitPct && g.LateSends >= LateSendsMin
}

// generatorUse is r's generator use over its measured window.
func generatorUse(r *bench.Result) *GeneratorUse {
	g := &GeneratorUse{LateSends: r.LateSends}
	if r.Sent > 0 {
		g.LateSendsPct = math.Round(float64(r.LateSends)/float64(r.Sent)*100*100) / 100
	}
	if r.Fleet == "" {
		g.CPUs = r.CPUs
	}
	var cpuMS int64
	var prevT float64
	for _, p := range r.Series {
		d := p.T - prevT
		prevT = p.T
		if p.Phase != bench.PhaseMeasure {
			continue
		}
		cpuMS += p.CPUMS
		g.SendLateMaxMS = max(g.SendLateMaxMS, float64(p.SendLateUS)/1000)
		if g.CPUs > 0 && d > 0 {
			g.PeakBusyPct = max(g.PeakBusyPct, math.Round(float64(p.CPUMS)/(d*1000*g.CPUs)*100*10)/10)
		}
	}
	if g.CPUs > 0 && r.Measured > 0 {
		g.BusyPct = math.Round(float64(cpuMS)/(r.Measured.Seconds()*1000*g.CPUs)*100*10) / 10
	}
	return g
}

// CPUCount says n CPUs in words: "1 CPU", "2 CPUs", "0.5 CPUs".
func CPUCount(n float64) string {
	if n == 1 {
		return "1 CPU"
	}
	return strconv.FormatFloat(n, 'g', -1, 64) + " CPUs"
}

// Limits says how the generator was at its limit, one line each with
// what to do; none when it was not.
func (g *GeneratorUse) Limits() []string {
	if g == nil {
		return nil
	}
	var out []string
	if g.CPUs > 0 && g.BusyPct >= GeneratorBusyLimitPct {
		out = append(out, fmt.Sprintf("generator-limited: its %s were %.0f%% busy over the window (limit %d%%); give it more CPUs, apart from the server's, fewer connections per process, shards, or a fleet", CPUCount(g.CPUs), g.BusyPct, GeneratorBusyLimitPct))
	}
	if g.lateLimited() {
		out = append(out, fmt.Sprintf("generator-limited: it sent %d requests (%.2f%%) more than a tenth of their interval late, the latest %.0f ms (limit %d%%): the server got less load than asked; give it more CPUs, apart from the server's, fewer connections per process, shards, or a fleet", g.LateSends, g.LateSendsPct, g.SendLateMaxMS, LateSendsLimitPct))
	}
	return out
}

// File is one run of a scenario: every config's result plus the spec that
// produced them.
type File struct {
	Header
	// Target is the server loaded when loadcheck started none (--target):
	// its URL and the addresses it resolved to.
	Target string `json:"target,omitempty"`
	Runs   []Run  `json:"runs"`
}

// Header is what every stored file of a run begins with, result.json and
// capacity.json alike: its schema, the run, when it started, whether it
// finished, what was asked (the effective scenario: the file's with the
// flags applied, and the file it came from) and where it ran.
type Header struct {
	Schema       string             `json:"schema"`
	RunID        string             `json:"run_id"`
	StartedAt    time.Time          `json:"started_at"`
	Complete     bool               `json:"complete"`
	Scenario     scenarios.Scenario `json:"scenario"`
	ScenarioFile string             `json:"scenario_file,omitempty"`
	Environment  Environment        `json:"environment"`
}

// Environment records where the run happened.
type Environment struct {
	LoadcheckVersion string `json:"loadcheck_version"`
	GoVersion        string `json:"go_version"`
	OS               string `json:"os"`
	CPUs             int    `json:"cpus"`
	Hostname         string `json:"hostname"`
	// CPUModel, Kernel and DockerVersion complete the fingerprint that
	// compare checks: a change between two runs can be the machine's.
	CPUModel      string `json:"cpu_model,omitempty"`
	Kernel        string `json:"kernel,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
	// CI names the CI job that made the run ("GitHub Actions run 123 of
	// owner/repo, attempt 1"), "" for a run outside CI: only a CI run can
	// become a nightly baseline (loadcheck baseline promote).
	CI string `json:"ci,omitempty"`
	// HostLimits are the host's limits that fell short of the run before
	// it began (package preflight), each with its fix: drops they cause
	// are the host's, not the server's.
	HostLimits []string `json:"host_limits,omitempty"`
	// ServerCPUs and GeneratorCPUs are the CPUs each side ran on when
	// they were apart (CPU lists, "1", "0"); "" when they shared them.
	ServerCPUs    string `json:"server_cpus,omitempty"`
	GeneratorCPUs string `json:"generator_cpus,omitempty"`
}

// ArrivalCheck is a config that did not pass, run once more with its
// connections arriving more slowly.
type ArrivalCheck struct {
	PerS    float64 `json:"per_s"`  // connections per second
	RampS   float64 `json:"ramp_s"` // over this ramp
	Verdict string  `json:"verdict"`
	Served  int     `json:"served"`
	Target  int     `json:"target"`
	Why     string  `json:"why,omitempty"` // its first broken threshold, when it failed
	Error   string  `json:"error,omitempty"`
}

// ArrivalNote says whether r's verdict depends on how fast connections
// arrive; "" when it was not checked.
func (r Run) ArrivalNote() string {
	a := r.Arrival
	switch {
	case a == nil:
		return ""
	case a.Error != "":
		return fmt.Sprintf("the arrival check (connections arriving at %.0f/s) could not run: %s", a.PerS, a.Error)
	case a.Verdict == Pass:
		return fmt.Sprintf("arriving at %.0f/s instead of %.0f/s, every connection was served (%d of %d, PASS): this verdict depends on how fast connections arrive; judge it at the arrival production sees after a restart or a failover",
			a.PerS, r.ArrivalPerS, a.Served, a.Target)
	}
	return fmt.Sprintf("arriving at %.0f/s instead of %.0f/s, it failed too (%d of %d served%s): the arrival rate is not what fails it",
		a.PerS, r.ArrivalPerS, a.Served, a.Target, map[bool]string{true: "; " + a.Why}[a.Why != ""])
}

// HTTP2 reports whether the run's load spoke HTTP/2 (h2 or h2c).
func (r Run) HTTP2() bool { return r.Protocol != "" && r.Protocol != bench.ProtoHTTP1 }

// Label is the run's config as a table names it: with the protocol when
// the load spoke HTTP/2 ("event-tuned-h2 (h2 x6)").
func (r Run) Label() string {
	if !r.HTTP2() {
		return r.Config
	}
	return fmt.Sprintf("%s (%s x%d)", r.Config, r.Protocol, max(r.Streams, 1))
}

// Run is one config's result.
type Run struct {
	Config  string   `json:"config"`
	MPM     string   `json:"mpm"`
	Verdict string   `json:"verdict"`
	Reasons []string `json:"reasons,omitempty"` // what failed, one line per broken threshold
	// Diagnosis says in one line why a config that did not pass failed,
	// from what the server side saw (Diagnose).
	Diagnosis string `json:"diagnosis,omitempty"`
	// ArrivalPerS is how fast the connections arrived over the ramp
	// (connections per second); Arrival is the config run once more with
	// them arriving four times more slowly, when it did not pass and the
	// run asked (--arrival-check): whether the verdict depends on it.
	ArrivalPerS float64       `json:"arrival_per_s,omitempty"`
	Arrival     *ArrivalCheck `json:"arrival_check,omitempty"`
	// ConfigWarnings are limits found in the config before the run, such
	// as a MaxRequestWorkers below the connection target.
	ConfigWarnings []string    `json:"config_warnings,omitempty"`
	Connections    Connections `json:"connections"`
	Requests       Requests    `json:"requests"`
	LatencyMS      Latency     `json:"latency_ms"`
	// ServiceTimeMS is the same responses timed from when each request was
	// really written, not when it was due: uncorrected for coordinated
	// omission, as wrk2 labels it.
	ServiceTimeMS Latency `json:"service_time_ms"`
	ConnectMS     Latency `json:"connect_ms"` // every successful connect
	// TLS is what an https:// load saw of TLS: handshakes (every open and
	// reconnect), resumptions, failures, the version and cipher, and the
	// handshake times.
	TLS *TLS `json:"tls,omitempty"`
	// PathClasses is a request mix's window per path class (the first
	// segment of the path), most requested first: the requests sent and
	// answered, or dropped after they were sent (a connection that could
	// not open counts in the totals only).
	PathClasses []PathClass `json:"path_classes,omitempty"`
	// ClientGroups are the fast and the slow clients apart, when the
	// workload has slow ones (workload.slow_clients): each group's
	// connections and requests as in the totals, and its latency.
	ClientGroups []ClientGroup `json:"client_groups,omitempty"`
	OpenedInS    float64       `json:"opened_in_s,omitempty"` // until the last connection first opened
	// TimeToCapacityS is when, counted from the start of the ramp, every
	// target connection was open and stayed open with no failed request
	// to the end of the measured window; -1 when that never happened.
	TimeToCapacityS float64 `json:"time_to_capacity_s"`
	ThroughputRPS   float64 `json:"throughput_rps"`
	// ReadMBps is the body bytes read in the window (requests.bytes_read)
	// per second, in MB (10^6 bytes).
	ReadMBps float64       `json:"read_mbps,omitempty"`
	Series   []bench.Point `json:"series,omitempty"` // one point per second of the whole run
	Shards   int           `json:"generator_processes,omitempty"`
	// Engine is the generator engine that drove the connections: epoll
	// (event loops) or goroutine (one per connection).
	Engine string `json:"generator_engine,omitempty"`
	// Protocol is what the load spoke when not HTTP/1.1: "h2" (HTTP/2
	// over TLS) or "h2c"; Streams how many requests each connection kept
	// in flight at most.
	Protocol string `json:"protocol,omitempty"`
	Streams  int    `json:"streams,omitempty"`
	// Fleet is where the generator's shards ran when not as processes of
	// this host: "swarm".
	Fleet string `json:"generator_fleet,omitempty"`
	// GeneratorShards is each generator process's share when there were
	// several: its connections, requests and client_late.
	GeneratorShards []bench.ShardSummary `json:"generator_shards,omitempty"`
	// Generator is how hard the generator itself worked in the window.
	Generator *GeneratorUse `json:"generator,omitempty"`
	// Headroom is how much of each limit the config used at its peak;
	// Projection its costs carried onto the production host, when one
	// was described (--prod-cpus, --prod-memory).
	Headroom   *Headroom   `json:"headroom,omitempty"`
	Projection *Projection `json:"projection,omitempty"`
	// Rollout is what switching to another config cost, for a run of
	// loadcheck rollout.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Soak sums up a window of two minutes or more minute by minute
	// (run --soak): drops, reconnects, p99, memory and its growth.
	Soak         *Soak   `json:"soak,omitempty"`
	MeasuredS    float64 `json:"measured_s"`
	Complete     bool    `json:"complete"`
	Server       *Server `json:"server,omitempty"`
	Image        string  `json:"image,omitempty"`
	ImageID      string  `json:"image_id,omitempty"`
	HTTPDVersion string  `json:"httpd_version,omitempty"`
	HTTPDConf    string  `json:"httpd_conf,omitempty"`
	// PHP is how the config ran PHP (mod_php, or php-fpm and its pool).
	PHP *apache.PHP `json:"php,omitempty"`
	// Adjustments are what loadcheck changed to run the config's tree
	// here (ports, logs, created DocumentRoots); Host is the Host header
	// the load sent.
	Adjustments []string `json:"adjustments,omitempty"`
	Host        string   `json:"host,omitempty"`
	Error       string   `json:"error,omitempty"`
	// LoadStartedAt is when the generator started on this config;
	// MeasureStartS is when, counted from then, the measured window began.
	LoadStartedAt time.Time `json:"load_started_at,omitzero"`
	MeasureStartS float64   `json:"measure_start_s,omitempty"`
	// WarmUpS is the warm-up as it ran, and WarmUpEnded why it ended:
	// "fixed", the server settling (auto), or the auto warm-up's cap.
	WarmUpS     float64 `json:"warmup_s,omitempty"`
	WarmUpEnded string  `json:"warmup_ended,omitempty"`
	// Repeat numbers this run among its config's repeats (1-based); 0 for
	// a config run once, and for the config's summary.
	Repeat int `json:"repeat,omitempty"`
	// Repeats holds every repeat's full result when the config ran more
	// than once; the numbers above are then those of the median repeat,
	// and Spread gives each headline metric's median and range.
	Repeats []Run   `json:"repeats,omitempty"`
	Spread  *Spread `json:"spread,omitempty"`
	// Hist is the latency histogram in microseconds; it is stored beside
	// result.json as CONFIG.hlog, not inside it.
	Hist *hdrhistogram.Histogram `json:"-"`
}

// The generator's own accounting, stored as it is.
type (
	// Connections holds Target == Served + PartlyServed + Starved.
	Connections = bench.Connections
	// Requests holds Sent == OK + Dropped + InFlight.
	Requests = bench.Requests
)

// Latency is in milliseconds from each request's intended send time, over
// OK responses only.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Backend is what a workload's backend saw (loadcheck's, on loopback,
// behind httpd's mod_proxy_http): its requests, how many it held at once,
// and the waits it drew from its latency distribution.
type Backend struct {
	Path            string  `json:"path"`
	Latency         string  `json:"latency"`
	Requests        int64   `json:"requests"`
	PeakConcurrency int64   `json:"peak_concurrency"`
	WaitMS          Latency `json:"wait_ms"`
}

// Server is what httpd itself reported through mod_status during the run.
type Server struct {
	StatusSamples     int   `json:"status_samples"`
	StatusFailed      int   `json:"status_failed"` // status requests not answered in time
	PeakBusyWorkers   int   `json:"peak_busy_workers"`
	PeakProcesses     int   `json:"peak_processes"`
	PeakConnsTotal    int   `json:"peak_conns_total"` // event MPM only; -1 elsewhere
	AccessesDuringRun int64 `json:"accesses_during_run"`
	// AccessLogLines counts the lines of each access log of a config tree
	// at the end of the run, by file name: which vhost answered (its own
	// log), status reads included where they reached it.
	AccessLogLines map[string]int64 `json:"access_log_lines,omitempty"`
	// Protocols counts httpd's worker slots by the protocol of the last
	// request each served (mod_status's Protocol column: http/1.1, h2,
	// h2c), read once after an HTTP/2 load: what httpd itself saw the
	// load speak. The status reads show as a few http/1.1 slots.
	Protocols map[string]int `json:"protocols,omitempty"`
	// Backend is the workload's backend, when it had one.
	Backend *Backend `json:"backend,omitempty"`
	// PHPFPM is what php-fpm's status page showed, for a config that
	// runs PHP in a php-fpm pool.
	PHPFPM          *FPMStats `json:"php_fpm,omitempty"`
	Nofile          int       `json:"nofile"`
	StatusLastError string    `json:"status_last_error,omitempty"`
	// Series is mod_status once a second: T counts from the start of the
	// load's schedule, like the client's series (the first reading, taken
	// just before, is slightly negative).
	Series []ServerPoint `json:"series,omitempty"`
	// Kernel is the change of the kernel's listen-queue counters over the
	// run. With host networking they count the whole host, not just httpd.
	Kernel      *ListenCounters `json:"kernel,omitempty"`
	KernelScope string          `json:"kernel_scope,omitempty"`
	// ErrorLog counts httpd's message codes (AHnnnnn), most frequent first.
	ErrorLog []LogCode `json:"error_log,omitempty"`
	// BusyShutdowns counts the moments the event MPM closed a process's
	// kept-alive connections because every worker of that process was busy
	// (or the process was stopping), and BusyClosed the connections it
	// closed then: its trace1 line "All workers are busy or dying, will
	// shutdown N keep-alive connections". The client sees them as
	// closed_by_server.
	BusyShutdowns int `json:"busy_shutdowns,omitempty"`
	BusyClosed    int `json:"busy_closed,omitempty"`
	// FullRefusals counts the times an event process got a new connection
	// while at its connection limit (ThreadsPerChild +
	// AsyncRequestWorkerFactor x its idle workers): it stops accepting and
	// treats its workers as busy, which is one cause of the shutdowns
	// above ("Too many open connections", mpm_event debug).
	FullRefusals int `json:"full_refusals,omitempty"`
	// SpareStops counts the processes event's parent stopped because the
	// processes still accepting connections had more idle threads than
	// MaxSpareThreads (SpareIdleThreads: the most it counted then); each
	// closes every kept-alive connection it holds as it stops ("Shutting
	// down one child", mpm_event trace5).
	SpareStops       int `json:"spare_stops,omitempty"`
	SpareIdleThreads int `json:"spare_idle_threads,omitempty"`
	// From the container's cgroup. MemoryPerConnKB is the growth from the
	// first reading (before any load) to the last, per connection held.
	MemoryStartMB   float64 `json:"memory_start_mb,omitempty"`
	MemoryEndMB     float64 `json:"memory_end_mb,omitempty"`
	MemoryPeakMB    float64 `json:"memory_peak_mb,omitempty"`
	MemoryPerConnKB float64 `json:"memory_per_conn_kb,omitempty"`
	CPUSeconds      float64 `json:"cpu_seconds,omitempty"`
	MemoryLimitMB   float64 `json:"memory_limit_mb,omitempty"`
	CPULimit        float64 `json:"cpu_limit,omitempty"`
	// OOMKills counts httpd processes the kernel killed for memory; any
	// fails the config as "killed: out of memory".
	OOMKills int64 `json:"oom_kills"`
	// PeakAcceptQueue is the most connections seen waiting in httpd's
	// accept queue (at most its ListenBacklog, 511 by default); -1 unknown.
	PeakAcceptQueue int `json:"peak_accept_queue"`
	// ProcessesEnded counts httpd processes that ended while the load ran:
	// children recycled at MaxConnectionsPerChild, stopped as spare, or
	// an old generation's after a reload. Read from the cgroup's process
	// list every second, so at least this many; -1 unknown.
	ProcessesEnded int `json:"processes_ended"`
	// ThreadsAtStart and PeakThreads, under an HTTP/2 load, are the most
	// threads one httpd process ran before the load and under it, from
	// the cgroup's process list every second; 0 when not read. mod_http2
	// keeps no count of its busy workers that httpd shows (no status
	// hook; its requests have no scoreboard slot): its workers are
	// threads of each child, H2MinWorkers from the start and more under
	// load up to H2MaxWorkers, so the growth is how many it added.
	ThreadsAtStart int `json:"threads_at_start,omitempty"`
	PeakThreads    int `json:"peak_threads,omitempty"`
	// H2MinWorkers and H2MaxWorkers are mod_http2's workers per child
	// that the config asks for (apache.Config.H2Workers), beside the
	// threads above.
	H2MinWorkers int `json:"h2_min_workers,omitempty"`
	H2MaxWorkers int `json:"h2_max_workers,omitempty"`
	// Died says when and how httpd exited during the load (not killed for
	// memory): the config's verdict is then error, and the numbers are
	// what was measured until the end of the load.
	Died string `json:"died,omitempty"`
	// OOMAtStart says why httpd was killed before it was ready; the
	// config was then never loaded.
	OOMAtStart string `json:"oom_at_start,omitempty"`
}

// DescribeH2Workers says what the threads of httpd's busiest process show
// of mod_http2's workers, which httpd counts nowhere else.
func (s *Server) DescribeH2Workers() string {
	line := fmt.Sprintf("threads in the busiest httpd process: %d before the load, up to %d under it", s.ThreadsAtStart, s.PeakThreads)
	if s.H2MaxWorkers <= 0 {
		return line
	}
	line += fmt.Sprintf(" (mod_http2's workers: H2MinWorkers %d a child from the start, up to H2MaxWorkers %d under load; ", s.H2MinWorkers, s.H2MaxWorkers)
	if s.H2WorkersFull() {
		return line + "it reached H2MaxWorkers: a stream that found them all busy waited)"
	}
	return line + fmt.Sprintf("it added %d of the %d it may)", max(s.PeakThreads-s.ThreadsAtStart, 0), s.H2MaxWorkers-s.H2MinWorkers)
}

// H2WorkersFull reports whether mod_http2 started every worker
// H2MaxWorkers allows in a child (see DescribeH2Workers).
func (s *Server) H2WorkersFull() bool {
	return s.H2MaxWorkers > 0 && s.PeakThreads > 0 && s.PeakThreads-s.ThreadsAtStart >= s.H2MaxWorkers-s.H2MinWorkers
}

// The observers' readings, stored in the result as they are.
type (
	// ServerPoint is one mod_status reading (-1: not reported by the MPM).
	ServerPoint = observe.Point
	// ListenCounters are the kernel's ListenOverflows and ListenDrops.
	ListenCounters = observe.ListenCounters
	// LogCode is one Apache message code (AHnnnnn) seen in the error log.
	LogCode = observe.LogCode
	// FPMStats summarizes php-fpm's status pages over one load.
	FPMStats = observe.FPMStats
)

func ms(us int64) float64 { return math.Round(float64(us)/10) / 100 }

// FromBench turns a generator result into a Run, without a verdict.
func FromBench(cfg apache.Config, r *bench.Result) Run {
	h := r.Latency
	run := Run{
		Config:      cfg.Name,
		MPM:         cfg.MPM,
		PHP:         effectivePHP(cfg.PHP),
		Connections: r.Connections,
		Requests:    r.Requests,
		MeasuredS:   r.Measured.Seconds(),
		Complete:    r.Complete,
	}
	run.LatencyMS, run.ServiceTimeMS, run.ConnectMS = latency(h), latency(r.ServiceTime), latency(r.ConnectTime)
	run.OpenedInS = math.Round(r.OpenedIn.Seconds()*1000) / 1000
	if t := r.TLS; t != nil {
		run.TLS = &TLS{Handshakes: t.Handshakes, Resumed: t.Resumed, Failed: t.Failed, Version: t.Version, Cipher: t.Cipher, Group: t.Group, HandshakeMS: latency(t.HandshakeTime)}
	}
	for _, c := range r.Classes {
		pc := PathClass{Class: c.Class, OK: c.OK, Dropped: c.Dropped, LatencyMS: latency(c.Latency)}
		if n := c.OK + c.Dropped; n > 0 {
			pc.DroppedPct = math.Round(float64(c.Dropped)/float64(n)*100*100) / 100
		}
		run.PathClasses = append(run.PathClasses, pc)
	}
	for _, g := range r.Groups {
		run.ClientGroups = append(run.ClientGroups, ClientGroup{Group: g.Group, Connections: g.Connections, Requests: g.Requests, LatencyMS: latency(g.Latency)})
	}
	run.Series, run.Shards, run.Hist, run.GeneratorShards, run.Fleet = r.Series, r.Shards, r.Latency, r.PerShard, r.Fleet
	run.Generator = generatorUse(r)
	run.Engine = r.Engine
	run.TimeToCapacityS = TimeToCapacity(r.Series, r.Target)
	if r.Measured > 0 {
		run.ThroughputRPS = math.Round(float64(r.OK)/r.Measured.Seconds()*10) / 10
		run.ReadMBps = math.Round(float64(r.BytesRead)/r.Measured.Seconds()/1e6*100) / 100
	}
	return run
}

// TimeToCapacity is the end of the first second from which every one of
// target connections stayed open, with no failed request and no reconnect,
// until the measured window ended, or -1.
func TimeToCapacity(series []bench.Point, target int) float64 {
	at := -1.0
	for _, p := range series {
		if p.Phase == bench.PhaseDrain {
			// Only slots due in the window are still running here: their
			// failures (read timeouts of the last slots) surface now. Open
			// connections no longer count: loadcheck closes them.
			if len(p.Errors) > 0 {
				at = -1
			}
			continue
		}
		if p.Open < int64(target) || len(p.Errors) > 0 || p.Reconnects > 0 {
			at = -1
			continue
		}
		if at < 0 {
			at = math.Round(p.T*10) / 10
		}
	}
	return at
}

// Measured reports whether the config was loaded at all: false when its
// setup failed or httpd was killed for memory before it was ready.
func (r Run) Measured() bool {
	return r.Error == "" && (r.Server == nil || r.Server.OOMAtStart == "")
}

// latency summarizes a histogram in microseconds as milliseconds.
func latency(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Max: ms(h.Max()), Mean: ms(int64(h.Mean())),
	}
}

// clientHints explain the error classes that are the generator's own
// limits, never the server's.
var clientHints = []struct{ class, hint string }{
	{"ports_exhausted", "the client ran out of ephemeral ports (EADDRNOTAVAIL); loadcheck spreads loopback targets over source addresses by itself, so raise --source-addrs, or widen net.ipv4.ip_local_port_range"},
	{"client_nofile", "the client ran out of file descriptors (EMFILE); let loadcheck shard (drop --no-shard) or raise the nofile limit"},
	{"client_late", "the generator reached these requests after their timeout; give it more CPU (taskset it away from the server), use fewer connections, or a lower rate"},
}

// Check is one threshold or condition a measured config is judged by; the
// JUnit report shows each as a test case.
type Check struct {
	Name    string // served, dropped, p99, complete, oom, client
	Want    string // what passes, for example ">= 100% served"
	Failed  bool
	Message string // why it failed
}

// Checks judges a measured run against th, one check per condition.
func Checks(run Run, th scenarios.Thresholds) []Check {
	var out []Check
	add := func(name, want string, failed bool, msg string) {
		if !failed {
			msg = ""
		}
		out = append(out, Check{Name: name, Want: want, Failed: failed, Message: msg})
	}
	oom := ""
	if s := run.Server; s != nil && s.OOMKills > 0 {
		limit := ""
		if s.MemoryLimitMB > 0 {
			limit = fmt.Sprintf(" under a %g MB limit", s.MemoryLimitMB)
		}
		oom = fmt.Sprintf("killed: out of memory: the kernel's OOM killer ended %d httpd process(es)%s; the errors below follow from it", s.OOMKills, limit)
	}
	add("oom", "no httpd process killed for memory", oom != "", oom)
	c := run.Connections
	servedPct := 0.0
	if c.Target > 0 {
		servedPct = 100 * float64(c.Served) / float64(c.Target)
	}
	served := fmt.Sprintf("served %d of %d connections (%.1f%%), need %g%%: %d partly served, %d starved",
		c.Served, c.Target, servedPct, th.MinServedPct, c.PartlyServed, c.Starved)
	if c.NotStarted > 0 {
		served += fmt.Sprintf(", %d not started (the run was interrupted)", c.NotStarted)
	}
	add("served", fmt.Sprintf(">= %g%% of connections served", th.MinServedPct), c.Target > 0 && servedPct < th.MinServedPct, served)
	if run.Requests.Sent == 0 {
		add("dropped", fmt.Sprintf("<= %g%% of requests dropped", th.MaxDroppedPct), true, "no request was sent in the measured window")
	} else {
		d := run.Requests.DroppedPct
		add("dropped", fmt.Sprintf("<= %g%% of requests dropped", th.MaxDroppedPct), d > th.MaxDroppedPct,
			fmt.Sprintf("dropped %.3f%% of requests, limit %g%%", d, th.MaxDroppedPct))
	}
	p99, of := run.JudgedP99()
	add("p99", fmt.Sprintf("%sp99 <= %s", of, th.MaxP99), p99 > th.MaxP99, fmt.Sprintf("%sp99 %s, limit %s", of, p99.Round(time.Millisecond), th.MaxP99))
	add("complete", "the measured window ran to its end", !run.Complete, "the run was interrupted before the measured window ended")
	var client []string
	for _, h := range clientHints {
		if n := run.Requests.Errors[h.class]; n > 0 {
			client = append(client, fmt.Sprintf("client-limited: %d %s; %s", n, h.class, h.hint))
		}
	}
	client = append(client, run.Generator.Limits()...)
	add("client", "the generator hit none of its own limits", len(client) > 0, strings.Join(client, "\n"))
	return out
}

// effectivePHP is php with its pool as php-fpm ran it.
func effectivePHP(php *apache.PHP) *apache.PHP {
	if php == nil || php.Mode != apache.PHPFPM {
		return php
	}
	p := *php
	p.Pool = php.Settings()
	return &p
}

// FPMPool is the config's php-fpm pool setting name, if it ran one.
func (r Run) FPMPool(name string) (string, bool) {
	if r.PHP == nil {
		return "", false
	}
	return r.PHP.Get(name)
}

// JudgedP99 is the p99 latency the verdict judges, with what it is of:
// every response's, or, when some clients are slow readers, the fast
// clients' ("fast clients' "), since a slow client's latency is mostly
// its own reading (it is reported in ClientGroups).
func (r Run) JudgedP99() (time.Duration, string) {
	for _, g := range r.ClientGroups {
		if g.Group == "fast" {
			return time.Duration(g.LatencyMS.P99 * float64(time.Millisecond)), "fast clients' "
		}
	}
	return time.Duration(r.LatencyMS.P99 * float64(time.Millisecond)), ""
}

// Judge sets run's verdict and reasons against th.
func Judge(run *Run, th scenarios.Thresholds) {
	switch {
	case run.Error != "":
		run.Verdict, run.Reasons = Error, []string{run.Error}
		return
	case run.Server != nil && run.Server.OOMAtStart != "":
		run.Verdict, run.Reasons = Fail, []string{run.Server.OOMAtStart}
		return
	case run.Server != nil && run.Server.Died != "":
		run.Verdict, run.Reasons = Error, []string{run.Server.Died}
		return
	}
	var reasons, client []string
	for _, c := range Checks(*run, th) {
		switch {
		case c.Failed && c.Name == "client":
			client = strings.Split(c.Message, "\n")
		case c.Failed:
			reasons = append(reasons, strings.Split(c.Message, "\n")...)
		}
	}
	switch {
	case len(client) > 0:
		// The generator was at its limit: what the server did under the
		// load it really got says nothing of the load asked for.
		run.Verdict, run.Reasons = Inconclusive, append(client, reasons...)
	case len(reasons) > 0:
		run.Verdict, run.Reasons = Fail, reasons
	default:
		run.Verdict, run.Reasons = Pass, nil
	}
}

// AllPass reports whether every run passed.
func (f *File) AllPass() bool {
	for _, r := range f.Runs {
		if r.Verdict != Pass {
			return false
		}
	}
	return len(f.Runs) > 0
}

// TopErrors returns up to n error classes of run, largest first.
func TopErrors(errs map[string]int64, n int) []string {
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range errs {
		if v > 0 {
			list = append(list, kv{k, v})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	var out []string
	for i := 0; i < len(list) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s %d", list[i].k, list[i].v))
	}
	return out
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder and a rename, so a reader never sees half a file. The file is
// readable by all (0644), like one written with a shell redirect:
// os.CreateTemp alone would leave reports and CI artifacts owner-only.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteJSON writes f to path atomically.
func (f *File) WriteJSON(path string) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// ClientLimited lists the generator's own limits the run hit, as "N
// class" ("3 client_late"), or "" when it hit none.
func (r Run) ClientLimited() string {
	var parts []string
	for _, h := range clientHints {
		if n := r.Requests.Errors[h.class]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, h.class))
		}
	}
	if g := r.Generator; g != nil && g.CPUs > 0 && g.BusyPct >= GeneratorBusyLimitPct {
		parts = append(parts, fmt.Sprintf("generator CPUs %.0f%% busy", g.BusyPct))
	}
	if g := r.Generator; g != nil && g.lateLimited() {
		parts = append(parts, fmt.Sprintf("%d late sends", g.LateSends))
	}
	return strings.Join(parts, ", ")
}

// DescribeBusyShutdowns says how often event shut down kept-alive
// connections, and why a process does that.
func (s *Server) DescribeBusyShutdowns() string {
	causes := []string{"all its workers are busy"}
	if s.FullRefusals > 0 {
		causes = append([]string{fmt.Sprintf("a connection arrives while it is full (ThreadsPerChild + AsyncRequestWorkerFactor x idle workers; %d times here)", s.FullRefusals)}, causes...)
	}
	why := strings.Join(causes, ", ") + ", or it stops"
	if s.SpareStops > 0 { // the stops first: here they are the cause
		why = fmt.Sprintf("it stops (httpd stopped %d processes here: their idle threads were above MaxSpareThreads, up to %d), or %s",
			s.SpareStops, s.SpareIdleThreads, strings.Join(causes, ", "))
	}
	return fmt.Sprintf("event shut down %d kept-alive connections at %d moments (a process shuts down all of them when %s)",
		s.BusyClosed, s.BusyShutdowns, why)
}

// Num prints a millisecond value or a count the way every report does:
// "-" for zero, two decimals below 10, whole numbers above.
func Num(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// WriteIndented writes v as indented JSON with a final newline.
func WriteIndented(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// Diagnose says in one line why a config did not pass, from what httpd, the
// container and the kernel saw: the server at MaxRequestWorkers or at
// event's connection cap, event shutting down kept-alive connections, the
// accept queue, OOM kills, httpd's own notable log line. run and capacity
// both use it; with nothing seen it repeats the run's reasons.
func Diagnose(run Run, cfg apache.Config, th scenarios.Thresholds) string {
	if s := run.Server; s != nil && s.OOMAtStart != "" {
		return s.OOMAtStart
	}
	var parts []string
	c := run.Connections
	if c.Starved > 0 {
		parts = append(parts, fmt.Sprintf("starved: %d connections", c.Starved))
	}
	if c.PartlyServed > 0 {
		parts = append(parts, fmt.Sprintf("partly served: %d", c.PartlyServed)+closesWithoutDrops(run))
	}
	if top := TopErrors(run.Requests.Errors, 2); len(top) > 0 {
		parts = append(parts, fmt.Sprintf("dropped %.1f%% (%s)", run.Requests.DroppedPct, strings.Join(top, ", ")))
	}
	if s := run.Server; s != nil {
		mrw, _ := cfg.Get("MaxRequestWorkers")
		m, err := strconv.Atoi(mrw)
		logged := false // httpd said it reached MaxRequestWorkers
		for _, l := range s.ErrorLog {
			logged = logged || strings.Contains(l.First, "reached MaxRequestWorkers")
		}
		limit, how := cfg.DirectiveLimit()
		switch {
		case cfg.MPM == "event" && limit > 0 && s.PeakConnsTotal >= 0 && (logged || s.PeakConnsTotal >= limit-limit/20):
			// event's limit is connections, not busy workers: idle
			// kept-alive connections need no worker.
			parts = append(parts, fmt.Sprintf("server at its connection limit (peak %d connections; %s = %d)", s.PeakConnsTotal, how, limit))
		case err == nil && m > 0 && (s.PeakBusyWorkers >= m-1 || logged):
			parts = append(parts, fmt.Sprintf("server at MaxRequestWorkers (peak busy %d of %d)", s.PeakBusyWorkers, m))
		case err == nil && m > 0 && s.PeakBusyWorkers >= 0:
			// Below the directive: the limit is elsewhere (spawn rate, CPU).
			procs := ""
			if s.PeakProcesses > 0 {
				procs = fmt.Sprintf(", %d processes", s.PeakProcesses)
			}
			parts = append(parts, fmt.Sprintf("below MaxRequestWorkers (peak busy %d of %d%s)", s.PeakBusyWorkers, m, procs))
		}
		if s.BusyClosed > 0 {
			parts = append(parts, s.DescribeBusyShutdowns())
		}
		if s.H2WorkersFull() {
			parts = append(parts, fmt.Sprintf("mod_http2 ran every worker it may in a process (H2MaxWorkers %d): streams waited for one", s.H2MaxWorkers))
		}
		if s.SpareStops > 0 {
			// Idle threads count only in processes still accepting, and at a
			// low request rate nearly all their threads are idle: the parent
			// stops one a second, and its connections go with it.
			spare, ok := cfg.Get("MaxSpareThreads")
			if !ok {
				spare = "250 (the default)"
			}
			parts = append(parts, fmt.Sprintf("MaxSpareThreads %s is below the idle threads of a loaded server's processes (up to %d): set it to MaxRequestWorkers (%s) and httpd stops none of them under load",
				spare, s.SpareIdleThreads, mrw))
		}
		if s.OOMKills > 0 {
			parts = append(parts, fmt.Sprintf("out of memory: %d httpd processes killed", s.OOMKills))
		}
		if mcpc, _ := cfg.Get("MaxConnectionsPerChild"); c.Reconnects > 0 && s.ProcessesEnded > 0 && mcpc != "" && mcpc != "0" {
			parts = append(parts, fmt.Sprintf("httpd closed %d connections as %d of its processes ended: a child recycled at MaxConnectionsPerChild %s closes the connections it holds", c.Reconnects, s.ProcessesEnded, mcpc))
		}
		if s.PeakAcceptQueue > 0 {
			parts = append(parts, fmt.Sprintf("accept queue peak %d", s.PeakAcceptQueue))
		}
		for _, l := range s.ErrorLog {
			if l.Notable() {
				msg := l.First
				if i := strings.Index(msg, l.Code+": "); i >= 0 {
					msg = msg[i+len(l.Code)+2:]
				}
				if i := strings.Index(msg, ","); i > 0 {
					msg = msg[:i]
				}
				parts = append(parts, fmt.Sprintf("httpd %s: %s", l.Code, msg))
				break
			}
		}
	}
	if p99, of := run.JudgedP99(); p99 > th.MaxP99 {
		parts = append(parts, fmt.Sprintf("%sp99 %s > %s", of, p99.Round(time.Millisecond), th.MaxP99))
	}
	if run.TimeToCapacityS < 0 && c.Starved == 0 {
		parts = append(parts, "never held every connection through the window")
	}
	if len(parts) == 0 {
		return strings.Join(run.Reasons, "; ")
	}
	return strings.Join(parts, "; ")
}

// closesWithoutDrops says, for connections partly served with not one
// request dropped, what broke them: closes (the reconnects, and those found
// closed at the window's end), since no error class will.
func closesWithoutDrops(run Run) string {
	c := run.Connections
	if run.Requests.Dropped > 0 || c.Reconnects+int64(c.ClosedAtEnd) == 0 {
		return ""
	}
	var how []string
	if c.Reconnects > 0 {
		how = append(how, fmt.Sprintf("%d reconnects", c.Reconnects))
	}
	if c.ClosedAtEnd > 0 {
		how = append(how, fmt.Sprintf("%d found closed at the window's end", c.ClosedAtEnd))
	}
	return " (no request dropped; closed connections: " + strings.Join(how, ", ") + ")"
}

// PathClass is one path class of a request mix.
type PathClass struct {
	Class      string  `json:"class"`
	OK         int64   `json:"ok"`
	Dropped    int64   `json:"dropped"`
	DroppedPct float64 `json:"dropped_pct"`
	LatencyMS  Latency `json:"latency_ms"`
}

// ClientGroup is one group of clients, fast or slow (bench.GroupResult).
type ClientGroup struct {
	Group       string      `json:"group"`
	Connections Connections `json:"connections"`
	Requests    Requests    `json:"requests"`
	LatencyMS   Latency     `json:"latency_ms"`
}

// TLS is a run's TLS side (bench.TLS, with the handshake times as
// percentiles).
type TLS struct {
	Handshakes int64  `json:"handshakes"`
	Resumed    int64  `json:"resumed"`
	Failed     int64  `json:"failed"`
	Version    string `json:"version,omitempty"`
	Cipher     string `json:"cipher,omitempty"`
	// Group is the key exchange the server chose (X25519, X25519MLKEM768, ...).
	Group       string  `json:"group,omitempty"`
	HandshakeMS Latency `json:"tls_handshake_ms"`
	// ServerCPUPerHandshakeUS is httpd's CPU per handshake, estimated
	// from the ramp (Run.EstimateHandshakeCPU); ServerCPUHow says how, or
	// why there is none.
	ServerCPUPerHandshakeUS float64 `json:"server_cpu_per_handshake_us,omitempty"`
	ServerCPUHow            string  `json:"server_cpu_how,omitempty"`
}

// ServerFrom is the server part of a result from what the observers saw
// (seen), for the connections conns and a server limited to memoryBytes
// and cpus (0: none) with nofile descriptors: mod_status's peaks, the
// kernel's listen counters, the cgroup's memory (per connection held) and
// CPU.
func ServerFrom(seen observe.Report, conns Connections, memoryBytes int64, cpus float64, nofile int) *Server {
	stats := seen.Stats
	srv := &Server{
		StatusSamples: stats.Samples, StatusFailed: stats.FailedSamples,
		PeakBusyWorkers: stats.PeakBusy, PeakProcesses: stats.PeakProcesses, PeakConnsTotal: stats.PeakConnsTotal,
		Nofile: nofile, StatusLastError: stats.LastError, Series: stats.Points,
		Kernel: seen.Kernel, KernelScope: seen.KernelScope,
		OOMKills: stats.OOMKills, PeakAcceptQueue: stats.PeakAcceptQueue, ProcessesEnded: stats.ProcessesEnded,
		MemoryLimitMB: mb(memoryBytes), CPULimit: cpus,
		ThreadsAtStart: max(stats.ThreadsAtStart, 0), PeakThreads: max(stats.PeakThreads, 0),
	}
	if stats.AccessesAtStart >= 0 {
		srv.AccessesDuringRun = stats.AccessesAtEnd - stats.AccessesAtStart
	}
	if stats.MemoryAtStart >= 0 {
		srv.MemoryStartMB, srv.MemoryEndMB, srv.MemoryPeakMB = mb(stats.MemoryAtStart), mb(stats.MemoryAtEnd), mb(stats.MemoryPeak)
		srv.CPUSeconds = math.Round(float64(stats.CPUNanos)/1e7) / 100
		if held := conns.Served + conns.PartlyServed; held > 0 {
			srv.MemoryPerConnKB = math.Round(float64(stats.MemoryAtEnd-stats.MemoryAtStart)/1024/float64(held)*10) / 10
		}
	}
	return srv
}

// ReadErrorLog adds what httpd's error log text says: its message codes,
// and event's shutdowns of kept-alive connections and stopped processes
// up to windowEnd (see observe.ScanEventLog).
func (s *Server) ReadErrorLog(text string, windowEnd time.Time) {
	s.ErrorLog = observe.ScanErrorLog(text)
	ev := observe.ScanEventLog(text, windowEnd)
	s.BusyShutdowns, s.BusyClosed, s.FullRefusals, s.SpareStops, s.SpareIdleThreads = ev.Shutdowns, ev.Closed, ev.FullRefusals, ev.SpareStops, ev.SpareIdle
}

// mb is bytes in MB, one decimal.
func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
