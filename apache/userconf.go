package apache

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// mpmDirectives are the directives Check reads from a user's file.
var mpmDirectives = []string{"ServerLimit", "MaxRequestWorkers", "MaxClients", "ThreadLimit",
	"ThreadsPerChild", "StartServers", "AsyncRequestWorkerFactor", "MinSpareThreads", "MaxSpareThreads",
	"MinSpareServers", "MaxSpareServers", "KeepAlive", "KeepAliveTimeout", "MaxKeepAliveRequests"}

var mpmModule = regexp.MustCompile(`(?mi)^\s*LoadModule\s+mpm_(prefork|worker|event)_module\b`)

// CheckName refuses a config name that is not a plain file name: configs
// name the files of a run folder (NAME.hlog, NAME.httpd.conf), so "..",
// ".", separators or control characters would write elsewhere.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a config needs a name")
	case name == "." || name == ".." || strings.HasPrefix(name, "."):
		return fmt.Errorf("config name %q: must not start with a dot", name)
	case len(name) > 100:
		return fmt.Errorf("config name %q: at most 100 characters", name[:20]+"…")
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("config name %q: use letters, digits, '-', '_', '.' and '+' only (it names files of the run folder)", name)
		}
	}
	return nil
}

// UserConfig reads a complete httpd.conf the user supplies as config name.
// The file is used as it is; containers.Render only replaces its Listen
// lines and adds the mod_status location. The MPM comes from its
// LoadModule line ("unknown" when it has none, for example when it loads
// the MPM through an Include); the MPM directives it sets are read for
// Check.
func UserConfig(name, path string) (Config, error) {
	if err := CheckName(name); err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config file for %s: %w", name, err)
	}
	text := string(b)
	cfg := Config{Name: name, MPM: "unknown", File: path, FileText: text}
	if m := mpmModule.FindAllStringSubmatch(text, -1); len(m) == 1 {
		cfg.MPM = strings.ToLower(m[0][1])
	} else if len(m) > 1 {
		return Config{}, fmt.Errorf("config file %s: it loads %d MPM modules; httpd accepts one", path, len(m))
	}
	for _, line := range strings.Split(text, "\n") {
		cfg.mirror(strings.Fields(line))
	}
	return cfg, nil
}

// mirror records an MPM directive line (its words) in c.Directives, for
// Check.
func (c *Config) mirror(f []string) {
	if len(f) < 2 {
		return
	}
	for _, d := range mpmDirectives {
		if strings.EqualFold(f[0], d) {
			if d == "MaxClients" {
				d = "MaxRequestWorkers" // the 2.2 name, still accepted
			}
			c.Set(Directive{Name: d, Value: f[1]})
		}
	}
}
