package apache

import (
	"strings"
	"testing"
)

func TestRenderPerLayout(t *testing.T) {
	tests := []struct {
		layout Layout
		config string
		want   []string
	}{
		{Official, "event-tuned", []string{
			`ServerRoot "/usr/local/apache2"`,
			"LoadModule mpm_event_module /usr/local/apache2/modules/mod_mpm_event.so",
			"LoadModule status_module /usr/local/apache2/modules/mod_status.so",
			"ThreadsPerChild 32", "MaxRequestWorkers 8000", "ServerLimit 250",
			"<IfModule mpm_event_module>\n  LogLevel mpm_event:trace5\n</IfModule>",
		}},
		{Debian, "prefork-stock", []string{
			`ServerRoot "/etc/apache2"`,
			"LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
			"<IfModule !unixd_module>",
			"MaxRequestWorkers 150", "StartServers 5",
		}},
		{Debian, "worker-stock", []string{
			"LoadModule mpm_worker_module /usr/lib/apache2/modules/mod_mpm_worker.so",
			"ThreadsPerChild 25", "MaxRequestWorkers 150",
		}},
	}
	for _, tc := range tests {
		cfg, err := Preset(tc.config, 4000)
		if err != nil {
			t.Fatal(err)
		}
		conf := Render(cfg, tc.layout, "127.0.0.1:8080", ContainerPaths)
		common := []string{"Listen 127.0.0.1:8080", "KeepAlive On", "ExtendedStatus On",
			"SetHandler server-status", "ErrorLog /proc/self/fd/2", "DocumentRoot \"/loadcheck-htdocs\""}
		for _, want := range append(tc.want, common...) {
			if !strings.Contains(conf, want+"\n") {
				t.Errorf("%s/%s: httpd.conf lacks %q; got:\n%s", tc.layout.Name, tc.config, want, conf)
			}
		}
		// Exactly one MPM, and no Include of the image's own files.
		if n := strings.Count(conf, "LoadModule mpm_"); n != 1 {
			t.Errorf("%s/%s: %d MPM LoadModule lines, want 1", tc.layout.Name, tc.config, n)
		}
		if strings.Contains(conf, "Include") {
			t.Errorf("%s/%s: config includes another file; it must be self-contained", tc.layout.Name, tc.config)
		}
		other := Official
		if tc.layout.Name == "official" {
			other = Debian
		}
		if strings.Contains(conf, other.ModulesDir) {
			t.Errorf("%s/%s: mentions the other layout's %s", tc.layout.Name, tc.config, other.ModulesDir)
		}
	}
}

func TestLayoutByName(t *testing.T) {
	if l, err := LayoutByName("official"); err != nil || l.Binary != "/usr/local/apache2/bin/httpd" {
		t.Errorf("official: got %+v, %v", l, err)
	}
	if l, err := LayoutByName("debian"); err != nil || l.Binary != "/usr/sbin/apache2" {
		t.Errorf("debian: got %+v, %v", l, err)
	}
	if _, err := LayoutByName("alpine"); err == nil || !strings.Contains(err.Error(), "official") {
		t.Errorf("alpine: got %v, want an error listing the layouts", err)
	}
}

func TestRenderUserFile(t *testing.T) {
	text := "ServerRoot /etc/apache2\n  Listen 80\nListen [::]:8080 http\nDocumentRoot /srv\n"
	cfg := Config{Name: "mine", MPM: "event", File: "/home/me/httpd.conf", FileText: text}
	conf := Render(cfg, Debian, "127.0.0.1:9999", ContainerPaths)
	lines := strings.Split(conf, "\n")
	if lines[0] != "ServerRoot /etc/apache2" || lines[1] != "  # loadcheck replaced: Listen 80" || lines[2] != "# loadcheck replaced: Listen [::]:8080 http" || lines[3] != "DocumentRoot /srv" {
		t.Errorf("the user's lines moved or changed beyond Listen:\n%s", strings.Join(lines[:4], "\n"))
	}
	for _, want := range []string{"Listen 127.0.0.1:9999", "LoadModule status_module /usr/lib/apache2/modules/mod_status.so",
		"ExtendedStatus On", "SetHandler server-status", "/home/me/httpd.conf",
		"<IfModule mpm_event_module>\n  LogLevel mpm_event:trace5\n</IfModule>"} {
		if !strings.Contains(conf, want) {
			t.Errorf("rendered user config lacks %q", want)
		}
	}
	if strings.Count(conf, "\nListen ") != 1 {
		t.Errorf("want exactly one active Listen:\n%s", conf)
	}
}
