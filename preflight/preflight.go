// Package preflight checks, before any load, the host limits that turn
// into dropped connections and would otherwise be blamed on the server:
// the generator's file descriptors, the kernel's listen-queue cap against
// httpd's ListenBacklog, the connection-tracking table, and the ephemeral
// ports per source address. Each check says what the host has, what the
// load needs and, when it falls short, the fix. `loadcheck doctor` prints
// them all; `loadcheck run` says the ones that fall short before it starts.
package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Load is what the checks measure the host against.
type Load struct {
	Connections int
	// Backlog is the servers' listen queue (httpd's ListenBacklog, 511
	// unless a config sets it; 0 is that default); -1 for a server on
	// another host, whose kernel caps its queue.
	Backlog int
	// SourceAddrs is how many source addresses the connections come from:
	// 0 for a loopback target, which loadcheck spreads over as many as the
	// ephemeral ports need; 1 for any other target.
	SourceAddrs int
	// OneProcess is a generator that may not split over processes
	// (--no-shard).
	OneProcess bool
	// HTTPDNofile is the nofile limit each httpd process gets (0: unknown).
	HTTPDNofile int
}

// DefaultBacklog is httpd's ListenBacklog when a config sets none.
const DefaultBacklog = 511

// Check is one host limit against the load.
type Check struct {
	Name  string `json:"name"`
	Have  string `json:"have"` // what the host has
	Need  string `json:"need"` // what the load needs
	OK    bool   `json:"ok"`
	Fix   string `json:"fix,omitempty"` // what to do when not OK
	Drops string `json:"drops,omitempty"`
}

// nofileMargin matches bench.NofileMargin: descriptors a process needs
// beside its sockets.
const nofileMargin = 256

// Run checks the host whose proc filesystem is at proc ("/proc") against
// l.
func Run(proc string, l Load) []Check {
	return []Check{nofile(l), httpdNofile(l), somaxconn(proc, l), conntrack(proc, l), ports(proc, l)}
}

// Failed are the checks of cs that fall short.
func Failed(cs []Check) []Check {
	var out []Check
	for _, c := range cs {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func (c Check) String() string {
	if c.OK {
		return fmt.Sprintf("%s: ok: %s (the load needs %s)", c.Name, c.Have, c.Need)
	}
	return fmt.Sprintf("%s: %s, the load needs %s: %s; fix: %s", c.Name, c.Have, c.Need, c.Drops, c.Fix)
}

func nofile(l Load) Check {
	var lim syscall.Rlimit
	c := Check{Name: "generator nofile", Drops: "connections past it fail to open (client_nofile)"}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		c.Have, c.Need, c.OK = "unknown ("+err.Error()+")", "-", true
		return c
	}
	need := uint64(l.Connections + nofileMargin)
	c.Have = fmt.Sprintf("soft %d, hard %d", lim.Cur, lim.Max)
	c.Need = fmt.Sprintf("%d in one process", need)
	switch {
	case lim.Max >= need:
		c.OK = true
	case !l.OneProcess:
		per := lim.Max - nofileMargin
		c.OK, c.Need = true, fmt.Sprintf("%d in one process, or %d shard processes (loadcheck splits the load by itself)", need, (uint64(l.Connections)+per-1)/per)
	default:
		c.Fix = fmt.Sprintf("drop --no-shard, or raise the hard limit to %d (ulimit -Hn %d as root, or LimitNOFILE= in the service)", need, need)
	}
	return c
}

func httpdNofile(l Load) Check {
	c := Check{Name: "httpd nofile", Need: fmt.Sprintf("%d connections over httpd's processes", l.Connections), OK: true}
	if l.HTTPDNofile == 0 {
		c.Have = "as the server was started (not started by loadcheck)"
		return c
	}
	c.Have = fmt.Sprintf("%d per httpd process", l.HTTPDNofile)
	if l.Connections+nofileMargin > l.HTTPDNofile {
		// Only a process that holds every connection needs them all:
		// prefork and worker hold their share; an event process holds
		// ThreadsPerChild plus its kept-alive ones.
		c.Need += " (each process needs only its own share)"
	}
	return c
}

func somaxconn(proc string, l Load) Check {
	backlog := l.Backlog
	if backlog < 0 {
		return Check{Name: "net.core.somaxconn", Have: "not this host's to say", Need: "the server's own host's, at least its ListenBacklog", OK: true}
	}
	if backlog == 0 {
		backlog = DefaultBacklog
	}
	c := Check{Name: "net.core.somaxconn", Need: fmt.Sprintf("at least httpd's ListenBacklog, %d", backlog),
		Drops: "the kernel caps httpd's listen queue to it: connections that find it full are dropped, and time out as connect_timeout"}
	v, err := readInt(filepath.Join(proc, "sys/net/core/somaxconn"))
	if err != nil {
		c.Have, c.OK = "unknown ("+err.Error()+")", true
		return c
	}
	c.Have = strconv.Itoa(v)
	c.OK = v >= backlog
	c.Fix = fmt.Sprintf("sysctl -w net.core.somaxconn=%d", backlog)
	return c
}

func conntrack(proc string, l Load) Check {
	c := Check{Name: "net.netfilter.nf_conntrack_max", Drops: "a full connection-tracking table drops new connections' packets silently (dmesg: nf_conntrack: table full)"}
	limit, err := readInt(filepath.Join(proc, "sys/net/netfilter/nf_conntrack_max"))
	if err != nil {
		c.Have, c.Need, c.OK = "no connection tracking loaded", "nothing", true
		return c
	}
	used, _ := readInt(filepath.Join(proc, "sys/net/netfilter/nf_conntrack_count"))
	need := used + l.Connections
	c.Have = fmt.Sprintf("%d entries, %d in use", limit, used)
	c.Need = fmt.Sprintf("%d (one entry per connection, besides those in use)", need)
	c.OK = limit >= need
	c.Fix = fmt.Sprintf("sysctl -w net.netfilter.nf_conntrack_max=%d", max(need*2, limit))
	return c
}

func ports(proc string, l Load) Check {
	c := Check{Name: "net.ipv4.ip_local_port_range", Drops: "connections past it fail to open (ports_exhausted)"}
	b, err := os.ReadFile(filepath.Join(proc, "sys/net/ipv4/ip_local_port_range"))
	f := strings.Fields(string(b))
	if err != nil || len(f) != 2 {
		c.Have, c.Need, c.OK = "unknown", "-", true
		return c
	}
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	n := hi - lo + 1
	c.Have = fmt.Sprintf("%d-%d, %d ports per source address and destination", lo, hi, n)
	if l.SourceAddrs == 0 {
		c.Need, c.OK = fmt.Sprintf("%d connections: a loopback target spreads them over source addresses by itself", l.Connections), true
		return c
	}
	per := (l.Connections + l.SourceAddrs - 1) / l.SourceAddrs
	c.Need = fmt.Sprintf("%d per source address", per)
	c.OK = per <= n
	c.Fix = `sysctl -w net.ipv4.ip_local_port_range="1024 65535", or load from more source addresses (fleet shards)`
	return c
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
