package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// NofileMargin is the file descriptors a process needs beside its sockets:
// standard streams, listeners, the Docker API, the status client.
const NofileMargin = 256

// LimitError says that one process cannot hold the connections it was
// asked for, and what would fix it.
type LimitError struct {
	Connections int
	Need, Hard  uint64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%d connections need %d file descriptors in one process, but its hard nofile limit is %d; let loadcheck spread them over %d processes (drop --no-shard), lower -c to %d, or raise the hard limit to %d (ulimit -Hn %d as root, or LimitNOFILE= in the service)",
		e.Connections, e.Need, e.Hard, ShardsFor(e.Connections, e.Hard), max(int(e.Hard)-NofileMargin, 0), e.Need, e.Need)
}

// HardNofile is this process's hard limit on open files.
func HardNofile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read nofile limit: %w", err)
	}
	return lim.Max, nil
}

// ShardsFor is the number of processes n connections need under a hard
// nofile limit of hard per process.
func ShardsFor(n int, hard uint64) int {
	per := int(hard) - NofileMargin
	if per < 1 {
		return n
	}
	return max(1, (n+per-1)/per)
}

// RaiseNofile makes sure this process may open n sockets: it raises the
// soft limit up to the hard limit, or returns a *LimitError when even the
// hard limit is too low.
func RaiseNofile(n int) error {
	need := uint64(n) + NofileMargin
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read nofile limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return &LimitError{Connections: n, Need: need, Hard: lim.Max}
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the nofile soft limit to %d: %w; run `ulimit -n %d` first", need, err, need)
	}
	return nil
}

// CPULimit is how much CPU this process may use, in CPUs: the CPUs it may
// run on (its affinity), or less under a cgroup CPU quota on its cgroup
// or an ancestor's (cgroup v2's cpu.max, v1's CFS quota), as a container
// or a systemd slice sets one.
func CPULimit() float64 {
	limit := float64(runtime.NumCPU())
	var m unix.CPUSet
	if unix.SchedGetaffinity(0, &m) == nil && m.Count() > 0 {
		limit = float64(m.Count()) // now: runtime.NumCPU is the affinity at start
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return limit
	}
	for line := range strings.Lines(string(self)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root string
		switch {
		case parts[0] == "0" && parts[1] == "":
			root = "/sys/fs/cgroup"
		case slices.Contains(strings.Split(parts[1], ","), "cpu"):
			root = "/sys/fs/cgroup/" + parts[1]
		default:
			continue
		}
		for dir := filepath.Join(root, parts[2]); strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
			if q := cgroupQuota(dir); q > 0 {
				limit = min(limit, q)
			}
			if dir == root {
				break
			}
		}
	}
	return limit
}

// cgroupQuota is the CPU quota of the cgroup at dir in CPUs, 0 for none.
func cgroupQuota(dir string) float64 {
	if b, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil { // v2: "max 100000" or "50000 100000"
		var quota, period float64
		if f := strings.Fields(string(b)); len(f) == 2 && f[0] != "max" {
			quota, _ = strconv.ParseFloat(f[0], 64)
			period, _ = strconv.ParseFloat(f[1], 64)
		}
		if period > 0 {
			return quota / period
		}
		return 0
	}
	q, err1 := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0
	}
	quota, _ := strconv.ParseFloat(strings.TrimSpace(string(q)), 64) // -1: none
	period, _ := strconv.ParseFloat(strings.TrimSpace(string(p)), 64)
	if quota <= 0 || period <= 0 {
		return 0
	}
	return quota / period
}
