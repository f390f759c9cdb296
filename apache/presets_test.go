package apache

import (
	"strings"
	"testing"
	"time"
)

func TestPresets(t *testing.T) {
	names := PresetNames()
	if len(names) != 6 {
		t.Fatalf("got %d presets %v, want 6", len(names), names)
	}
	tests := []struct {
		name, directive, want string
	}{
		{"prefork-stock", "MaxRequestWorkers", "150"},
		{"worker-stock", "MaxRequestWorkers", "150"},
		{"event-stock", "ThreadsPerChild", "25"},
		{"event-tuned", "MaxRequestWorkers", "8000"},
		{"worker-tuned", "ServerLimit", "250"},
		{"worker-tuned", "MaxConnectionsPerChild", "10000"},
		{"prefork-tuned", "MaxRequestWorkers", "8000"},
		{"prefork-tuned", "StartServers", "4000"},
	}
	for _, tc := range tests {
		c, err := Preset(tc.name, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Get(tc.directive); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.name, tc.directive, got, tc.want)
		}
		if got, _ := c.Get("KeepAlive"); got != "On" {
			t.Errorf("%s KeepAlive = %q, want On", tc.name, got)
		}
	}
	// Tuned prefork grows with the target: process limits >= connections.
	c, _ := Preset("prefork-tuned", 12000)
	if got, _ := c.Get("ServerLimit"); got != "12000" {
		t.Errorf("prefork-tuned at 12000: ServerLimit %s, want 12000", got)
	}
}

func TestPresetErrors(t *testing.T) {
	for _, in := range [][]string{{"apache-fast"}, {"event-stock", "event-stock"}, {}} {
		if _, err := Presets(in, 100); err == nil {
			t.Errorf("Presets(%v): got no error", in)
		}
	}
	_, err := Preset("evnt-tuned", 100)
	if err == nil || !strings.Contains(err.Error(), "event-tuned") {
		t.Errorf("got %v, want an error listing the valid names", err)
	}
}

func TestOverride(t *testing.T) {
	c, _ := Preset("event-stock", 100)
	d, err := ParseOverride("MaxRequestWorkers=4000")
	if err != nil {
		t.Fatal(err)
	}
	c.Set(d)
	if got, _ := c.Get("maxrequestworkers"); got != "4000" {
		t.Errorf("got %q, want 4000", got)
	}
	n := len(c.Directives)
	c.Set(Directive{"AsyncRequestWorkerFactor", "4"})
	if len(c.Directives) != n+1 {
		t.Errorf("new directive not appended")
	}
	for _, bad := range []string{"MaxRequestWorkers", "=4", "Max Request=1", "X=1\nInclude /etc/passwd", "A="} {
		if _, err := ParseOverride(bad); err == nil {
			t.Errorf("ParseOverride(%q): got no error", bad)
		}
	}
}

// Config names become file names in the run folder: nothing that could
// write beside it.
func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", `a\b`, "a b", "x\x00", "tab\there", "é"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q): got no error", bad)
		}
	}
	for _, good := range []string{"event-tuned", "mine_2", "v2.4+tls"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
	if _, err := UserConfig("..", "/dev/null"); err == nil || !strings.Contains(err.Error(), "dot") {
		t.Errorf("UserConfig(\"..\"): got %v", err)
	}
}

func TestKeepAliveTimeout(t *testing.T) {
	p, _ := Preset("event-stock", 100)
	tree, _ := LoadTree("blog", "testdata/official-tree")
	for _, tc := range []struct {
		cfg  Config
		set  []Directive
		want time.Duration
	}{
		{p, nil, 5 * time.Second},
		{p, []Directive{{"KeepAliveTimeout", "500ms"}}, 500 * time.Millisecond},
		{p, []Directive{{"KeepAliveTimeout", "15"}}, 15 * time.Second},
		{p, []Directive{{"KeepAlive", "Off"}}, 0},
		{tree, nil, 5 * time.Second}, // httpd's default: the tree sets none
		{Config{Name: "target"}, nil, 0},
	} {
		c := tc.cfg
		c.Directives = append([]Directive(nil), c.Directives...)
		for _, d := range tc.set {
			c.Set(d)
		}
		if got := c.KeepAliveTimeout(); got != tc.want {
			t.Errorf("%s %v: %s, want %s", c.Name, tc.set, got, tc.want)
		}
	}
}

// TestH2Workers: mod_http2's workers per child, set or httpd's defaults.
func TestH2Workers(t *testing.T) {
	for _, c := range []struct {
		preset     string
		set        []Directive
		minW, maxW int
	}{
		{"event-stock", nil, 25, 37},
		{"worker-tuned", nil, 32, 48},
		{"prefork-stock", nil, 1, 4},
		{"event-stock", []Directive{{"H2MaxWorkers", "64"}}, 25, 64},
		{"event-stock", []Directive{{"H2MinWorkers", "4"}}, 4, 6},
	} {
		cfg, err := Preset(c.preset, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.set {
			cfg.Set(d)
		}
		if minW, maxW := cfg.H2Workers(); minW != c.minW || maxW != c.maxW {
			t.Errorf("%s %v: H2Workers %d, %d; want %d, %d", c.preset, c.set, minW, maxW, c.minW, c.maxW)
		}
	}
}
