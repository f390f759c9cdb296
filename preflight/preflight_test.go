package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc is a proc filesystem with the given sysctl files.
func fakeProc(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, v := range files {
		p := filepath.Join(dir, "sys", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestChecks: each host limit against a load it holds and one it does
// not, with the fix named.
func TestChecks(t *testing.T) {
	small := fakeProc(t, map[string]string{"net/core/somaxconn": "128", "net/netfilter/nf_conntrack_max": "5000",
		"net/netfilter/nf_conntrack_count": "1200", "net/ipv4/ip_local_port_range": "32768\t60999"})
	roomy := fakeProc(t, map[string]string{"net/core/somaxconn": "4096", "net/ipv4/ip_local_port_range": "1024 65535"})
	byName := func(cs []Check) map[string]Check {
		m := map[string]Check{}
		for _, c := range cs {
			m[c.Name] = c
		}
		return m
	}
	bad := byName(Run(small, Load{Connections: 4000, SourceAddrs: 1, HTTPDNofile: 5024}))
	for name, want := range map[string]string{
		"net.core.somaxconn":             "sysctl -w net.core.somaxconn=511",
		"net.netfilter.nf_conntrack_max": "sysctl -w net.netfilter.nf_conntrack_max=10400",
	} {
		c := bad[name]
		if c.OK || !strings.Contains(c.Fix, want) || c.Drops == "" {
			t.Errorf("%s: %+v, want not ok with fix %q", name, c, want)
		}
	}
	if c := bad["net.ipv4.ip_local_port_range"]; !c.OK || !strings.Contains(c.Have, "28232 ports") {
		t.Errorf("4000 connections from one address in 28232 ports: %+v", c)
	}
	if c := byName(Run(small, Load{Connections: 30000, SourceAddrs: 1}))["net.ipv4.ip_local_port_range"]; c.OK || !strings.Contains(c.Need, "30000 per source address") {
		t.Errorf("30000 connections from one address: %+v, want not ok", c)
	}
	good := Run(roomy, Load{Connections: 4000, Backlog: 4096})
	if f := Failed(good); len(f) != 0 {
		t.Errorf("a roomy host failed %+v", f)
	}
	if c := byName(good)["net.netfilter.nf_conntrack_max"]; !c.OK || !strings.Contains(c.Have, "no connection tracking") {
		t.Errorf("no conntrack module: %+v", c)
	}
	if c := byName(good)["net.ipv4.ip_local_port_range"]; !c.OK || !strings.Contains(c.Need, "spreads them over source addresses") {
		t.Errorf("loopback: %+v", c)
	}
	// A generator that may not shard, past its own hard limit.
	if c := byName(Run(roomy, Load{Connections: 1 << 30, OneProcess: true}))["generator nofile"]; c.OK || !strings.Contains(c.Fix, "drop --no-shard") {
		t.Errorf("one process for 2^30 connections: %+v", c)
	}
	if c := byName(Run(roomy, Load{Connections: 1 << 30}))["generator nofile"]; !c.OK || !strings.Contains(c.Need, "shard processes") {
		t.Errorf("2^30 connections, shards allowed: %+v", c)
	}
}
