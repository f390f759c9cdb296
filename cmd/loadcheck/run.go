package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/cpus"
	"github.com/loadcheck/loadcheck/generator"
	"github.com/loadcheck/loadcheck/generator/kubernetes"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/report"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

var errHelp = errors.New("help requested")

// runFlags is everything `loadcheck run` accepts.
type runFlags struct {
	spec      *scenarios.Spec // the scenario file, when one is given
	configs   string
	image     string
	layout    string
	target    string
	statusURL string
	// allowRemote is --allow-remote: a target outside loopback and private addresses.
	allowRemote bool
	// providerName is --provider: docker, local or target.
	providerName string
	jsonPath     string
	resultsDir   string
	runID        string
	quiet        bool
	repeat       int  // --repeat; 0 keeps the scenario's
	flakyOK      bool // --flaky-ok: a flaky config does not fail the run
	arrivalCheck bool // --arrival-check
	shards       int
	noShard      bool
	generator    string // --generator: local, swarm or kubernetes
	clockAddr    string // --clock-addr: where fleet shards read this host's clock
	// --generator kubernetes --dry-run: where the manifests go (-o), the
	// start's lead, and the shards' image, namespace and requests.
	dryRun     bool
	manifests  string
	startIn    time.Duration
	kube       kubernetes.Spec
	sourceAddr int
	memory     int64
	cpus       float64
	// --server-cpus, --generator-cpus, --share-cpus: where each side
	// runs; placement is what they decided (cpuPlacement).
	serverCPUs, generatorCPUs string
	shareCPUs                 bool
	placement                 cpus.Placement
	files                     []apache.Config      // --config-file, --config-dir
	host                      string               // --host
	noHostKeys                bool                 // --no-host-keys
	prod                      loadcheck.Production // --prod-cpus, --prod-memory
	tls                       bool                 // --tls
	served                    []scenarios.File     // --file
	docroot                   string               // --docroot
	backend                   scenarios.Backend    // --backend, --backend-size
	mixNote                   string               // what --paths-from or workload.paths_from read
	promURL                   string               // --prom-remote-write
	tlsKey                    string               // --tls-key
	configsSet                bool
	overrides                 []apache.Directive
	fpm                       []apache.Directive // --fpm: php-fpm pool settings
	load                      scenarios.Load
	thresholds                scenarios.Thresholds
	set                       map[string]bool // flags given on the command line
	// extra adds a command's own flags (capacity's) to run's.
	extra func(fs *flag.FlagSet)
}

// defaultResultsDir is where run folders go unless --results says otherwise.
func defaultResultsDir() string {
	if d := os.Getenv("LOADCHECK_RESULTS"); d != "" {
		return d
	}
	return loadcheck.DefaultRunsDir
}

// splitScenario takes the scenario file out of run's arguments: it may come
// before the flags or after them.
func splitScenario(args []string, extra func(*flag.FlagSet)) (path string, rest []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	probe := &runFlags{load: scenarios.DefaultLoad(), extra: extra}
	fs := probe.flagSet(io.Discard)
	if fs.Parse(args) != nil || fs.NArg() == 0 {
		return "", args
	}
	n := len(args) - fs.NArg()
	return fs.Arg(0), append(append([]string{}, args[:n]...), fs.Args()[1:]...)
}

func parseRunFlags(args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*runFlags, error) {
	f := &runFlags{load: scenarios.DefaultLoad(), thresholds: scenarios.DefaultThresholds(), set: map[string]bool{}, extra: extra}
	path, args := splitScenario(args, extra)
	if path != "" {
		spec, err := scenarios.LoadFile(path)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		f.spec, f.load, f.thresholds, f.image, f.layout = spec, spec.Load, spec.Thresholds, spec.Image, spec.Layout
		f.mixNote = spec.MixNote
		f.generator, f.shards, f.clockAddr = spec.Generator.Fleet, spec.Generator.Shards, spec.Generator.ClockAddr
	}
	fs := f.flagSet(stderr)
	// A bad flag gets its one-line error, not the 70 flags' help under
	// it: the flag package's own printing goes nowhere, and -h prints the
	// help here.
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return nil, errHelp
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "flag provided but not defined") {
			msg += " (-h lists the flags)"
		}
		return nil, &usageError{msg}
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	f.configsSet = f.set["configs"]
	if f.load.ClosedLoop && !f.set["rate"] {
		f.load.RatePerConn = 0
	}
	switch pathsSet := f.set["path"] || f.set["method"]; {
	case f.set["paths-from"] && pathsSet:
		return nil, &usageError{"--paths-from gives the paths and methods: drop --path and --method"}
	case pathsSet && len(f.load.Mix) > 0:
		f.load.Mix, f.mixNote = nil, "" // the flags win over the scenario's workload.paths_from
	}
	if f.cpus < 0 {
		return nil, &usageError{fmt.Sprintf("--cpus must not be negative, got %g", f.cpus)}
	}
	if f.set["soak"] && (f.set["d"] || f.set["duration"]) {
		return nil, &usageError{"--soak is the window: drop -d (or --soak)"}
	}
	if k := f.load.RequestsPerConnection; f.set["requests-per-connection"] && k < 1 {
		return nil, &usageError{fmt.Sprintf("--requests-per-connection must be at least 1 (a connection closes itself after that many answers), got %d; leave it out to keep connections open", k)}
	}
	if f.prod.CPUs < 0 {
		return nil, &usageError{fmt.Sprintf("--prod-cpus must not be negative, got %g", f.prod.CPUs)}
	}
	if f.noShard && f.shards > 1 {
		return nil, &usageError{"--no-shard and --shards > 1 contradict each other"}
	}
	if err := f.cpuPlacement(); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q; give one scenario file at most", fs.Arg(0))}
	}
	if err := f.checkRepeat(); err != nil {
		return nil, err
	}
	switch {
	case f.set["slow-read"] && !f.load.Slow.Set():
		return nil, &usageError{"--slow-read needs --slow-clients (or workload.slow_clients in the scenario)"}
	case f.set["slow-clients"] && !f.set["slow-read"] && f.load.Slow.ReadRate == 0:
		f.load.Slow.ReadRate = 16 << 10
	}
	if f.set["http2"] && f.set["h2c"] {
		return nil, &usageError{"--http2 (over TLS) and --h2c (over plain TCP) contradict each other: choose one"}
	}
	if f.load.Protocol == bench.ProtoH2 && f.target == "" {
		f.tls = true // h2 is negotiated over TLS
	}
	if err := f.load.Validate(); err != nil {
		return nil, &usageError{"bad load: " + err.Error()}
	}
	if err := f.load.CheckEngine(f.tls || strings.HasPrefix(f.target, "https://")); err != nil {
		var pe *bench.ProtocolError
		if errors.As(err, &pe) { // the library names protocols as a scenario does; here they are flags
			return nil, &usageError{pe.Describe(func(p string) string { return protocolFlag[p] })}
		}
		return nil, &usageError{"--" + err.Error()}
	}
	if err := f.thresholds.Validate(); err != nil {
		return nil, &usageError{"bad threshold: " + err.Error()}
	}
	if f.spec != nil && f.target != "" {
		return nil, &usageError{"a scenario file starts httpd containers and cannot be used with --target"}
	}
	if strings.ContainsAny(f.runID, "/\\") || f.runID == "." || f.runID == ".." {
		return nil, &usageError{fmt.Sprintf("--run-id %q: want a folder name, without slashes", f.runID)}
	}
	return f, nil
}

// checkRepeat refuses a repeat count below 1 and --flaky-ok without
// repeats to be flaky in.
func (f *runFlags) checkRepeat() error {
	switch {
	case f.set["repeat"] && (f.repeat < 1 || f.repeat > scenarios.MaxRepeat):
		return &usageError{fmt.Sprintf("--repeat: want 1 to %d runs per config, got %d", scenarios.MaxRepeat, f.repeat)}
	case f.flakyOK && f.repeats() < 2:
		return &usageError{"--flaky-ok needs --repeat 2 or more (or repeat: in the scenario): a config run once cannot be flaky"}
	}
	return nil
}

// repeats is how many times each config runs: --repeat, else the
// scenario file's repeat, else once.
func (f *runFlags) repeats() int {
	switch {
	case f.set["repeat"]:
		return f.repeat
	case f.spec != nil:
		return max(f.spec.Repeat, 1)
	}
	return 1
}

// flagSet binds run's flags to f, with f's current values as defaults.
// protocolFlag is the flag that chooses each HTTP/2 protocol.
var protocolFlag = map[string]string{bench.ProtoH2: "--http2", bench.ProtoH2C: "--h2c"}

func (f *runFlags) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadcheck run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.loadFlags(fs)
	f.serverFlags(fs)
	f.generatorFlags(fs)
	f.verdictFlags(fs)
	f.outputFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: loadcheck run [SCENARIO.yaml] [flags]

Starts one httpd container per config (or, with --provider local or when no
Docker engine answers, the httpd installed on this host), opens exactly -c
keep-alive connections to each, prints one row per config and stores the run
in a folder under --results. A scenario file (see scenarios/*.yaml) sets the
configs, load and thresholds; flags given on the command line win over it.
Exit 0 when all pass, 1 when any fails or, over --repeat, is FLAKY (passed
some repeats; unless --flaky-ok), 2 on bad input, setup errors, or an
INCONCLUSIVE verdict (the generator, not the server, was at its limit).
`)
		printGrouped(stderr, fs, runFlagGroups)
	}
	if f.extra != nil {
		f.extra(fs)
	}
	return fs
}

// loadFlags are the flags of runFlagGroups' Load group: what each
// connection sends, and when.
func (f *runFlags) loadFlags(fs *flag.FlagSet) {
	for _, name := range []string{"c", "connections"} {
		fs.IntVar(&f.load.Connections, name, f.load.Connections, "number of concurrent keep-alive `connections`")
	}
	for _, name := range []string{"d", "duration"} {
		fs.DurationVar(&f.load.Duration, name, f.load.Duration, "measured window")
	}
	fs.Func("soak", "a long window, `DURATION` such as 30m (at least 2m; it replaces -d): the result sums it up minute by minute (drops, reconnects, p99, memory, processes ended) with httpd's memory growth per hour", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 2*time.Minute {
			return fmt.Errorf("want a duration of at least 2m, such as 30m, got %q", v)
		}
		f.load.Duration = d
		return nil
	})
	fs.DurationVar(&f.load.Ramp, "ramp", f.load.Ramp, "spread connection opens over this time")
	fs.Func("warmup", "unmeasured time after the ramp, for httpd to spawn workers: auto (ends once the server has settled, at most --warmup-max) or a fixed `DURATION` such as 30s (default "+f.load.DescribeWarmUp()+")", func(v string) error {
		if v == "auto" {
			f.load.WarmUp = bench.WarmUpAuto
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want auto or a duration such as 30s, got %q", v)
		}
		f.load.WarmUp = d
		return nil
	})
	fs.DurationVar(&f.load.WarmUpMax, "warmup-max", f.load.WarmUpMax, "cap of an auto warm-up (default 1m0s)")
	fs.Float64Var(&f.load.ConnectRate, "connect-rate", f.load.ConnectRate, "open this many connections per second (replaces --ramp)")
	fs.Float64Var(&f.load.RatePerConn, "rate", f.load.RatePerConn, "requests per second on each connection (open model)")
	fs.BoolVar(&f.load.ClosedLoop, "closed-loop", f.load.ClosedLoop, "send each connection's next request as soon as the last response arrives, like wrk (a throughput test; --rate does not apply)")
	fs.IntVar(&f.load.RequestsPerConnection, "requests-per-connection", f.load.RequestsPerConnection, "close each connection after `K` answers and open a new one for its next request, as browsers and proxies churn theirs, so that MaxConnectionsPerChild recycles processes in the window (default: connections stay open)")
	fs.BoolFunc("http2", "speak HTTP/2 over TLS (h2, negotiated by ALPN) instead of HTTP/1.1; implies --tls for the httpd loadcheck starts, whose configs must speak h2 (the presets' -h2 variants, such as event-tuned-h2)", func(v string) error {
		return f.protocol(bench.ProtoH2, v)
	})
	fs.BoolFunc("h2c", "speak HTTP/2 over plain TCP with prior knowledge (h2c) instead of HTTP/1.1", func(v string) error {
		return f.protocol(bench.ProtoH2C, v)
	})
	fs.IntVar(&f.load.Streams, "streams", f.load.Streams, "with --http2 or --h2c: requests each connection keeps in flight at most, as concurrent streams (`M`; default 1; a browser's page load asks for about 6)")
	fs.DurationVar(&f.load.Timeout, "timeout", f.load.Timeout, "request timeout, counted from the request's intended send time")
	fs.StringVar(&f.load.Method, "method", f.load.Method, "request method (default GET)")
	var paths, headers []string
	fs.Func("path", "request `path` (repeatable: paths are used in turn; default /)", func(v string) error {
		paths = append(paths, v)
		f.load.Paths = paths
		return nil
	})
	fs.Func("header", "add a request header, e.g. --header 'X-Token: abc' (repeatable; replaces a scenario's headers)", func(v string) error {
		if _, err := bench.ParseHeader(v); err != nil {
			return err
		}
		headers = append(headers, v)
		f.load.Headers = headers
		return nil
	})
	fs.StringVar(&f.load.Body, "body", f.load.Body, "request body")
	fs.Func("paths-from", "send the request mix of an access `LOG` (Common or Combined Log Format): each method and path (query kept) as often as in the log, and latency and drops per path class (first path segment); replaces --path and --method", func(v string) error {
		mix, note, err := scenarios.LoadMix(v)
		if err != nil {
			return err
		}
		f.load.Mix, f.mixNote = mix, note
		return nil
	})
	fs.BoolVar(&f.load.Insecure, "insecure", f.load.Insecure, "for https:// loads: load a server whose certificate cannot be verified for the name asked for (without it, one handshake before the load checks it; loadcheck trusts the certificates it generated itself)")
	fs.Var(negBool{&f.load.NoTLSResume}, "tls-resume", "for https:// loads: resume TLS sessions when a connection is reopened, as browsers do; --tls-resume=false makes every handshake a full one (default true)")
	fs.Func("slow-clients", "make `SHARE` of the connections slow readers, e.g. 20%: each reads its answers at --slow-read through a small receive buffer, and the fast and the slow clients are reported apart", func(v string) error {
		pct, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
		if err != nil {
			return fmt.Errorf("want a share such as 20%%, got %q", v)
		}
		f.load.Slow.Pct = pct
		return nil
	})
	fs.Func("slow-read", "with --slow-clients: each slow client's read `RATE` in bytes a second, e.g. 16k (default 16k)", func(v string) error {
		n, err := units.RAMInBytes(v)
		if err != nil {
			return fmt.Errorf("want a rate in bytes a second such as 16k, got %q", v)
		}
		f.load.Slow.ReadRate = n
		return nil
	})
}

// serverFlags are the Server group's: the configs, and where and how
// httpd runs.
func (f *runFlags) serverFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.configs, "configs", strings.Join(apache.PresetNames(), ","), "comma-separated configs to compare: "+strings.Join(apache.PresetNames(), ", ")+" (the default), or the PHP migration's "+strings.Join(apache.PHPPresetNames(), ", ")+"; with a scenario, pick among its configs")
	fs.StringVar(&f.image, "image", f.image, "httpd `IMAGE` (default: the configs decide: "+containers.DebianImage+", which `make image` builds, for presets and Debian-layout trees; "+containers.DefaultImage+" when present for official-layout trees, else the Debian image with their paths mapped)")
	fs.StringVar(&f.layout, "layout", f.layout, "image layout: official or debian (default: detect from the image)")
	fs.StringVar(&f.target, "target", "", "load this already-running server URL instead of starting containers (config name \"target\")")
	fs.StringVar(&f.statusURL, "status-url", "", "with --target: read this mod_status `URL` (…/server-status?auto) during the load, for busy workers, connections and Total Accesses")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "with --target: allow an address outside loopback and private ranges (load only servers you own)")
	fs.StringVar(&f.providerName, "provider", "", "where httpd runs: docker (a container per config) or local (the httpd installed on this host, no Docker); default docker, or local when no Docker engine answers")
	fs.Func("set", "override a directive in every config, `Name=Value` (repeatable), e.g. --set MaxRequestWorkers=4000", func(v string) error {
		d, err := apache.ParseOverride(v)
		if err == nil {
			f.overrides = append(f.overrides, d)
		}
		return err
	})
	fs.Func("fpm", "set a php-fpm pool setting in every config that runs php-fpm (event-phpfpm), `key=value` (repeatable), e.g. --fpm pm.max_children=200", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(val) == "" {
			return fmt.Errorf("want key=value such as pm.max_children=200, got %q", v)
		}
		f.fpm = append(f.fpm, apache.Directive{Name: strings.TrimSpace(k), Value: strings.TrimSpace(val)})
		return nil
	})
	fs.BoolVar(&f.tls, "tls", false, "serve HTTPS: every preset gets mod_ssl, a generated self-signed certificate and a shared session cache; a config tree is loaded on its own SSL vhost; the load speaks TLS (handshakes timed and counted)")
	fs.StringVar(&f.tlsKey, "tls-key", apache.TLSKeyECDSA, "with --tls: the certificate's key, "+apache.TLSKeyECDSA+" or "+apache.TLSKeyRSA)
	// A user's own config: NAME=PATH, read by load.
	own := func(want string, load func(name, path string) (apache.Config, error)) func(string) error {
		return func(v string) error {
			name, path, ok := strings.Cut(v, "=")
			if !ok {
				return fmt.Errorf("want %s", want)
			}
			cfg, err := load(name, path)
			if err == nil {
				f.files = append(f.files, cfg)
			}
			return err
		}
	}
	fs.Func("config-file", "add the user's own complete httpd.conf as config `NAME=PATH` (repeatable); its Listen lines are replaced and mod_status is added. Without --configs or a scenario only these files run",
		own("NAME=PATH, for example mine=./httpd.conf", apache.UserConfig))
	fs.Func("config-dir", "add the user's whole config tree as config `NAME=DIR` (repeatable): Debian layout (apache2.conf at its root) or official (httpd.conf or conf/httpd.conf); Listen ports, vhost addresses and log paths are adjusted to run here, and the run says what changed. Without --configs or a scenario only these run",
		own("NAME=DIR, for example shop=./etc-apache2", apache.LoadTree))
	fs.Func("file", "serve a file of SIZE bytes at PATH beside the test page: `PATH=SIZE`, e.g. /page-100k.html=100k (repeatable; add --path PATH to request it), created in the served tmpfs before httpd starts", func(v string) error {
		p, size, ok := strings.Cut(v, "=")
		n, err := units.RAMInBytes(size)
		if !ok || err != nil {
			return fmt.Errorf("want PATH=SIZE such as /page-100k.html=100k, got %q", v)
		}
		f.served = append(f.served, scenarios.File{Path: p, Size: scenarios.ByteSize(n)})
		return nil
	})
	fs.StringVar(&f.docroot, "docroot", "", "serve the site's own files: this host's `DIR`, mounted read-only as every DocumentRoot (a preset's, each of a config tree's in a container) instead of the test page; / then serves its index.html")
	fs.Func("backend", "put a slow application behind httpd: `PATH=LATENCY` proxies PATH (mod_proxy_http) to a backend loadcheck starts on loopback for each config, whose answers wait LATENCY: 50ms, 'lognormal p50=50ms p99=400ms' or 'quantiles p50=40ms p90=150ms p99=400ms'; add --path PATH to request it", func(v string) error {
		p, lat, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want PATH=LATENCY such as /app=50ms or '/app=lognormal p50=50ms p99=400ms', got %q", v)
		}
		f.backend.Path, f.backend.Latency = p, lat
		return nil
	})
	fs.Func("backend-size", "with --backend: the `SIZE` of each backend answer, e.g. 2k (default 0)", func(v string) error {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a size such as 2k, got %q", v)
		}
		f.backend.Size = scenarios.ByteSize(n)
		return nil
	})
	fs.BoolVar(&f.noHostKeys, "no-host-keys", false, "for config trees: do not copy the certificates and private keys a tree names outside itself (/etc/letsencrypt/live/…) into the container; loadcheck generates the pairs instead (the other files it names outside itself are still brought in)")
	fs.StringVar(&f.host, "host", "", "for config trees: the vhost to load, sent as the Host header (default: the tree's first ServerName)")
	fs.Func("memory", "limit each httpd container's memory, e.g. 512m or 2g, to emulate the production host (no swap)", func(v string) error {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 6<<20 {
			return fmt.Errorf("want a size of at least 6m such as 512m or 2g, got %q", v)
		}
		f.memory = n
		return nil
	})
	fs.Float64Var(&f.cpus, "cpus", 0, "limit each httpd container to this many CPUs, e.g. 1.5")
	fs.Float64Var(&f.prod.CPUs, "prod-cpus", 0, "project each config's measured costs onto a production host of this many CPUs (a projection, marked as one, with what it assumes)")
	fs.Func("prod-memory", "project each config's measured costs onto a production host of this much memory, e.g. 4g", func(v string) error {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 1<<20 {
			return fmt.Errorf("want a size such as 4g, got %q", v)
		}
		f.prod.MemoryBytes = n
		return nil
	})
}

// generatorFlags are the Generator group's: where the load comes from.
func (f *runFlags) generatorFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.serverCPUs, "server-cpus", "", "run httpd on these CPUs (`LIST`, e.g. 1 or 2-3: the container's cpuset, a native httpd's affinity); default: the upper half of the CPUs loadcheck may use, on 2 or more")
	fs.StringVar(&f.generatorCPUs, "generator-cpus", "", "run the generator (this process and its shards) on these CPUs (`LIST`, e.g. 0); default: the lower half")
	fs.BoolVar(&f.shareCPUs, "share-cpus", false, "let httpd and the generator share every CPU (no placement), or let --server-cpus and --generator-cpus overlap")
	fs.StringVar(&f.load.Engine, "engine", "", "how the generator drives the connections: auto (the default: epoll for HTTP/1.1, plain or TLS, slow clients included), epoll (a few event loops: about 3 KB per connection) or goroutine (one goroutine per connection: about 8 KB)")
	fs.IntVar(&f.shards, "shards", f.shards, "generator processes (0: as many as the nofile limit needs)")
	fs.StringVar(&f.generator, "generator", cmp.Or(f.generator, "local"), "where the load is generated: local (this host, split over processes past the nofile limit), swarm (--shards job services on this Docker swarm, host networking, merged exactly; needs a fixed --warmup, 30s by default) or kubernetes (--shards pods of an Indexed Job on the cluster KUBECONFIG names, against --target, merged exactly; with --dry-run only its manifests are written)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "with --generator kubernetes: write the manifests (-o FILE) instead of applying them")
	fs.StringVar(&f.clockAddr, "clock-addr", f.clockAddr, "with --generator swarm or kubernetes: `HOST:PORT` where the shards read this host's clock before the load (a skew over 50ms stops the run); swarm: the node's swarm address by default; kubernetes: unchecked unless given")
	fs.StringVar(&f.manifests, "o", "", "`PATH`: with --generator kubernetes --dry-run the manifests' file (YAML: a ConfigMap and an Indexed Job); for loadcheck plan the requests' folder")
	fs.DurationVar(&f.startIn, "start-in", 2*time.Minute, "with planned shards (plan, --generator kubernetes): they start together this long from now")
	fs.StringVar(&f.kube.Image, "generator-image", "", "with --generator kubernetes: the shards' `IMAGE`, one whose entrypoint is this loadcheck (e.g. a loadcheck/generator image pushed to your registry)")
	fs.StringVar(&f.kube.Namespace, "namespace", "", "with --generator kubernetes: the namespace of the Job and its ConfigMap (default: the kubeconfig context's namespace, else \"default\"; --dry-run: \"default\")")
	fs.StringVar(&f.kube.CPU, "shard-cpu", "", "with --generator kubernetes: each shard's CPU request, e.g. 1 or 500m")
	fs.StringVar(&f.kube.Memory, "shard-memory", "", "with --generator kubernetes: each shard's memory request, e.g. 1Gi")
	fs.BoolVar(&f.noShard, "no-shard", false, "never split the generator over processes; fail before any traffic when one process cannot hold -c")
	fs.IntVar(&f.sourceAddr, "source-addrs", 0, "spread connections to a loopback target over this many source addresses from 127.0.0.2 (0: as many as the ephemeral ports need)")
}

// verdictFlags are the Verdict group's: thresholds and repeats.
func (f *runFlags) verdictFlags(fs *flag.FlagSet) {
	fs.IntVar(&f.repeat, "repeat", 0, "run every config `N` times against a fresh server, interleaved (all configs, then all again); a config that passes some repeats is flaky (default: the scenario's repeat, else 1)")
	fs.BoolVar(&f.flakyOK, "flaky-ok", false, "with --repeat: a flaky config does not fail the run (exit 0), for exploratory runs")
	fs.BoolVar(&f.arrivalCheck, "arrival-check", false, "run each config that failed once more with its connections arriving 4x more slowly (4x the ramp), and say whether its verdict depends on the arrival rate; the verdict stays the first run's (default: the scenario's arrival_check)")
	fs.Float64Var(&f.thresholds.MinServedPct, "min-served-pct", f.thresholds.MinServedPct, "pass needs at least this % of connections served")
	fs.Float64Var(&f.thresholds.MaxDroppedPct, "max-dropped-pct", f.thresholds.MaxDroppedPct, "pass allows at most this % of requests dropped")
	fs.DurationVar(&f.thresholds.MaxP99, "max-p99", f.thresholds.MaxP99, "pass allows at most this p99 latency")
}

// outputFlags are the Output group's: where the result goes.
func (f *runFlags) outputFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.resultsDir, "results", defaultResultsDir(), "write the run folder (result.json, .hlog, httpd.conf, series) under this `DIR`; $LOADCHECK_RESULTS sets the default")
	fs.StringVar(&f.runID, "run-id", "", "name the run folder (default: start time and a random suffix)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the result (schema "+results.Schema+") to `PATH`")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")
	fs.Func("prom-remote-write", "push live metrics once a second during each load to this Prometheus remote-write `URL` (for example http://127.0.0.1:9090/api/v1/write): connections open, OK and failed requests by class, the last second's p99, httpd's busy workers, processes and memory, labelled run_id, config and phase; a failed push is a warning, not a failed run", func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want an http:// or https:// URL such as http://127.0.0.1:9090/api/v1/write, got %q", v)
		}
		f.promURL = v
		return nil
	})
}

// runFlagGroups are run's flags by what they set, in the order of its
// help (each group's flags sorted, as PrintDefaults sorts them).
var runFlagGroups = []flagGroup{
	{"Load: what each connection sends, and when", []string{"c", "connections", "ramp", "connect-rate", "warmup", "warmup-max", "d", "duration", "soak",
		"rate", "closed-loop", "requests-per-connection", "http2", "h2c", "streams", "timeout", "path", "paths-from", "method", "header", "body", "slow-clients", "slow-read", "tls-resume", "insecure"}},
	{"Server: the configs, and where and how httpd runs", []string{"configs", "config-file", "config-dir", "set", "fpm", "host", "no-host-keys", "tls", "tls-key",
		"file", "docroot", "backend", "backend-size", "image", "layout", "provider", "memory", "cpus", "prod-cpus", "prod-memory", "target", "status-url", "allow-remote"}},
	{"Generator: where the load comes from", []string{"server-cpus", "generator-cpus", "share-cpus", "engine", "shards", "no-shard", "source-addrs", "generator", "generator-image", "namespace",
		"shard-cpu", "shard-memory", "clock-addr", "start-in", "dry-run", "o"}},
	{"Verdict", []string{"min-served-pct", "max-dropped-pct", "max-p99", "repeat", "flaky-ok", "arrival-check"}},
	{"Output", []string{"json", "results", "run-id", "quiet", "prom-remote-write"}},
}

// cmdRun is `loadcheck run`: the configs under load, judged.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	f, err := parseRunFlags(args, stderr, nil)
	if err != nil {
		return exitSetup, err
	}
	if f.generator == "kubernetes" && f.dryRun {
		return kubeDryRun(ctx, f, stdout)
	}
	gen, err := newGenerator(ctx, f)
	if err != nil {
		return exitSetup, err
	}
	sc := scenarios.Scenario{Name: "cli", Load: f.load, Thresholds: f.thresholds}
	if f.target != "" {
		if err := f.checkTarget(); err != nil {
			return exitSetup, err
		}
		sc.Configs = []apache.Config{{Name: "target", MPM: "unknown"}}
	} else if sc, err = f.scenario(); err != nil {
		return exitSetup, err
	}
	sc.Repeat = f.repeats()
	sc.ArrivalCheck = sc.ArrivalCheck || f.arrivalCheck
	return runAndPrint(ctx, f, sc, gen, stdout, stderr, loadcheck.Run)
}

// runner is loadcheck.Run, or a function of its shape (loadcheck.Rollout
// with its switch bound).
type runner func(ctx context.Context, sc scenarios.Scenario, opts ...loadcheck.Option) (*results.File, error)

// runAndPrint runs sc with run on the provider f chooses and gen, then
// writes the JSON and the table and says how it ended, as run does.
func runAndPrint(ctx context.Context, f *runFlags, sc scenarios.Scenario, gen generator.Generator, stdout, stderr io.Writer, run runner) (int, error) {
	prov, err := f.provider(ctx, sc, stderr)
	if err != nil {
		return exitSetup, err
	}
	p := newProgress(stderr, f.quiet)
	if f.mixNote != "" && !f.quiet {
		fmt.Fprintf(stderr, "loadcheck: %s\n", f.mixNote)
	}
	if sl := sc.Load.Slow; sl.Set() && !f.quiet {
		fmt.Fprintf(stderr, "loadcheck: slow clients: %s\n", sl.Describe(sc.Load.Connections))
	}
	out, runErr := run(ctx, sc, append(f.options(p), loadcheck.WithProvider(prov), loadcheck.WithGenerator(gen))...)
	p.clear()
	if out == nil || (runErr != nil && ctx.Err() == nil && len(out.Runs) == 0) {
		return exitSetup, runErr
	}
	// What was measured is shown even when the run could not go on (the
	// run folder's disk is full, say): the JSON first, since the table's
	// reader may close stdout early, then the table, then the error.
	if f.jsonPath != "" {
		if err := out.WriteJSON(f.jsonPath); err != nil {
			return exitSetup, errors.Join(runErr, err)
		}
		p.logf("wrote %s", f.jsonPath)
	}
	if err := report.WriteTable(stdout, out); err != nil {
		return exitSetup, errors.Join(runErr, fmt.Errorf("render table: %w", err))
	}
	if runErr != nil && ctx.Err() == nil {
		return exitSetup, runErr
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "loadcheck: interrupted; the result above is partial")
		return exitInterrupted, nil
	}
	return runExit(out, f.flakyOK), nil
}

// runExit is run's exit code for a finished run: 2 when a config could not
// be started (a setup error, so a nightly job goes red) or its verdict is
// inconclusive (the generator, not the server, was the limit), else 1
// when one failed, else 0.
func runExit(out *results.File, flakyOK bool) int {
	code := exitPass
	for _, r := range out.Runs {
		switch {
		case r.Verdict == results.Error, r.Verdict == results.Inconclusive:
			return exitSetup // a setup error, or the test box was the limit: nothing judged
		case r.Verdict == results.Flaky && flakyOK:
		case r.Verdict != results.Pass:
			code = exitFail
		}
	}
	return code
}

// options are the library options every command that runs load shares.
func (f *runFlags) options(p *progress) []loadcheck.Option {
	opts := []loadcheck.Option{
		loadcheck.WithStore(f.resultsDir), loadcheck.WithRunID(f.runID), loadcheck.WithVersion(version),
		loadcheck.WithLog(p.logf), loadcheck.WithLiveProgress(p.update), loadcheck.WithCPUs(f.placement), loadcheck.WithProduction(f.prod),
	}
	if f.spec != nil {
		opts = append(opts, loadcheck.WithScenarioFile(f.spec.Path))
	}
	if f.promURL != "" {
		opts = append(opts, loadcheck.WithPromRemoteWrite(f.promURL))
	}
	return opts
}

// checkTarget refuses flags that change or limit servers loadcheck starts.
func (f *runFlags) checkTarget() error {
	switch {
	case len(f.overrides) > 0:
		return &usageError{"--set changes httpd configs and cannot be used with --target"}
	case f.memory > 0 || f.cpus > 0:
		return &usageError{"--memory and --cpus limit httpd containers and cannot be used with --target"}
	case len(f.files) > 0:
		return &usageError{"--config-file and --config-dir start httpd containers and cannot be used with --target"}
	case f.set["backend"]:
		return &usageError{"--backend puts a backend behind httpd that loadcheck starts and cannot be used with --target"}
	case len(f.served) > 0 || (f.spec != nil && len(f.spec.Workload.Files) > 0):
		return &usageError{"--file creates files on a server loadcheck starts and cannot be used with --target: put them on your server and give --path"}
	case f.docroot != "" || (f.spec != nil && f.spec.Workload.DocRoot != ""):
		return &usageError{"--docroot serves a folder from the httpd loadcheck starts and cannot be used with --target: your server serves its own files"}
	case f.tls:
		return &usageError{"--tls makes the httpd loadcheck starts serve HTTPS; for a server you run, give --target https://…"}
	case f.set["provider"] && f.providerName != "target":
		return &usageError{fmt.Sprintf("--target loads a running server and cannot be used with --provider %s", f.providerName)}
	}
	return nil
}

// provider chooses where the servers run: --target, --provider, or Docker,
// falling back to a native httpd when no Docker engine answers.
func (f *runFlags) provider(ctx context.Context, sc scenarios.Scenario, stderr io.Writer) (provider.Provider, error) {
	if f.statusURL != "" && f.target == "" {
		return nil, &usageError{"--status-url reads a server loadcheck did not start: use it with --target"}
	}
	if f.target != "" {
		t := provider.Target{URL: f.target, StatusURL: f.statusURL, AllowRemote: f.allowRemote}
		if err := t.Check(ctx); err != nil {
			return nil, &usageError{err.Error()}
		}
		return t, nil
	}
	switch f.providerName {
	case "local":
		return f.localProvider()
	case "docker", "":
	default:
		return nil, &usageError{fmt.Sprintf("--provider %q: choose docker, local, or give --target URL", f.providerName)}
	}
	p, err := containers.NewProvider(ctx, f.image, f.layout, sc.Configs)
	// An engine named by DOCKER_HOST or --provider docker must answer.
	if f.set["provider"] || os.Getenv("DOCKER_HOST") != "" {
		return p, err
	}
	return fallBack(p, err, f.localProvider, stderr)
}

// fallBack returns the Docker provider p, or, when no Docker engine
// answered (err), a native httpd from local, saying so on stderr. With
// neither, the error says how to get either.
func fallBack(p provider.Provider, err error, local func() (provider.Provider, error), stderr io.Writer) (provider.Provider, error) {
	var dockerErr *containers.DockerError
	if !errors.As(err, &dockerErr) {
		return p, err
	}
	l, lerr := local()
	if lerr != nil {
		return nil, fmt.Errorf("%w\nand no httpd on this host to fall back on (%w): start Docker (then `make image`), or install Debian's apache2 and use --provider local", err, lerr)
	}
	fmt.Fprintf(stderr, "loadcheck: no Docker engine answers (%v); using the httpd installed on this host (--provider local)\n", dockerErr.Err)
	return l, nil
}

// localProvider is httpd started natively on this host.
func (f *runFlags) localProvider() (provider.Provider, error) {
	if f.memory > 0 || f.cpus > 0 {
		return nil, &usageError{"--memory and --cpus limit httpd containers and cannot be used with --provider local"}
	}
	if f.image != "" {
		return nil, &usageError{"--image names a container image and cannot be used with --provider local"}
	}
	layout, err := provider.FindLocal()
	if f.layout != "" {
		layout, err = apache.LayoutByName(f.layout)
	}
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	return provider.Local{Layout: layout}, nil
}

// asOverrides are the flags that change the scenario, as every library
// caller can change one (scenarios.Overrides).
func (f *runFlags) asOverrides() scenarios.Overrides {
	o := scenarios.Overrides{Add: f.files, Serve: f.served, DocRoot: f.docroot, Set: f.overrides, FPM: f.fpm, Host: f.host, NoHostKeys: f.noHostKeys}
	if f.set["backend"] {
		o.Backend = &f.backend
	} else if f.set["backend-size"] {
		o.BackendSize = &f.backend.Size
	}
	if f.tls {
		o.TLS = f.tlsKey
	}
	if f.set["memory"] {
		o.MemoryBytes = &f.memory
	}
	if f.set["cpus"] {
		o.CPUs = &f.cpus
	}
	return o
}

// scenario builds the configs to run: the scenario file's or the presets
// named by --configs, then applies the other flags as Overrides.
func (f *runFlags) scenario() (scenarios.Scenario, error) {
	sc := scenarios.Scenario{Name: "cli", Load: f.load, Thresholds: f.thresholds}
	var err error
	switch {
	case f.spec != nil:
		spec := *f.spec
		spec.Load, spec.Thresholds = f.load, f.thresholds
		if f.configsSet {
			if err := spec.Only(strings.Split(f.configs, ",")); err != nil {
				return sc, &usageError{"--configs: " + err.Error()}
			}
		}
		if sc, err = spec.Build(); err != nil {
			return sc, &usageError{err.Error()}
		}
	case f.configsSet || len(f.files) == 0:
		if sc.Configs, err = apache.Presets(strings.Split(f.configs, ","), f.load.Connections); err != nil {
			return sc, &usageError{"--configs: " + err.Error()}
		}
	}
	if f.set["tls-key"] && !f.tls {
		return sc, &usageError{"--tls-key needs --tls"}
	}
	if sc, err = f.asOverrides().Apply(sc); err != nil {
		var fe *scenarios.FieldError
		if errors.As(err, &fe) {
			return sc, &usageError{"--" + fe.Field + ": " + fe.Msg}
		}
		return sc, &usageError{err.Error()}
	}
	// The library's own checks, contradictions among them, stop the run
	// before any container starts.
	if err := loadcheck.Validate(sc); err != nil {
		return sc, &usageError{err.Error()}
	}
	return sc, nil
}

// protocol sets the load's protocol from a boolean flag's value v.
func (f *runFlags) protocol(p, v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, got %q", v)
	}
	if on {
		f.load.Protocol = p
	} else if f.load.Protocol == p {
		f.load.Protocol = ""
	}
	return nil
}

// negBool is a boolean flag stored negated: --tls-resume=false sets
// Load.NoTLSResume.
type negBool struct{ p *bool }

func (b negBool) String() string {
	if b.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.p)
}

func (b negBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err == nil {
		*b.p = !v
	}
	return err
}

func (negBool) IsBoolFlag() bool { return true }

// cpuPlacement decides where httpd and the generator run: apart by
// default on a host with 2 or more CPUs (cpus.Split), as --server-cpus
// and --generator-cpus say, or sharing every CPU with --share-cpus alone.
// A server loadcheck does not start (--target) and a fleet's generators
// on other hosts are not placed. Bad lists are usage errors, before any
// load.
func (f *runFlags) cpuPlacement() error {
	given := f.serverCPUs != "" || f.generatorCPUs != ""
	if !given && (f.shareCPUs || f.target != "" || (f.generator != "" && f.generator != "local")) {
		return nil
	}
	allowed, err := cpus.Allowed()
	if err != nil {
		return err
	}
	p := cpus.Split(allowed)
	for _, side := range []struct {
		flag, list string
		set        *cpus.Set
	}{{"--server-cpus", f.serverCPUs, &p.Server}, {"--generator-cpus", f.generatorCPUs, &p.Generator}} {
		if side.list == "" {
			continue
		}
		if *side.set, err = cpus.Parse(side.list); err != nil {
			return &usageError{side.flag + " " + err.Error()}
		}
	}
	switch {
	case f.target != "" && f.serverCPUs != "":
		return &usageError{"--server-cpus places a server loadcheck starts: a --target server runs where it runs (give --generator-cpus alone)"}
	case f.target != "":
		p.Server = nil
	}
	if !p.Apart() && given && f.target == "" {
		return &usageError{fmt.Sprintf("--server-cpus and --generator-cpus need CPUs for both sides: this host lets loadcheck use %s", allowed)}
	}
	if err := p.Check(allowed, f.shareCPUs); err != nil {
		return &usageError{err.Error()}
	}
	f.placement = p
	return nil
}
