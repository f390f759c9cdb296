package scenarios

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/bench"
)

func TestShippedScenariosLoad(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 3 {
		t.Fatalf("want the shipped scenarios (compare-4000, smoke, capacity), found %v", files)
	}
	for _, f := range files {
		spec, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		sc, err := spec.Build()
		if err != nil || len(sc.Configs) == 0 {
			t.Errorf("%s: build: %v, %d configs", f, err, len(sc.Configs))
		}
	}
	spec, err := LoadFile("compare-4000.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := spec.Build()
	if !reflect.DeepEqual(sc.Load, DefaultLoad()) || sc.Thresholds != DefaultThresholds() {
		t.Errorf("compare-4000.yaml drifted from the README's default run:\n%+v\n%+v", sc.Load, DefaultLoad())
	}
	var names []string
	for _, c := range sc.Configs {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != strings.Join(apache.PresetNames(), ",") {
		t.Errorf("configs %v, want the six presets %v", names, apache.PresetNames())
	}
	// The TLS scenario runs one tree under worker and under event, both
	// on its SSL vhost, both with the tuned values on top.
	spec, err = LoadFile("tls-4000.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, _ = spec.Build()
	names = names[:0]
	for _, c := range sc.Configs {
		v, _ := c.Get("MaxRequestWorkers")
		names = append(names, fmt.Sprintf("%s/%s/%s/%s", c.Name, c.MPM, c.TLS, v))
	}
	if got := strings.Join(names, " "); got != "shop-worker/worker/ecdsa-p256/8000 shop-event/event/ecdsa-p256/8000" {
		t.Errorf("tls-4000.yaml: %s", got)
	}
}

func TestParseFull(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "mine.conf")
	if err := os.WriteFile(conf, []byte("LoadModule mpm_event_module modules/mod_mpm_event.so\nMaxRequestWorkers 400\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `
name: full
image: httpd:2.4
layout: official
load:
  connections: 300
  ramp: 1s
  warmup: 0s
  duration: 3s
  closed_loop: true
  timeout: 500ms
  method: POST
  paths: [/a, /b]
  headers: ["X-Token: abc"]
  body: hello
configs:
  - preset: event-stock
    name: event-wide
    set:
      MaxRequestWorkers: 400
      ServerLimit: 16
    memory: 512m
    cpus: 1.5
  - name: mine
    file: mine.conf
thresholds:
  max_p99: 250ms
repeat: 3
`
	if spec, err := Parse("auto.yaml", []byte("name: a\nload:\n  warmup: auto\n  warmup_max: 20s\nconfigs: [{preset: event-stock}]\n")); err != nil || spec.Load.WarmUp != bench.WarmUpAuto || spec.Load.WarmUpMax != 20*time.Second {
		t.Errorf("warmup auto: %v, %+v", err, spec)
	}
	spec, err := Parse(filepath.Join(dir, "s.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	l := sc.Load
	if l.Connections != 300 || l.Ramp != time.Second || l.WarmUp != 0 || !l.ClosedLoop || l.RatePerConn != 0 ||
		l.Timeout != 500*time.Millisecond || l.Method != "POST" || strings.Join(l.Paths, ",") != "/a,/b" || l.Body != "hello" || l.Headers[0] != "X-Token: abc" {
		t.Errorf("load %+v", l)
	}
	if sc.Repeats() != 3 {
		t.Errorf("repeat %d, want 3", sc.Repeat)
	}
	if sc.Thresholds.MaxP99 != 250*time.Millisecond || sc.Thresholds.MinServedPct != 100 {
		t.Errorf("thresholds %+v: unset ones keep their defaults", sc.Thresholds)
	}
	if len(sc.Configs) != 2 {
		t.Fatalf("configs %+v", sc.Configs)
	}
	c := sc.Configs[0]
	if v, _ := c.Get("MaxRequestWorkers"); c.Name != "event-wide" || c.MPM != "event" || v != "400" || c.MemoryBytes != 512<<20 || c.CPUs != 1.5 {
		t.Errorf("config 0 %+v", c)
	}
	if m := sc.Configs[1]; m.Name != "mine" || m.File != conf || m.MPM != "event" {
		t.Errorf("config 1 %+v: the file is read relative to the scenario", m)
	}
}

// A rollout: section: the one config switches to rollout.to, by
// stop-start when the MPM changes and gracefully otherwise, 5 s into the
// window unless told.
func TestParseRollout(t *testing.T) {
	src := "name: x\nload:\n  duration: 20s\nconfigs:\n  - preset: prefork-stock\nrollout:\n  to: {preset: event-tuned, name: event-new, set: {MaxRequestWorkers: 500}}\n"
	spec, err := Parse("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := sc.Rollout
	if mrw, _ := r.To.Get("MaxRequestWorkers"); r == nil || r.To.Name != "event-new" || r.To.MPM != "event" || mrw != "500" || r.How != RolloutStopStart || r.At != DefaultRolloutAt {
		t.Fatalf("rollout %+v", r)
	}
	spec, err = Parse("s.yaml", []byte("name: x\nload:\n  duration: 20s\nconfigs:\n  - preset: event-stock\nrollout:\n  to: {preset: event-tuned}\n  at: 9s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := spec.Build(); sc.Rollout == nil || sc.Rollout.How != RolloutGraceful || sc.Rollout.At != 9*time.Second {
		t.Errorf("same MPM: %+v", sc.Rollout)
	}
	if sc, _ := (&Spec{Name: "x", Load: DefaultLoad(), Configs: []ConfigSpec{{Preset: "event-stock"}}}).Build(); sc.Rollout != nil {
		t.Errorf("no rollout: section, and a rollout: %+v", sc.Rollout)
	}
}

// Every error names the file, line and column of the bad value.
func TestParseErrors(t *testing.T) {
	head := "name: x\nload:\n  connections: 10\n"
	cfgs := "configs:\n  - preset: event-stock\n"
	cases := []struct{ name, src, want string }{
		{"empty", "", "s.yaml: the file is empty"},
		{"syntax", "name: x\nload: [\n", "s.yaml:2: YAML syntax: did not find expected node content"},
		{"unknown top key", "name: x\nloda: {}\n" + cfgs, `s.yaml:2:1: loda: unknown key in the top level; did you mean "load"?`},
		{"unknown nested key", head + "  warm_up: 5s\n" + cfgs, `s.yaml:4:3: load.warm_up: unknown key in load; did you mean "warmup"?`},
		{"far unknown key", head + "  zzzzzzzz: 5s\n" + cfgs, "s.yaml:4:3: load.zzzzzzzz: unknown key in load; valid keys: connections, ramp"},
		{"wrong type", "name: x\nload:\n  connections: many\n" + cfgs, `s.yaml:3:16: load.connections: want a whole number, got "many"`},
		{"float for int", "name: x\nload:\n  connections: 1.5\n" + cfgs, `s.yaml:3:16: load.connections: want a whole number`},
		{"bad duration", head + "  ramp: 5 seconds\n" + cfgs, `s.yaml:4:9: load.ramp: want a duration such as 30s, 500ms or 2m, got "5 seconds"`},
		{"duration without unit", head + "  warmup: 30\n" + cfgs, `s.yaml:4:11: load.warmup: want a duration`},
		{"mapping for scalar", "name: {a: b}\n" + cfgs, "s.yaml:1:7: name: want a single value, got a mapping"},
		{"scalar for mapping", "name: x\nload: 5\n" + cfgs, "s.yaml:2:7: load: want a mapping with keys such as connections"},
		{"scalar for list", head + "configs: event-stock\n", "s.yaml:4:10: configs: want a list"},
		{"bool", head + "  closed_loop: yes\n" + cfgs, `s.yaml:4:16: load.closed_loop: want true or false, got "yes"`},
		{"duplicate key", head + "  connections: 20\n" + cfgs, "s.yaml:4:3: load.connections: set twice"},
		{"warmup word", head + "  warmup: soon\n" + cfgs, `s.yaml:4:11: load.warmup: want a duration such as 30s, 500ms or 2m, got "soon"`},
		{"warmup_max with fixed", head + "  warmup: 10s\n  warmup_max: 20s\n" + cfgs, "load.warmup_max: caps an auto warm-up only"},
		{"repeat zero", head + cfgs + "repeat: 0\n", "s.yaml:6:9: repeat: want 1 to 100 runs per config, got 0"},
		{"repeat negative", head + cfgs + "repeat: -1\n", "s.yaml:6:9: repeat: want 1 to 100 runs per config, got -1"},
		{"no name", "load:\n  connections: 10\n" + cfgs, "s.yaml:1:1: name: missing"},
		{"no configs", head, "s.yaml:1:1: configs: give at least one config"},
		{"negative", "name: x\nload:\n  connections: -5\n" + cfgs, "s.yaml:3:16: load.connections: must be at least 1, got -5"},
		{"negative churn", head + "  requests_per_connection: -2\n" + cfgs, "s.yaml:4:28: load.requests_per_connection: must be at least 1"},
		{"unknown protocol", head + "  protocol: h3\n" + cfgs, `s.yaml:4:13: load.protocol: "h3": want h2 (HTTP/2 over TLS), h2c`},
		{"streams over http/1.1", head + "  streams: 6\n" + cfgs, "s.yaml:4:12: load.streams: HTTP/1.1 sends one request at a time on a connection: 6 streams need protocol h2 or h2c"},
		{"config load streams", head + "configs:\n  - preset: event-tuned-h2\n    load: {streams: 4}\n", "s.yaml:6:11: configs[0].load: streams: HTTP/1.1 sends one request at a time"},
		{"config load unknown key", head + "configs:\n  - preset: event-tuned-h2\n    load: {stream: 4}\n", `configs[0].load.stream: unknown key in configs[0].load; did you mean "streams"?`},
		{"closed loop and rate", head + "  closed_loop: true\n  rate_per_conn: 3\n" + cfgs, "s.yaml:5:18: load.rate_per_conn: closed loop sends"},
		{"bad path", head + "  paths: [index.html]\n" + cfgs, "s.yaml:4:10: load.paths: a path must start with /"},
		{"unknown preset", head + "configs:\n  - preset: event-fast\n", `s.yaml:5:13: configs[0].preset: "event-fast": choose from prefork-stock`},
		{"preset and file", head + "configs:\n  - preset: event-stock\n    file: x.conf\n", "s.yaml:6:11: configs[0].file: give one of preset, file and dir, not more"},
		{"neither", head + "configs:\n  - name: x\n", "s.yaml:5:5: configs[0]: give one of preset"},
		{"dir missing", head + "configs:\n  - name: x\n    dir: nope\n", "s.yaml:6:10: configs[0].dir: config tree for x: stat"},
		{"host not in the tree", head + "configs:\n  - name: shop\n    dir: trees/debian-shop\n    host: blog.example\n", "s.yaml:7:11: configs[0].host: config tree trees/debian-shop has no vhost with ServerName or ServerAlias blog.example"},
		{"host without dir", head + "configs:\n  - preset: event-stock\n    host: a.example\n", "configs[0].host: host chooses a vhost of a config tree: give dir too"},
		{"twice", head + "configs:\n  - preset: event-stock\n  - preset: event-stock\n", `s.yaml:6:5: configs[1].name: config "event-stock" is listed twice`},
		{"missing file", head + "configs:\n  - name: mine\n    file: nope.conf\n", "s.yaml:6:11: configs[0].file: config file for mine: open"},
		{"bad directive", head + "configs:\n  - preset: event-stock\n    set: {\"Max Workers\": 3}\n", `s.yaml:6:11: configs[0].set.Max Workers: override`},
		{"directive list", head + "configs:\n  - preset: event-stock\n    set: [a]\n", "s.yaml:6:10: configs[0].set: want a mapping of directive to value"},
		{"bad memory", head + "configs:\n  - preset: event-stock\n    memory: lots\n", `s.yaml:6:13: configs[0].memory: want a size such as 512m or 2g, got "lots"`},
		{"contradiction", head + "configs:\n  - preset: event-stock\n    set: {MaxRequestWorkers: 1000}\n", "s.yaml:5:5: configs[0]: event-stock: MaxRequestWorkers 1000 is above ServerLimit"},
		{"bad layout", "name: x\nlayout: rpm\n" + cfgs, `s.yaml:2:9: layout: unknown layout "rpm"`},
		{"threshold", "name: x\nthresholds:\n  min_served_pct: 120\n" + cfgs, "s.yaml:3:19: thresholds.min_served_pct: must be within 0..100, got 120"},
		{"capacity", "name: x\ncapacity:\n  start: 1000\n  max: 10\n" + cfgs, "s.yaml:4:8: capacity.max: must be at least start (1000), got 10"},
		{"capacity search", "name: x\ncapacity:\n  search: bisection\n" + cfgs, `s.yaml:3:11: capacity.search: must be stepped or bisect, got "bisection"`},
		{"capacity step factor", "name: x\ncapacity:\n  step_factor: 32\n" + cfgs, "s.yaml:3:16: capacity.step_factor: must be within 2..16 (each step multiplies the last), got 32"},
		{"capacity arrival", "name: x\ncapacity:\n  arrival: sometimes\n" + cfgs, `s.yaml:3:12: capacity.arrival: must be always, near_target or never, got "sometimes"`},
		{"tls_key without tls", "name: x\ntls_key: rsa2048\n" + cfgs, "s.yaml:2:10: tls_key: needs tls: true"},
		{"kubernetes fleet", "name: x\ngenerator:\n  fleet: kubernetes\n" + cfgs, "s.yaml:3:10: generator.fleet: kubernetes pods cannot reach the httpd containers"},
		{"unknown fleet", "name: x\ngenerator:\n  fleet: nomad\n" + cfgs, `s.yaml:3:10: generator.fleet: unknown fleet "nomad": use local or swarm`},
		{"swarm without shards", "name: x\ngenerator:\n  fleet: swarm\n" + cfgs, "s.yaml:3:3: generator.shards: the swarm fleet needs the number of job services"},
		{"negative shards", "name: x\ngenerator:\n  shards: -1\n" + cfgs, "s.yaml:3:11: generator.shards: want 0 (local: as many as needed) or more, got -1"},
		{"clock without swarm", "name: x\ngenerator:\n  clock_addr: 127.0.0.1:0\n" + cfgs, "s.yaml:3:15: generator.clock_addr: only swarm shards read the clock"},
		{"swarm auto warm-up", "name: x\ngenerator: {fleet: swarm, shards: 2}\nload:\n  warmup: auto\n" + cfgs, "s.yaml:4:11: load.warmup: the swarm fleet needs a fixed warm-up"},
		{"bad tls_key", "name: x\ntls: true\ntls_key: dsa\n" + cfgs, `s.yaml:3:10: tls_key: unknown TLS key "dsa"`},
		{"tls with a config file", "name: x\ntls: true\nconfigs:\n  - name: mine\n    file: x.conf\n", "s.yaml:5:11: configs[0].file: tls serves HTTPS for presets and config trees"},
		{"tls without an SSL vhost", "name: x\ntls: true\nconfigs:\n  - name: blog\n    dir: ../apache/testdata/official-tree\n", "s.yaml:2:6: tls: config tree ../apache/testdata/official-tree has no SSL virtual host"},
		{"mpm without dir", head + "configs:\n  - preset: event-stock\n    mpm: worker\n", "s.yaml:6:10: configs[0].mpm: mpm switches a config tree's MPM: give dir too"},
		{"bad mpm", head + "configs:\n  - name: shop\n    dir: trees/debian-shop\n    mpm: fast\n", `s.yaml:7:10: configs[0].mpm: unknown MPM "fast"`},
		{"file path", head + cfgs + "workload:\n  files:\n    - {path: page.html, size: 1k}\n", `s.yaml:8:14: workload.files[0].path: want an absolute path`},
		{"file size", head + cfgs + "workload:\n  files:\n    - {path: /big, size: 1g}\n", "s.yaml:8:26: workload.files[0].size: want 0 to 64m"},
		{"file size word", head + cfgs + "workload:\n  files:\n    - {path: /big, size: huge}\n", `workload.files[0].size: want a size such as 512m or 2g, got "huge"`},
		{"file twice", head + cfgs + "workload:\n  files:\n    - {path: /a, size: 1k}\n    - {path: /a, size: 2k}\n", "workload.files[1].path: /a is listed twice"},
		{"paths_from missing", head + cfgs + "workload:\n  paths_from: nope.log\n", "s.yaml:7:15: workload.paths_from: open nope.log: no such file"},
		{"paths_from a device", head + cfgs + "workload:\n  paths_from: /dev/zero\n", "workload.paths_from: /dev/zero: want an access log file of at most 4 GiB"},
		{"paths_from and paths", head + "  paths: [/a]\n" + cfgs + "workload:\n  paths_from: nope.log\n", "workload.paths_from: the access log gives the paths and methods: drop load.paths"},
		{"backend latency", head + cfgs + "workload:\n  backend: {path: /app, latency: \"quantiles p50=40ms p90=30ms\"}\n", "s.yaml:7:34: workload.backend.latency: latency \"quantiles p50=40ms p90=30ms\": the quantiles must grow"},
		{"slow share", head + cfgs + "workload:\n  slow_clients: {share: 120%, read_rate: 16k}\n", "s.yaml:7:25: workload.slow_clients.share: want a share of the connections from 0% to 100%, got 120%"},
		{"slow share word", head + cfgs + "workload:\n  slow_clients: {share: some}\n", `workload.slow_clients.share: want a share such as 20%, got "some"`},
		{"slow rate", head + cfgs + "workload:\n  slow_clients: {share: 20%, read_rate: fast}\n", `workload.slow_clients.read_rate: want a size such as 512m or 2g, got "fast"`},
		{"slow no rate", head + cfgs + "workload:\n  slow_clients: {share: 20%}\n", "workload.slow_clients.read_rate: want a read rate of at least 64 bytes a second"},
		{"slow window", head + "  paths: [/big]\n" + cfgs + "workload:\n  files: [{path: /big, size: 1m}]\n  slow_clients: {share: 20%, read_rate: 16k}\n", "load.duration: slow clients read /big (1MiB) at 16KiB a second in 1m4s"},
		{"fpm without php-fpm", head + "configs:\n  - preset: event-stock\n    fpm: {pm.max_children: 5}\n", "configs[0].fpm.pm.max_children: event-stock does not run php-fpm"},
		{"fpm on a file", head + "configs:\n  - name: mine\n    file: x.conf\n    fpm: {pm.max_children: 5}\n", "configs[0].fpm: fpm sets the php-fpm pool of the event-phpfpm preset"},
		{"fpm listen", head + "configs:\n  - preset: event-phpfpm\n    fpm: {listen: /tmp/s}\n", "s.yaml:6:11: configs[0].fpm.listen: fpm setting listen: loadcheck sets it"},
		{"fpm contradiction", head + "configs:\n  - preset: event-phpfpm\n    fpm: {pm.max_children: 5, pm.start_servers: 9}\n", "configs[0]: event-phpfpm: php-fpm would refuse its pool"},
		{"backend path", head + cfgs + "workload:\n  backend: {path: app, latency: 50ms}\n", "workload.backend.path: want an absolute path"},
		{"two documents", "name: x\n" + cfgs + "---\nname: y\n", "s.yaml:4:1: a scenario file holds one YAML document"},
		{"alias", "name: &n x\ndescription: *n\n" + cfgs, "s.yaml:2:14: description: YAML aliases are not supported"},
		{"rollout of two configs", head + cfgs + "  - preset: worker-stock\nrollout:\n  to: {preset: event-tuned}\n", "configs: a rollout runs one config (the running one)"},
		{"rollout without to", head + cfgs + "rollout:\n  how: graceful\n", "s.yaml:7:3: rollout.to: missing"},
		{"rollout to itself", head + cfgs + "rollout:\n  to: {preset: event-stock}\n", `rollout.to.name: config "event-stock" is listed twice`},
		{"rollout how", head + cfgs + "rollout:\n  to: {preset: event-tuned}\n  how: reload\n", `s.yaml:8:8: rollout.how: unknown switch "reload": use graceful, restart, stop-start`},
		{"rollout MPM by signal", head + cfgs + "rollout:\n  to: {preset: worker-stock}\n  how: graceful\n", "s.yaml:8:8: rollout.how: event-stock runs event and worker-stock worker: httpd cannot change its MPM on a graceful signal"},
		{"rollout after the window", head + cfgs + "rollout:\n  to: {preset: event-tuned}\n  at: 1h\n", "s.yaml:8:7: rollout.at: the switch at 1h0m0s must fall inside the measured window"},
		{"rollout to a bad config", head + cfgs + "rollout:\n  to: {preset: event-fast}\n", `rollout.to.preset: "event-fast": choose from`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("%T is not a *LoadError", err)
			}
		})
	}
}

func TestOnly(t *testing.T) {
	spec, err := Parse("s.yaml", []byte("name: x\nconfigs:\n  - preset: event-stock\n    name: wide\n    set: {MaxRequestWorkers: 400, ServerLimit: 16}\n  - preset: worker-stock\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Only([]string{"event-tuned", "wide"}); err != nil {
		t.Fatal(err)
	}
	sc, _ := spec.Build()
	if len(sc.Configs) != 2 || sc.Configs[0].Name != "event-tuned" || sc.Configs[1].Name != "wide" {
		t.Fatalf("configs %+v", sc.Configs)
	}
	if v, _ := sc.Configs[1].Get("MaxRequestWorkers"); v != "400" {
		t.Errorf("the scenario's own config keeps its overrides, got %s", v)
	}
	if err := spec.Only([]string{"nope"}); err == nil || !strings.Contains(err.Error(), `config "nope" is neither in s.yaml (event-tuned, wide) nor a preset`) {
		t.Errorf("err %v", err)
	}
}

// FuzzParse: no input may panic the loader, and whatever it accepts builds.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("name: x\nconfigs: [{preset: event-stock, set: {A: 1}}]\nload: {connections: 1e9}\n"))
	f.Add([]byte("{[}: &a *a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is %T, not a *LoadError", err, err)
			}
			return
		}
		if _, err := spec.Build(); err != nil {
			t.Fatalf("accepted, then failed to build: %v", err)
		}
	})
}

// TestTreeConfig: a scenario's dir config is the tree, with its vhost and
// its set directives, which go after the tree.
func TestTreeConfig(t *testing.T) {
	spec, err := Parse("s.yaml", []byte("name: x\nconfigs:\n  - name: shop\n    dir: trees/debian-shop\n    host: www.shop.example\n    set: {MaxRequestWorkers: 400}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := sc.Configs[0]
	if c.Tree == nil || c.Tree.Host != "www.shop.example" || len(c.Tree.Set) != 1 || c.MPM != "event" {
		t.Fatalf("config %+v", c)
	}
	if v, _ := c.Get("MaxRequestWorkers"); v != "400" {
		t.Errorf("MaxRequestWorkers %q: want set's 400 mirrored for the checks", v)
	}
}
