package apache

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PHP is how a config runs PHP: the two setups of the migration the
// article's readers face, from mod_php under prefork to php-fpm behind
// event's mod_proxy_fcgi.
type PHP struct {
	// Mode is PHPModule or PHPFPM.
	Mode string `json:"mode"`
	// Listen is the pool's address (127.0.0.1:PORT), chosen where it
	// runs: a TCP socket, since php-fpm counts its listen queue on TCP
	// sockets only. PHPFPM only.
	Listen string `json:"listen,omitempty"`
	// Pool is the php-fpm pool settings asked for (pm, pm.max_children,
	// ...); Settings fills in the rest. PHPFPM only.
	Pool []Directive `json:"pool,omitempty"`
}

// The PHP modes.
const (
	PHPModule = "mod_php" // libphp in every prefork process
	PHPFPM    = "php-fpm" // a php-fpm pool behind mod_proxy_fcgi
)

// Where PHP lives in loadcheck's containers: the page every PHP preset
// serves, php-fpm's config, and its status page, which the observers read
// through httpd.
const (
	PHPPage       = "/app.php"
	PHPStatusPath = "/fpm-status"
	FPMConf       = "/loadcheck/php-fpm.conf"
	PHPPageSource = "/loadcheck/app.php"
)

// PHPPresetNames are the PHP migration's presets. They are not among
// PresetNames, the default run's six.
func PHPPresetNames() []string { return []string{"prefork-modphp", "event-phpfpm"} }

// AllPresetNames is every preset: the six, then the PHP ones.
func AllPresetNames() []string {
	return append(append(PresetNames(), H2PresetNames()...), PHPPresetNames()...)
}

// defaultPool is event-phpfpm's pool unless set: room for 100 PHP
// requests at once, which at 50 ms each is 2000 a second, more than two
// cores serve. The spare and start counts are capped at pm.max_children
// (see Settings).
var defaultPool = []Directive{
	{"pm", "dynamic"},
	{"pm.max_children", "100"},
	{"pm.start_servers", "20"},
	{"pm.min_spare_servers", "10"},
	{"pm.max_spare_servers", "40"},
}

// Settings is the pool as php-fpm runs it: the settings asked for, and
// loadcheck's defaults for the rest, whose spare and start counts are
// capped at pm.max_children so that setting only that stays valid.
func (p *PHP) Settings() []Directive {
	most := -1
	if v, ok := p.Get("pm.max_children"); ok {
		most, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	var out []Directive
	for _, d := range defaultPool {
		if _, ok := p.Get(d.Name); ok {
			continue
		}
		if n, err := strconv.Atoi(d.Value); err == nil && most > 0 && d.Name != "pm.max_children" && n > most {
			d.Value = strconv.Itoa(most)
		}
		out = append(out, d)
	}
	return append(out, p.Pool...)
}

// checkPool finds a php-fpm pool that php-fpm would refuse to start:
// dynamic spare and start counts out of order.
func (p *PHP) checkPool(name string) []Finding {
	if p == nil || p.Mode != PHPFPM {
		return nil
	}
	get := func(k string) (int, bool) {
		for _, d := range p.Settings() {
			if d.Name == k {
				n, err := strconv.Atoi(strings.TrimSpace(d.Value))
				return n, err == nil
			}
		}
		return 0, false
	}
	var out []Finding
	for _, k := range []string{"pm.max_children", "pm.start_servers", "pm.min_spare_servers", "pm.max_spare_servers"} {
		if n, ok := get(k); !ok || n < 1 {
			v, _ := p.Get(k)
			out = append(out, Finding{Error: true, Msg: fmt.Sprintf("%s: php-fpm %s %q is not a whole number of at least 1", name, k, v)})
		}
	}
	if len(out) > 0 {
		return out
	}
	most, _ := get("pm.max_children")
	start, _ := get("pm.start_servers")
	lo, _ := get("pm.min_spare_servers")
	hi, _ := get("pm.max_spare_servers")
	if pm, _ := p.Get("pm"); pm == "" || pm == "dynamic" {
		if lo > hi || hi > most || start < lo || start > hi {
			out = append(out, Finding{Error: true, Msg: fmt.Sprintf(
				"%s: php-fpm would refuse its pool: it needs pm.min_spare_servers (%d) <= pm.start_servers (%d) <= pm.max_spare_servers (%d) <= pm.max_children (%d)",
				name, lo, start, hi, most)})
		}
	}
	return out
}

// phpPreset returns a PHP preset, or false when name is none.
func phpPreset(name string, target int) (Config, bool) {
	switch name {
	case "prefork-modphp":
		// The legacy setup, sized as prefork-tuned: a process per
		// connection, each with PHP loaded.
		dirs := append(append([]Directive{}, keepAlive...), tunedPrefork(target)...)
		return Config{Name: name, MPM: "prefork", Directives: dirs, PHP: &PHP{Mode: PHPModule}}, true
	case "event-phpfpm":
		dirs := append(append([]Directive{}, keepAlive...), tunedThreaded...)
		return Config{Name: name, MPM: "event", Directives: dirs, PHP: &PHP{Mode: PHPFPM}}, true
	}
	return Config{}, false
}

var poolKey = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\[[A-Za-z0-9_.]+\])?$`)

// SetPool sets php-fpm pool setting d (pm.max_children=200, say) in c,
// which must run php-fpm.
func (c *Config) SetPool(d Directive) error {
	switch {
	case c.PHP == nil || c.PHP.Mode != PHPFPM:
		return fmt.Errorf("%s does not run php-fpm: fpm settings apply to event-phpfpm", c.Name)
	case !poolKey.MatchString(d.Name):
		return fmt.Errorf("fpm setting %q: want a pool setting such as pm.max_children", d.Name)
	case strings.ContainsAny(d.Value, "\r\n"):
		return fmt.Errorf("fpm setting %s: the value must be on one line", d.Name)
	case d.Name == "listen" || strings.HasPrefix(d.Name, "listen.") || d.Name == "pm.status_path" || d.Name == "user" || d.Name == "group":
		return fmt.Errorf("fpm setting %s: loadcheck sets it to reach the pool; change pm.* settings instead", d.Name)
	}
	p := *c.PHP
	p.Pool = append([]Directive(nil), p.Pool...)
	for i := range p.Pool {
		if p.Pool[i].Name == d.Name {
			p.Pool[i].Value = d.Value
			c.PHP = &p
			return nil
		}
	}
	p.Pool = append(p.Pool, d)
	c.PHP = &p
	return nil
}

// Get returns pool setting name as asked for, and whether it was.
func (p *PHP) Get(name string) (string, bool) {
	for _, d := range p.Pool {
		if d.Name == name {
			return d.Value, true
		}
	}
	return "", false
}

// fpmHandler is the handler that sends a request to the pool.
func fpmHandler(php *PHP) string {
	return "proxy:fcgi://" + php.listen()
}

// listen is the pool's address, or the usual one when none was chosen
// (a config rendered to be read, not run).
func (p *PHP) listen() string { return cmp.Or(p.Listen, "127.0.0.1:9000") }

// Describe is the PHP setup in a few words.
func (p *PHP) Describe() string {
	if p.Mode != PHPFPM {
		return "PHP in every process (mod_php)"
	}
	var parts []string
	for _, d := range p.Settings() {
		parts = append(parts, d.Name+" "+d.Value)
	}
	return "PHP in php-fpm (" + strings.Join(parts, ", ") + ")"
}

// renderPHP adds PHP to a preset's httpd.conf.
func renderPHP(p func(format string, a ...any), layout Layout, php *PHP, at Paths) {
	if php == nil {
		return
	}
	p("")
	switch php.Mode {
	case PHPModule:
		p("# mod_php: PHP runs inside every prefork process")
		p("LoadModule php_module %s/libphp8.2.so", layout.ModulesDir)
		p("<FilesMatch \"\\.php$\">")
		p("  SetHandler application/x-httpd-php")
		p("</FilesMatch>")
	case PHPFPM:
		p("# php-fpm behind mod_proxy_fcgi: PHP runs in the pool, not in httpd")
		loadModules(p, layout, "proxy", "proxy_fcgi")
		p("<FilesMatch \"\\.php$\">")
		p("  SetHandler %q", fpmHandler(php))
		p("</FilesMatch>")
		p("<Location %q>", PHPStatusPath)
		p("  SetHandler %q", fpmHandler(php))
		p("  Require all granted")
		p("</Location>")
	}
}

// RenderFPM is php-fpm's config for a PHPFPM config: one pool on a unix
// socket in the runtime folder, its status page at PHPStatusPath, then
// the pool settings.
func RenderFPM(php *PHP, at Paths) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("; Generated by loadcheck: php-fpm for the %s config's pool.", PHPFPM)
	p("[global]")
	p("pid = %s/php-fpm.pid", at.RunDir)
	p("error_log = /proc/self/fd/2")
	p("daemonize = no")
	p("")
	p("[app]")
	p("user = %s", at.User)
	p("group = %s", at.User)
	p("listen = %s", php.listen())
	p("listen.allowed_clients = 127.0.0.1")
	p("listen.backlog = 4096")
	p("pm.status_path = %s", PHPStatusPath)
	p("catch_workers_output = yes")
	for _, d := range php.Settings() {
		p("%s = %s", d.Name, d.Value)
	}
	return b.String()
}

// PHPPageText is the page every PHP preset serves at PHPPage: it waits
// wait_ms (default 50) as an application waits on its database, then
// works the CPU for work_us microseconds (default 200), and answers "ok".
const PHPPageText = `<?php
// loadcheck's PHP page: ?wait_ms=50&work_us=200 (the defaults).
$wait = min(max((int)($_GET['wait_ms'] ?? 50), 0), 60000);
$work = min(max((int)($_GET['work_us'] ?? 200), 0), 1000000);
usleep($wait * 1000);
$end = hrtime(true) + $work * 1000;
$x = '';
while (hrtime(true) < $end) {
    $x = md5($x);
}
echo "ok\n";
`
