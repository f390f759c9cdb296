package scenarios

import (
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/apache"
)

// TestOverrides: each override on a scenario of presets, what it changes,
// and the refusals every caller gets, each naming its override.
func TestOverrides(t *testing.T) {
	presets, err := apache.Presets([]string{"event-stock", "worker-tuned"}, 4000)
	if err != nil {
		t.Fatal(err)
	}
	base := Scenario{Name: "s", Load: DefaultLoad(), Thresholds: DefaultThresholds(), Configs: presets}
	file := apache.Config{Name: "mine", MPM: "event", File: "/etc/httpd.conf"}
	mem, cpus, size := int64(512<<20), 1.5, ByteSize(2048)
	for _, tc := range []struct {
		name  string
		o     Overrides
		check func(t *testing.T, sc Scenario)
		err   string // "field: message" of the refusal, a prefix
	}{
		{name: "nothing", check: func(t *testing.T, sc Scenario) {
			if len(sc.Configs) != 2 || sc.Configs[0].Name != "event-stock" {
				t.Errorf("configs %v", sc.Configs)
			}
		}},
		{name: "set and limits", o: Overrides{Set: []apache.Directive{{Name: "MaxRequestWorkers", Value: "800"}}, MemoryBytes: &mem, CPUs: &cpus},
			check: func(t *testing.T, sc Scenario) {
				for _, c := range sc.Configs {
					if v, _ := c.Get("MaxRequestWorkers"); v != "800" || c.MemoryBytes != mem || c.CPUs != cpus {
						t.Errorf("%s: MaxRequestWorkers %q, memory %d, cpus %g", c.Name, v, c.MemoryBytes, c.CPUs)
					}
				}
			}},
		{name: "a user config added", o: Overrides{Add: []apache.Config{file}}, check: func(t *testing.T, sc Scenario) {
			if len(sc.Configs) != 3 || sc.Configs[2].Name != "mine" {
				t.Errorf("configs %v", sc.Configs)
			}
		}},
		{name: "tls", o: Overrides{TLS: apache.TLSKeyRSA}, check: func(t *testing.T, sc Scenario) {
			if sc.Configs[1].TLS != apache.TLSKeyRSA {
				t.Errorf("TLS %q", sc.Configs[1].TLS)
			}
		}},
		{name: "a name taken", o: Overrides{Add: []apache.Config{{Name: "event-stock", File: "/x.conf"}}}, err: `config-file: event-stock=/x.conf: a config called "event-stock" is already in the run`},
		{name: "set on a config file", o: Overrides{Add: []apache.Config{file}, Set: []apache.Directive{{Name: "A", Value: "1"}}}, err: "set: cannot change config mine, your own config file (/etc/httpd.conf)"},
		{name: "tls on a config file", o: Overrides{Add: []apache.Config{file}, TLS: apache.TLSKeyECDSA}, err: "tls: config mine is your own config file"},
		{name: "a bad key kind", o: Overrides{TLS: "dsa"}, err: "tls-key: "},
		{name: "host without a tree", o: Overrides{Host: "a.example"}, err: "host: chooses a vhost of a config tree"},
		{name: "fpm without php-fpm", o: Overrides{FPM: []apache.Directive{{Name: "pm.max_children", Value: "5"}}}, err: "fpm: sets the php-fpm pool"},
		{name: "a backend size without a backend", o: Overrides{BackendSize: &size}, err: "backend-size: needs a backend"},
		{name: "a file outside the root", o: Overrides{Serve: []File{{Path: "big.bin", Size: 1}}}, err: "file: want an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := tc.o.Apply(base)
			switch {
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("Apply: %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tc.err == "":
				tc.check(t, sc)
			}
			// The scenario given is never changed.
			if v, _ := base.Configs[0].Get("MaxRequestWorkers"); len(base.Configs) != 2 || v == "800" || base.Configs[0].TLS != "" {
				t.Errorf("Apply changed the scenario it was given: %d configs, MaxRequestWorkers %q", len(base.Configs), v)
			}
		})
	}
}
