package scenarios

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
	"gopkg.in/yaml.v3"
)

// A scenario file is YAML (see scenarios/*.yaml and the README):
//
//	name: compare-4000
//	image: httpd:2.4          # optional: default as for `loadcheck run`
//	layout: official          # optional: official or debian
//	load:
//	  connections: 4000
//	  ramp: 4s
//	  warmup: auto            # or a fixed time such as 30s
//	  warmup_max: 60s         # caps an auto warm-up
//	  duration: 6s
//	  rate_per_conn: 1        # or closed_loop: true
//	  timeout: 2s
//	  paths: [/]
//	configs:
//	  - preset: event-tuned
//	  - preset: event-stock
//	    name: event-wider     # optional: defaults to the preset's name
//	    set: {MaxRequestWorkers: 400}
//	    memory: 512m          # optional container limits
//	    cpus: 1.5
//	  - name: mine
//	    file: ./httpd.conf    # the user's own; relative to the scenario file
//	  - name: shop
//	    dir: ./trees/debian-shop  # a whole config tree (Debian or official layout)
//	    host: shop.example        # its vhost to load (default: its first ServerName)
//	repeat: 3                 # optional: run each config 3 times, interleaved
//	thresholds:
//	  min_served_pct: 100
//	  max_dropped_pct: 0.1
//	  max_p99: 1s
//
// Loading is strict: every error names the file, line and column.

// ConfigSpec is one entry of a scenario's configs list, before it is
// resolved against the connection target (the tuned prefork preset sizes
// itself to it).
type ConfigSpec struct {
	Preset      string     `yaml:"preset"`
	Name        string     `yaml:"name"`
	File        string     `yaml:"file"`
	Dir         string     `yaml:"dir"`  // a whole config tree
	Host        string     `yaml:"host"` // the tree's vhost to load
	MPM         string     `yaml:"mpm"`  // run the tree under this MPM instead of its own
	Set         directives `yaml:"set"`
	FPM         directives `yaml:"fpm"` // php-fpm pool settings, for event-phpfpm
	MemoryBytes ByteSize   `yaml:"memory"`
	CPUs        float64    `yaml:"cpus"`
	// Load is how the load speaks to this config, where it differs from
	// the scenario's: protocol, streams, rate_per_conn.
	Load    apache.ConfigLoad `yaml:"load"`
	fileCfg *apache.Config    // File, read at load time
}

// ConfigName is the name the config runs under.
func (s ConfigSpec) ConfigName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Preset
}

// directives is an ordered YAML mapping of directive names to values.
type directives []apache.Directive

// ByteSize is a memory size in bytes, written like 512m or 2g in a scenario.
type ByteSize int64

// Spec is a loaded scenario file. Flags may change it before Build turns it
// into the Scenario that runs.
type Spec struct {
	Path        string
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	Image       string       `yaml:"image"`
	Layout      string       `yaml:"layout"`
	Load        Load         `yaml:"load"`
	Configs     []ConfigSpec `yaml:"configs"`
	Thresholds  Thresholds   `yaml:"thresholds"`
	Capacity    Capacity     `yaml:"capacity"`
	// Repeat runs each config this many times (see Scenario.Repeat).
	Repeat int `yaml:"repeat"`
	// ArrivalCheck: see Scenario.ArrivalCheck.
	ArrivalCheck bool `yaml:"arrival_check"`
	// TLS serves every config over HTTPS, as --tls: presets with a
	// generated certificate whose key is TLSKey, trees on their own SSL
	// vhost.
	TLS    bool   `yaml:"tls"`
	TLSKey string `yaml:"tls_key"`
	// Workload is what the servers serve beyond the test page.
	Workload Workload `yaml:"workload"`
	// Generator is where the load is generated, as --generator, --shards
	// and --clock-addr (the flags win).
	Generator Generator `yaml:"generator"`
	// Rollout is the rollout: section; HasRollout says the file has one.
	Rollout    RolloutSection `yaml:"rollout"`
	HasRollout bool           `yaml:"-"`
	// MixNote says what workload.paths_from gave, once loaded.
	MixNote string `yaml:"-"`
}

// Generator is a scenario's generator fleet.
type Generator struct {
	// Fleet is local (the default: this host, processes as the nofile
	// limit needs) or swarm (job services on this Docker swarm).
	Fleet  string `yaml:"fleet"`
	Shards int    `yaml:"shards"` // processes or job services; 0 for local: as many as needed
	// ClockAddr is where swarm shards read this host's clock (HOST:PORT).
	ClockAddr string `yaml:"clock_addr"`
}

// Capacity bounds `loadcheck capacity`'s search for each config's limit.
type Capacity struct {
	// Start is the first connection count probed; each next step doubles it
	// up to Max, then a bisection narrows the limit to PrecisionPct.
	Start        int           `yaml:"start" json:"start"`
	Max          int           `yaml:"max" json:"max"`
	PrecisionPct float64       `yaml:"precision_pct" json:"precision_pct"`
	Budget       time.Duration `yaml:"budget" json:"budget_ns"`
	// HostMemory is the host size the projection is made for.
	HostMemory ByteSize `yaml:"host_memory" json:"host_memory_bytes"`
	// Search is how the search begins: SearchStepped ("" too) finds each
	// config's knee with one run that adds connections in steps, then
	// probes it and the count just above; SearchBisect doubles and bisects
	// with probes only.
	Search string `yaml:"search" json:"search,omitempty"`
	// RepeatLimit probes the limit found once more, so that a limit that
	// does not hold twice is not reported as one. Off by default: a
	// single probe confirms the limit, and the result says so.
	RepeatLimit bool `yaml:"repeat_limit" json:"repeat_limit,omitempty"`
	// OneAtATime searches every config alone. Without it the configs
	// whose directives cap them at SideBySideConns connections together,
	// at a request rate of SideBySideConns requests/s or less, are
	// searched at the same time, before the others (each against its own
	// server, up to twice its directive limit).
	OneAtATime bool `yaml:"one_at_a_time" json:"one_at_a_time,omitempty"`
	// StepFactor is how much each step of the stepped run multiplies the
	// last (0: 2, doubling): 4 takes half the steps to the same max, and
	// the knee is still the connections answered at the first step not
	// held.
	StepFactor int `yaml:"step_factor" json:"step_factor,omitempty"`
	// Arrival says which limits are probed once more with connections
	// arriving twice as fast: ArrivalAlways ("" too) every one,
	// ArrivalNearTarget those within half the target of it (where the
	// answer for the target could hang on the arrival; a limit farther
	// above it gets the target probed instead, ProbeTarget), ArrivalNever
	// none.
	Arrival string `yaml:"arrival" json:"arrival,omitempty"`
}

// Steps is the stepped run's factor: StepFactor, or 2.
func (c Capacity) Steps() int {
	if c.StepFactor == 0 {
		return 2
	}
	return c.StepFactor
}

// The limits a capacity search probes with connections arriving faster
// (Capacity.Arrival).
const (
	ArrivalAlways     = "always"
	ArrivalNearTarget = "near_target"
	ArrivalNever      = "never"
)

// ProbeTarget reports whether a limit of maxPass connections, found far
// above the target (more than half of it above, where near_target does
// not probe the arrival), gets the target itself probed on a fresh
// server instead: the planner's answer hangs on that run, and a limit
// need not be one knee (event can hold 8000 and fail at 4000). Not where
// the directives set the limit (directiveLimit, 0 unknown: it came
// within PrecisionPct of what they allow): below a directive's cap the
// MPM has room, and the run would cost a probe for nothing.
func (c Capacity) ProbeTarget(maxPass, target, directiveLimit int) bool {
	if directiveLimit > 0 && float64(maxPass) >= float64(directiveLimit)*(1-c.PrecisionPct/100) {
		return false
	}
	return c.Arrival == ArrivalNearTarget && target > 0 && 2*(maxPass-target) > target
}

// ProbeArrival reports whether a limit of maxPass connections is probed
// again with connections arriving faster, for a target of target
// connections; when not, why not.
func (c Capacity) ProbeArrival(maxPass, target int) (bool, string) {
	switch c.Arrival {
	case ArrivalNever:
		return false, "capacity.arrival: never"
	case ArrivalNearTarget:
		if d := maxPass - target; 2*d > target || -2*d > target {
			return false, fmt.Sprintf("far from the target (more than half of %d away; capacity.arrival: near_target)", target)
		}
	}
	return true, ""
}

// SideBySideConns is how many connections, and requests per second, the
// configs a capacity search runs at once may ask for together: their
// directives' limits, summed. A few hundred requests a second are a few
// per cent of one CPU for httpd and for the generator.
const SideBySideConns = 1000

// The ways a capacity search begins (Capacity.Search).
const (
	SearchStepped = "stepped"
	SearchBisect  = "bisect"
)

// DefaultCapacity is the search used when a scenario sets none.
func DefaultCapacity() Capacity {
	return Capacity{Start: 500, Max: 16000, PrecisionPct: 5, Budget: 60 * time.Minute, HostMemory: 4 << 30}
}

// LoadError is a problem in a scenario file, with its place.
type LoadError struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Field  string
	Msg    string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadFile reads and checks the scenario file at path.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse checks a scenario file's content; path names it in errors and
// anchors relative config file paths.
func Parse(path string, data []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LoadError{File: path, Msg: "the file is empty; a scenario needs at least name, load and configs (see scenarios/smoke.yaml)"}
		}
		return nil, syntaxError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: path, Line: extra.Line, Column: extra.Column, Msg: "a scenario file holds one YAML document; remove the second one (after ---)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(path, err)
	}
	spec := &Spec{Path: path, Load: DefaultLoad(), Thresholds: DefaultThresholds(), Capacity: DefaultCapacity()}
	d := &decoder{file: path, seen: map[string]*yaml.Node{}}
	root := doc.Content[0]
	if err := d.decode(root, reflect.ValueOf(spec).Elem(), ""); err != nil {
		return nil, err
	}
	if _, ok := d.seen["load.closed_loop"]; ok && spec.Load.ClosedLoop {
		if _, rate := d.seen["load.rate_per_conn"]; !rate {
			spec.Load.RatePerConn = 0
		}
	}
	if err := spec.check(d, root); err != nil {
		return nil, err
	}
	return spec, nil
}

func syntaxError(path string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &LoadError{File: path, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &LoadError{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// check validates values against each other, pointing at the field.
func (s *Spec) check(d *decoder, root *yaml.Node) error {
	at := atFunc(func(field string, msg string, a ...any) error {
		n := d.seen[field]
		for parent := field; n == nil && parent != ""; {
			i := strings.LastIndexAny(parent, ".")
			if i < 0 {
				break
			}
			parent = parent[:i]
			n = d.seen[parent]
		}
		if n == nil {
			n = root
		}
		return &LoadError{File: d.file, Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(msg, a...)}
	})
	if _, set := d.seen["repeat"]; (set && s.Repeat < 1) || s.Repeat > MaxRepeat {
		return at("repeat", "want 1 to %d runs per config, got %d", MaxRepeat, s.Repeat)
	}
	if p := s.Workload.PathsFrom; p != "" {
		if d.seen["load.paths"] != nil || d.seen["load.method"] != nil {
			return at("workload.paths_from", "the access log gives the paths and methods: drop load.paths and load.method")
		}
		mix, note, err := LoadMix(s.near(p))
		if err != nil {
			return at("workload.paths_from", "%v", err)
		}
		s.Load.Mix, s.MixNote = mix, note
	}
	if p := s.Workload.DocRoot; p != "" {
		s.Workload.DocRoot = s.near(p)
	}
	s.Load.Slow = s.Workload.SlowClients.Bench()
	if s.TLSKey != "" {
		if !s.TLS {
			return at("tls_key", "needs tls: true")
		}
		if err := apache.CheckTLSKey(s.TLSKey); err != nil {
			return at("tls_key", "%v", err)
		}
	}
	if err := s.checkTop(at); err != nil {
		return err
	}
	if err := s.checkGenerator(d, at); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range s.Configs {
		if err := s.checkConfig(at, i, names); err != nil {
			return err
		}
	}
	if s.HasRollout = d.seen["rollout"] != nil; s.HasRollout {
		if d.seen["rollout.to"] == nil {
			return at("rollout.to", "missing: the config switched to, as a config entry such as `to: {preset: event-tuned}`")
		}
		if err := s.checkConfigSpec(at, "rollout.to", &s.Rollout.To, names); err != nil {
			return err
		}
	}
	sc, err := s.Build()
	if err != nil {
		return err
	}
	var fe *FieldError
	if err := sc.CheckRollout(); errors.As(err, &fe) {
		return at(fe.Field, "%s", fe.Msg)
	}
	for i, cfg := range sc.Configs {
		for _, f := range cfg.Check(sc.Load.Connections) {
			if f.Error {
				return at(fmt.Sprintf("configs[%d]", i), "%s", f.Msg)
			}
		}
	}
	return nil
}

// atFunc makes an error that points at a field of the scenario file.
type atFunc func(field string, msg string, a ...any) error

// checkGenerator checks the generator section: a fleet that can reach
// the scenario's containers, with what it needs.
func (s *Spec) checkGenerator(d *decoder, at atFunc) error {
	switch g := s.Generator; {
	case g.Fleet == "kubernetes":
		return at("generator.fleet", "kubernetes pods cannot reach the httpd containers a scenario file starts on this host: run loadcheck run --target URL --generator kubernetes against a server they reach")
	case g.Fleet != "" && g.Fleet != "local" && g.Fleet != "swarm":
		return at("generator.fleet", "unknown fleet %q: use local or swarm", g.Fleet)
	case g.Shards < 0:
		return at("generator.shards", "want 0 (local: as many as needed) or more, got %d", g.Shards)
	case g.Fleet == "swarm" && g.Shards < 1:
		return at("generator.shards", "the swarm fleet needs the number of job services, for example `shards: 3`")
	case g.ClockAddr != "" && g.Fleet != "swarm":
		return at("generator.clock_addr", "only swarm shards read the clock: set fleet: swarm or drop it")
	case g.Fleet == "swarm" && s.Load.WarmUp == bench.WarmUpAuto && d.seen["load.warmup"] != nil:
		return at("load.warmup", "the swarm fleet needs a fixed warm-up, such as 30s: no coordinator line reaches its shards to end an auto warm-up")
	}
	return nil
}

// checkTop checks the scenario's name, layout, load, thresholds and
// capacity bounds, and that it has configs.
func (s *Spec) checkTop(at atFunc) error {
	if strings.TrimSpace(s.Name) == "" {
		return at("name", "missing: give the scenario a name, for example `name: nightly-4000`")
	}
	switch s.Layout {
	case "", "official", "debian":
	default:
		return at("layout", "unknown layout %q: use official (httpd:2.4) or debian, or leave it out to detect it from the image", s.Layout)
	}
	var fe *FieldError
	if err := s.Load.Validate(); errors.As(err, &fe) {
		if strings.HasPrefix(fe.Field, "slow_clients.") {
			return at("workload."+fe.Field, "%s", fe.Msg)
		}
		return at("load."+fe.Field, "%s", fe.Msg)
	}
	if err := s.Workload.CheckSlowWindow(s.Load); errors.As(err, &fe) {
		return at("load."+fe.Field, "%s", fe.Msg)
	}
	if err := s.Thresholds.Validate(); errors.As(err, &fe) {
		return at("thresholds."+fe.Field, "%s", fe.Msg)
	}
	if err := s.Capacity.Validate(); errors.As(err, &fe) {
		return at("capacity."+fe.Field, "%s", fe.Msg)
	}
	if err := s.Workload.Validate(); errors.As(err, &fe) {
		return at("workload."+fe.Field, "%s", fe.Msg)
	}

	if len(s.Configs) == 0 {
		return at("configs", "give at least one config, for example `configs: [{preset: event-tuned}]`; presets: %s", strings.Join(apache.PresetNames(), ", "))
	}
	return nil
}

// checkConfig checks configs[i] and reads its file; names are the config
// names seen so far.
func (s *Spec) checkConfig(at atFunc, i int, names map[string]bool) error {
	return s.checkConfigSpec(at, fmt.Sprintf("configs[%d]", i), &s.Configs[i], names)
}

// checkConfigSpec checks the config entry c, written at field, and reads
// its file or tree; names are the config names seen so far.
func (s *Spec) checkConfigSpec(at atFunc, field string, c *ConfigSpec, names map[string]bool) error {
	given := 0
	for _, v := range []string{c.Preset, c.File, c.Dir} {
		if v != "" {
			given++
		}
	}
	switch {
	case given == 0:
		return at(field, "give one of preset (%s), file (your own httpd.conf) or dir (your own config tree)", strings.Join(apache.AllPresetNames(), ", "))
	case given > 1 && c.Dir != "":
		return at(field+".dir", "give one of preset, file and dir, not more")
	case given > 1:
		return at(field+".file", "give one of preset, file and dir, not more")
	case (c.File != "" || c.Dir != "") && c.Name == "":
		return at(field+".name", "missing: a config from a file or dir needs a name")
	case c.Host != "" && c.Dir == "":
		return at(field+".host", "host chooses a vhost of a config tree: give dir too")
	case c.MPM != "" && c.Dir == "":
		return at(field+".mpm", "mpm switches a config tree's MPM: give dir too (a preset has its own MPM: choose another preset)")
	case c.File != "" && s.TLS:
		return at(field+".file", "tls serves HTTPS for presets and config trees (on their own SSL vhost), not for a single config file: load it with --target https://… instead")
	case c.File != "" && len(c.Set) > 0:
		return at(field+".set", "set cannot change a config file: edit the file instead")
	case c.CPUs < 0:
		return at(field+".cpus", "must not be negative, got %g", c.CPUs)
	case c.MemoryBytes != 0 && c.MemoryBytes < 6<<20:
		return at(field+".memory", "at least 6m, got %d bytes", c.MemoryBytes)
	}
	if c.Preset != "" {
		cfg, err := apache.Preset(c.Preset, s.Load.Connections)
		if err != nil {
			return at(field+".preset", "%s", strings.TrimPrefix(err.Error(), "unknown config "))
		}
		for _, d := range c.FPM {
			if err := cfg.SetPool(d); err != nil {
				return at(field+".fpm."+d.Name, "%v", err)
			}
		}
	} else if len(c.FPM) > 0 {
		return at(field+".fpm", "fpm sets the php-fpm pool of the event-phpfpm preset; this config runs no php-fpm")
	}
	if c.File != "" {
		cfg, err := apache.UserConfig(c.Name, s.near(c.File))
		if err != nil {
			return at(field+".file", "%v", err)
		}
		c.fileCfg = &cfg
	}
	if c.Dir != "" {
		cfg, err := s.loadTree(at, field, c)
		if err != nil {
			return err
		}
		c.fileCfg = &cfg
	}
	name := c.ConfigName()
	if err := apache.CheckName(name); err != nil {
		return at(field+".name", "%v", err)
	}
	if names[name] {
		return at(field+".name", "config %q is listed twice; give one of them another name", name)
	}
	names[name] = true
	if c.Load != (apache.ConfigLoad{}) {
		if err := LoadFor(s.Load, apache.Config{Load: c.Load}).Validate(); err != nil {
			return at(field+".load", "%v", err)
		}
	}
	for _, dir := range c.Set {
		if _, err := apache.ParseOverride(dir.Name + "=" + dir.Value); err != nil {
			return at(field+".set."+dir.Name, "%v", err)
		}
	}
	return nil
}

// near is p relative to the scenario file's folder, unless absolute.
func (s *Spec) near(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(s.Path), p)
}

// Only keeps the configs called names, in the order given; a name that
// the scenario lacks but that is a preset is added as that preset.
func (s *Spec) Only(names []string) error {
	var out []ConfigSpec
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		found := false
		for _, c := range s.Configs {
			if c.ConfigName() == n {
				out, found = append(out, c), true
			}
		}
		if !found {
			if _, err := apache.Preset(n, s.Load.Connections); err != nil {
				var have []string
				for _, c := range s.Configs {
					have = append(have, c.ConfigName())
				}
				return fmt.Errorf("config %q is neither in %s (%s) nor a preset (%s)", n, s.Path, strings.Join(have, ", "), strings.Join(apache.AllPresetNames(), ", "))
			}
			out = append(out, ConfigSpec{Preset: n})
		}
	}
	if len(out) == 0 {
		return fmt.Errorf("no configs selected")
	}
	s.Configs = out
	return nil
}

// Build resolves the configs against the connection target and returns the
// scenario to run.
func (s *Spec) Build() (Scenario, error) {
	sc := Scenario{Name: s.Name, Description: s.Description, Image: s.Image, Layout: s.Layout, Load: s.Load, Thresholds: s.Thresholds, Repeat: s.Repeat, ArrivalCheck: s.ArrivalCheck, Workload: s.Workload}
	for _, c := range s.Configs {
		cfg, err := s.buildConfig(c)
		if err != nil {
			return Scenario{}, err
		}
		sc.Configs = append(sc.Configs, cfg)
	}
	if s.HasRollout && len(sc.Configs) > 0 {
		to, err := s.buildConfig(s.Rollout.To)
		if err != nil {
			return Scenario{}, err
		}
		r := &Rollout{To: to, How: s.Rollout.How, At: s.Rollout.At}
		if r.How == "" {
			r.How = DefaultRolloutHow(sc.Configs[0], to)
		}
		if r.At == 0 {
			r.At = DefaultRolloutAt
		}
		sc.Rollout = r
	}
	return sc, nil
}

// buildConfig resolves the config entry c against the connection target.
func (s *Spec) buildConfig(c ConfigSpec) (apache.Config, error) {
	var cfg apache.Config
	if c.fileCfg != nil {
		cfg = *c.fileCfg
		if t := cfg.Tree; t != nil && len(c.Set) > 0 {
			tt := *t
			tt.Set = append([]apache.Directive(nil), c.Set...)
			cfg.Tree = &tt
			for _, d := range c.Set {
				cfg.Set(d)
			}
		}
	} else {
		var err error
		if cfg, err = apache.Preset(c.Preset, s.Load.Connections); err != nil {
			return cfg, err
		}
		for _, d := range c.Set {
			cfg.Set(d)
		}
		for _, d := range c.FPM {
			if err := cfg.SetPool(d); err != nil {
				return cfg, err
			}
		}
	}
	cfg.Name = c.ConfigName()
	cfg.MemoryBytes, cfg.CPUs = int64(c.MemoryBytes), c.CPUs
	cfg.Load = c.Load
	if s.TLS {
		cfg.TLS = cmp.Or(s.TLSKey, apache.TLSKeyECDSA)
	}
	return cfg, nil
}

// decoder walks YAML nodes into Go values, refusing what the Go value has
// no room for and remembering where each field was written.
type decoder struct {
	file string
	seen map[string]*yaml.Node // field path -> value node
}

var (
	durationType   = reflect.TypeOf(time.Duration(0))
	byteSizeType   = reflect.TypeOf(ByteSize(0))
	percentType    = reflect.TypeOf(Percent(0))
	directivesType = reflect.TypeOf(directives(nil))
)

func (d *decoder) fail(n *yaml.Node, field, msg string, a ...any) error {
	return &LoadError{File: d.file, Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(msg, a...)}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string) error {
	if n.Kind == yaml.AliasNode {
		return d.fail(n, field, "YAML aliases are not supported here; write the value out")
	}
	if field != "" {
		d.seen[field] = n
	}
	t := v.Type()
	switch {
	case t == durationType && field == "load.warmup" && n.Kind == yaml.ScalarNode && n.Value == "auto":
		v.SetInt(int64(bench.WarmUpAuto))
		return nil
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, field, "want a duration such as 30s or 2m, got %s", kindName(n))
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return d.fail(n, field, "want a duration such as 30s, 500ms or 2m, got %q", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	case t == byteSizeType:
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, field, "want a size such as 512m or 2g, got %s", kindName(n))
		}
		b, err := units.RAMInBytes(n.Value)
		if err != nil || b < 0 {
			return d.fail(n, field, "want a size such as 512m or 2g, got %q", n.Value)
		}
		v.SetInt(b)
		return nil
	case t == percentType:
		pct, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(n.Value, "%")), 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			return d.fail(n, field, "want a share such as 20%%, got %s", kindName(n))
		}
		v.SetFloat(pct)
		return nil
	case t == directivesType:
		return d.decodeDirectives(n, v, field)
	}
	switch t.Kind() {
	case reflect.Struct:
		return d.decodeStruct(n, v, field)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.fail(n, field, "want a list, such as [a, b] or lines starting with -, got %s", kindName(n))
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	return d.decodeScalar(n, v, field)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, field string) error {
	t := v.Type()
	var keys []string
	index := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
			index[tag] = i
		}
	}
	if n.Kind != yaml.MappingNode {
		return d.fail(n, field, "want a mapping with keys such as %s, got %s", strings.Join(keys, ", "), kindName(n))
	}
	done := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		fi, ok := index[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			where := "the top level"
			if field != "" {
				where = field
			}
			if near := nearest(k.Value, keys); near != "" {
				return d.fail(k, sub, "unknown key in %s; did you mean %q?", where, near)
			}
			return d.fail(k, sub, "unknown key in %s; valid keys: %s", where, strings.Join(keys, ", "))
		}
		if done[k.Value] {
			return d.fail(k, sub, "set twice")
		}
		done[k.Value] = true
		if err := d.decode(val, v.Field(fi), sub); err != nil {
			return err
		}
	}
	return nil
}

// nearest returns the key closest to s in edit distance, when it is close
// enough to be a likely typo.
func nearest(s string, keys []string) string {
	best, bestD := "", 1<<30
	for _, k := range keys {
		if dist := editDistance(strings.ToLower(s), k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if bestD <= max(2, len(best)/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeDirectives decodes a mapping of directive to value, in its
// order, refusing a directive set twice.
func (d *decoder) decodeDirectives(n *yaml.Node, v reflect.Value, field string) error {
	if n.Kind != yaml.MappingNode {
		return d.fail(n, field, "want a mapping of directive to value, such as {MaxRequestWorkers: 400}, got %s", kindName(n))
	}
	var out directives
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			return d.fail(val, field+"."+k.Value, "want one value on one line, got %s", kindName(val))
		}
		for _, prev := range out {
			if strings.EqualFold(prev.Name, k.Value) {
				return d.fail(k, field, "directive %s is set twice", k.Value)
			}
		}
		d.seen[field+"."+k.Value] = k
		out = append(out, apache.Directive{Name: k.Value, Value: val.Value})
	}
	v.Set(reflect.ValueOf(out))
	return nil
}

// decodeScalar decodes one plain value: text, a whole number, a number or
// a boolean, each only from its own YAML type.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, field string) error {
	t := v.Type()
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return d.fail(n, field, "want a single value, got %s", kindName(n))
	}
	switch t.Kind() {
	case reflect.String:
		if n.Tag != "!!str" {
			return d.fail(n, field, "want text, got %s; quote it if it is meant as text", n.Value)
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			return d.fail(n, field, "want a whole number, got %q", n.Value)
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!float") {
			return d.fail(n, field, "want a number, got %q", n.Value)
		}
		v.SetFloat(f)
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return d.fail(n, field, "want true or false, got %q", n.Value)
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		return d.fail(n, field, "internal: no decoder for %s", t)
	}
	return nil
}

// loadTree reads config c's tree (dir) and applies its host, its MPM and
// the scenario's TLS to it, naming the field at fault.
func (s *Spec) loadTree(at atFunc, field string, c *ConfigSpec) (apache.Config, error) {
	p := s.near(c.Dir)
	cfg, err := apache.LoadTree(c.Name, p)
	if err != nil {
		return cfg, at(field+".dir", "%v", err)
	}
	if c.Host != "" && !cfg.Tree.HasVhost(c.Host) {
		return cfg, at(field+".host", "config tree %s has no vhost with ServerName or ServerAlias %s", p, c.Host)
	}
	cfg.Tree.Host = c.Host
	if s.TLS {
		if _, err := cfg.Tree.SSLVhost(c.Host); err != nil {
			return cfg, at("tls", "%v", err)
		}
	}
	if c.MPM != "" {
		if cfg, err = cfg.WithMPM(c.MPM); err != nil {
			return cfg, at(field+".mpm", "%v", err)
		}
	}
	return cfg, nil
}
