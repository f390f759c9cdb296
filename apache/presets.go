package apache

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MPMs are the multi-processing modules loadcheck knows how to load.
var mpms = []string{"prefork", "worker", "event"}

// Directive is one httpd directive line: Name followed by Value.
type Directive struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Config is one httpd configuration to test: an MPM and its directives.
// The directives are written in order into the generated httpd.conf.
type Config struct {
	Name       string      `json:"name"`
	MPM        string      `json:"mpm"`
	Directives []Directive `json:"directives"`
	// MemoryBytes and CPUs limit the container, to emulate the production
	// host's size; 0 means no limit.
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	// File is the user's own httpd.conf, when the config is one (see
	// UserConfig); FileText is its content. Directives then only mirror
	// what the file sets.
	File     string `json:"file,omitempty"`
	FileText string `json:"-"`
	// TLS, when set, serves HTTPS with a generated certificate whose key
	// is of this kind (TLSKeyECDSA, TLSKeyRSA); presets only.
	TLS string `json:"tls,omitempty"`
	// Tree is the user's whole config tree, when the config is one (see
	// LoadTree); Directives then mirror what the tree sets.
	Tree *Tree `json:"tree,omitempty"`
	// PHP, when set, serves PHP (the PHP migration presets).
	PHP *PHP `json:"php,omitempty"`
	// Proxy sends paths to a backend (a workload's, which loadcheck
	// starts): mod_proxy_http in a <Location> per path.
	Proxy []Proxy `json:"proxy,omitempty"`
	// Load is how the load speaks to this config where it differs from
	// the scenario's load (one table can then hold the same server over
	// HTTP/1.1 and over HTTP/2); the zero value changes nothing.
	Load ConfigLoad `json:"load,omitzero"`
}

// ConfigLoad is what of the load one config may change: its protocol
// ("http/1.1", "h2", "h2c"), streams per connection and requests per
// second per connection; zero values keep the scenario's.
type ConfigLoad struct {
	Protocol    string  `json:"protocol,omitempty" yaml:"protocol"`
	Streams     int     `json:"streams,omitempty" yaml:"streams"`
	RatePerConn float64 `json:"rate_per_conn,omitempty" yaml:"rate_per_conn"`
}

// Proxy is one proxied path: requests for Path go to URL+Path.
type Proxy struct {
	Path string `json:"path"`
	URL  string `json:"url"`
}

// Get returns the value of directive name (case-insensitive) and whether
// the config sets it.
func (c Config) Get(name string) (string, bool) {
	for _, d := range c.Directives {
		if strings.EqualFold(d.Name, name) {
			return d.Value, true
		}
	}
	return "", false
}

// keepAlive is shared by every preset: Debian's apache2.conf defaults.
var keepAlive = []Directive{
	{"Timeout", "300"},
	{"KeepAlive", "On"},
	{"MaxKeepAliveRequests", "100"},
	{"KeepAliveTimeout", "5"},
}

// Debian's mods-available/mpm_*.conf as shipped in bookworm.
var stock = map[string][]Directive{
	"prefork": {
		{"StartServers", "5"},
		{"MinSpareServers", "5"},
		{"MaxSpareServers", "10"},
		{"MaxRequestWorkers", "150"},
		{"MaxConnectionsPerChild", "0"},
	},
	"worker": {
		{"StartServers", "2"},
		{"MinSpareThreads", "25"},
		{"MaxSpareThreads", "75"},
		{"ThreadLimit", "64"},
		{"ThreadsPerChild", "25"},
		{"MaxRequestWorkers", "150"},
		{"MaxConnectionsPerChild", "0"},
	},
}

// tunedThreaded is the article's values for worker and event.
var tunedThreaded = []Directive{
	{"ServerLimit", "250"},
	{"StartServers", "10"},
	{"MinSpareThreads", "75"},
	{"MaxSpareThreads", "250"},
	{"ThreadLimit", "64"},
	{"ThreadsPerChild", "32"},
	{"MaxRequestWorkers", "8000"},
	{"MaxConnectionsPerChild", "10000"},
}

// tunedPrefork is the nearest prefork equivalent of the article: one process
// per connection, so the process limits are at least the connection target
// (and at least the article's 8000 workers), and every process the target
// needs is started up front, because prefork spawns at most 32 per second.
func tunedPrefork(target int) []Directive {
	limit := max(target, 8000)
	start := max(target, 10)
	return []Directive{
		{"ServerLimit", strconv.Itoa(limit)},
		{"StartServers", strconv.Itoa(start)},
		{"MinSpareServers", "75"},
		{"MaxSpareServers", strconv.Itoa(start)},
		{"MaxRequestWorkers", strconv.Itoa(limit)},
		{"MaxConnectionsPerChild", "10000"},
	}
}

// PresetNames lists the built-in configs in the order a run shows them.
func PresetNames() []string {
	var names []string
	for _, variant := range []string{"stock", "tuned"} {
		for _, m := range mpms {
			names = append(names, m+"-"+variant)
		}
	}
	return names
}

// Preset returns the built-in config name ("event-tuned", ...). target is
// the connection target, which the tuned prefork preset sizes itself to.
func Preset(name string, target int) (Config, error) {
	if c, ok := phpPreset(name, target); ok {
		return c, nil
	}
	base, h2 := strings.CutSuffix(name, H2Suffix)
	mpm, variant, ok := strings.Cut(base, "-")
	if !ok || !slices.Contains(mpms, mpm) || (variant != "stock" && variant != "tuned") {
		return Config{}, fmt.Errorf("unknown config %q: choose from %s", name, strings.Join(AllPresetNames(), ", "))
	}
	var mpmDirs []Directive
	switch {
	case variant == "stock" && mpm == "prefork":
		mpmDirs = stock["prefork"]
	case variant == "stock":
		mpmDirs = stock["worker"] // Debian ships the same values for worker and event
	case mpm == "prefork":
		mpmDirs = tunedPrefork(target)
	default:
		mpmDirs = tunedThreaded
	}
	dirs := append(append([]Directive{}, keepAlive...), mpmDirs...)
	if h2 {
		dirs = append(dirs, h2Directives...)
	}
	return Config{Name: name, MPM: mpm, Directives: dirs}, nil
}

// H2Suffix names a preset's HTTP/2 variant ("event-tuned-h2"): the same
// directives, and mod_http2 speaking h2 over TLS and h2c on the plain
// listener beside HTTP/1.1 (h2Directives).
const H2Suffix = "-h2"

// h2Directives are what an HTTP/2 variant adds: Protocols, and
// mod_http2's defaults made visible (httpd 2.4's: at most 100 streams a
// session; its workers sized from the MPM's threads).
var h2Directives = []Directive{
	{"Protocols", "h2 h2c http/1.1"},
	{"H2MaxSessionStreams", "100"},
}

// H2Workers is how many worker threads mod_http2 runs in each child from
// the start, and the most it runs there under load: H2MinWorkers and
// H2MaxWorkers, or httpd 2.4's defaults (the MPM's threads per child, 1
// on prefork; 1.5 times the minimum, at least 4).
func (c Config) H2Workers() (minW, maxW int) {
	tpc := 1
	if c.MPM != "prefork" {
		tpc = c.Int("ThreadsPerChild", 25)
	}
	if minW = c.Int("H2MinWorkers", 0); minW <= 0 {
		minW = tpc
	}
	if maxW = c.Int("H2MaxWorkers", 0); maxW <= 0 {
		maxW = max(4, 3*minW/2)
	}
	return minW, maxW
}

// H2PresetNames are the HTTP/2 variants listed beside the presets; any
// MPM preset takes the suffix.
func H2PresetNames() []string { return []string{"event-tuned" + H2Suffix} }

// SpeaksHTTP2 reports whether the config names HTTP/2 in its Protocols
// (h2 or h2c), and so needs mod_http2.
func SpeaksHTTP2(c Config) bool {
	v, _ := c.Get("Protocols")
	for _, p := range strings.Fields(strings.ToLower(v)) {
		if p == "h2" || p == "h2c" {
			return true
		}
	}
	return false
}

// Presets resolves a list of config names, rejecting unknown and repeated
// names.
func Presets(names []string, target int) ([]Config, error) {
	seen := map[string]bool{}
	var out []Config
	for _, n := range names {
		n = strings.TrimSpace(n)
		if seen[n] {
			return nil, fmt.Errorf("config %q is listed twice", n)
		}
		seen[n] = true
		c, err := Preset(n, target)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no configs given: choose from %s", strings.Join(PresetNames(), ", "))
	}
	return out, nil
}

var directiveName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// ParseOverride parses "Name=Value" (for example "MaxRequestWorkers=4000")
// into a directive, rejecting anything that could break the generated file.
func ParseOverride(s string) (Directive, error) {
	name, value, ok := strings.Cut(s, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case !ok || value == "":
		return Directive{}, fmt.Errorf("override %q: want Name=Value, for example MaxRequestWorkers=4000", s)
	case !directiveName.MatchString(name):
		return Directive{}, fmt.Errorf("override %q: %q is not a directive name (letters and digits only)", s, name)
	case strings.ContainsAny(value, "\r\n"):
		return Directive{}, fmt.Errorf("override %q: the value must be on one line", s)
	}
	return Directive{Name: name, Value: value}, nil
}

// Set replaces directive d.Name (case-insensitive) in c, or appends it.
func (c *Config) Set(d Directive) {
	for i := range c.Directives {
		if strings.EqualFold(c.Directives[i].Name, d.Name) {
			c.Directives[i].Value = d.Value
			return
		}
	}
	c.Directives = append(c.Directives, d)
}

// KeepAliveTimeout is how long httpd keeps an idle connection open between
// two requests under this config: its KeepAliveTimeout (seconds, or with
// "ms"), httpd's default of 5 s for a config file or tree that sets none,
// 0 with KeepAlive Off or when the config is not known (a server loadcheck
// did not start).
func (c Config) KeepAliveTimeout() time.Duration {
	if v, ok := c.Get("KeepAlive"); ok && strings.EqualFold(v, "off") {
		return 0
	}
	v, ok := c.Get("KeepAliveTimeout")
	if !ok {
		if c.File != "" || c.Tree != nil {
			return 5 * time.Second
		}
		return 0
	}
	if ms, isMS := strings.CutSuffix(strings.ToLower(v), "ms"); isMS {
		n, err := strconv.Atoi(ms)
		if err != nil || n < 0 {
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
