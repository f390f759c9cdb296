package apache

import (
	"strings"
	"testing"
)

func TestPHPPresets(t *testing.T) {
	modphp, err := Preset("prefork-modphp", 4000)
	if err != nil || modphp.MPM != "prefork" || modphp.PHP == nil || modphp.PHP.Mode != PHPModule {
		t.Fatalf("prefork-modphp: %+v, %v", modphp, err)
	}
	if v, _ := modphp.Get("MaxRequestWorkers"); v != "8000" {
		t.Errorf("prefork-modphp is sized as prefork-tuned: MaxRequestWorkers %s, want 8000", v)
	}
	conf := Render(modphp, Debian, "127.0.0.1:8080", ContainerPaths)
	for _, want := range []string{"LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so", "SetHandler application/x-httpd-php"} {
		if !strings.Contains(conf, want) {
			t.Errorf("prefork-modphp's httpd.conf lacks %q:\n%s", want, conf)
		}
	}
	fpm, _ := Preset("event-phpfpm", 4000)
	fpm.PHP.Listen = "127.0.0.1:9123"
	conf = Render(fpm, Debian, "127.0.0.1:8080", ContainerPaths)
	for _, want := range []string{`SetHandler "proxy:fcgi://127.0.0.1:9123"`, `<Location "/fpm-status">`, "LoadModule proxy_fcgi_module"} {
		if !strings.Contains(conf, want) {
			t.Errorf("event-phpfpm's httpd.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "php_module") {
		t.Errorf("event-phpfpm loads mod_php:\n%s", conf)
	}
	if err := fpm.SetPool(Directive{"pm.max_children", "2"}); err != nil {
		t.Fatal(err)
	}
	pool := RenderFPM(fpm.PHP, ContainerPaths)
	// Only max_children was set: the spare and start counts follow it.
	for _, want := range []string{"listen = 127.0.0.1:9123", "pm.status_path = /fpm-status", "pm.max_children = 2", "pm.start_servers = 2", "pm.min_spare_servers = 2", "pm.max_spare_servers = 2"} {
		if !strings.Contains(pool, want+"\n") {
			t.Errorf("pool lacks %q:\n%s", want, pool)
		}
	}
	if f := fpm.Check(100); len(f) != 0 {
		t.Errorf("a pool of 2: %v", f)
	}
}

func TestSetPool(t *testing.T) {
	fpm, _ := Preset("event-phpfpm", 100)
	stock, _ := Preset("event-stock", 100)
	for _, c := range []struct {
		cfg  Config
		d    Directive
		want string
	}{
		{stock, Directive{"pm.max_children", "5"}, "event-stock does not run php-fpm"},
		{fpm, Directive{"listen", "0.0.0.0:9000"}, "loadcheck sets it to reach the pool"},
		{fpm, Directive{"PM Max", "5"}, "want a pool setting such as pm.max_children"},
		{fpm, Directive{"pm.max_children", "5\nuser = root"}, "the value must be on one line"},
	} {
		if err := c.cfg.SetPool(c.d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want %q", c.cfg.Name, c.d, err, c.want)
		}
	}
	for _, c := range []struct {
		d    []Directive
		want string
	}{
		{[]Directive{{"pm.max_spare_servers", "200"}}, "pm.min_spare_servers (10) <= pm.start_servers (20) <= pm.max_spare_servers (200) <= pm.max_children (100)"},
		{[]Directive{{"pm.max_children", "many"}}, `php-fpm pm.max_children "many" is not a whole number`},
	} {
		cfg := fpm
		for _, d := range c.d {
			if err := cfg.SetPool(d); err != nil {
				t.Fatal(err)
			}
		}
		f := cfg.Check(100)
		if len(f) == 0 || !f[0].Error || !strings.Contains(f[0].Msg, c.want) {
			t.Errorf("%+v: findings %v, want an error %q", c.d, f, c.want)
		}
	}
	// PHP's own settings go in the pool too.
	withLimit := fpm
	if err := withLimit.SetPool(Directive{"php_admin_value[memory_limit]", "256M"}); err != nil ||
		!strings.Contains(RenderFPM(withLimit.PHP, ContainerPaths), "php_admin_value[memory_limit] = 256M\n") {
		t.Errorf("php_admin_value: %v", err)
	}
	// SetPool copies: the preset it came from keeps its pool.
	if len(fpm.PHP.Pool) != 0 {
		t.Errorf("SetPool changed the original config's pool: %+v", fpm.PHP.Pool)
	}
}
