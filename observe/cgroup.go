package observe

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cgroup reads a container's memory, CPU and OOM-kill counters from its
// cgroup files on the host (cgroup v1 or v2), found through the
// /proc/PID/cgroup of the container's first process.
type Cgroup struct {
	v2             bool
	memDir, cpuDir string
	proc           string // the proc filesystem its processes are seen in
}

// CgroupSample is one reading.
type CgroupSample struct {
	MemoryBytes     int64 // current usage, page cache included
	MemoryPeakBytes int64 // the highest usage so far; -1 when the kernel does not say
	CPUNanos        int64 // CPU time used by every process in the container
	OOMKills        int64 // processes the kernel's OOM killer ended in this cgroup
}

// CgroupOf finds the cgroup of process pid; root is the cgroup filesystem
// ("/sys/fs/cgroup") and proc the proc filesystem ("/proc").
func CgroupOf(proc, root string, pid int) (*Cgroup, error) {
	path := filepath.Join(proc, strconv.Itoa(pid), "cgroup")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &Cgroup{proc: proc}
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "hierarchy-ID:controller-list:cgroup-path"
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls := strings.Split(parts[1], ",")
		for _, ctl := range ctrls {
			switch ctl {
			case "memory":
				c.memDir = filepath.Join(root, "memory", parts[2])
			case "cpuacct":
				c.cpuDir = filepath.Join(root, "cpuacct", parts[2])
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = filepath.Join(root, parts[2])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.memDir == "" && unified != "" { // no v1 memory controller: cgroup v2
		c.v2, c.memDir, c.cpuDir = true, unified, unified
	}
	if c.memDir == "" || c.cpuDir == "" {
		return nil, fmt.Errorf("%s: no memory or cpuacct cgroup", path)
	}
	return c, nil
}

// Read takes one sample.
func (c *Cgroup) Read() (CgroupSample, error) {
	s := CgroupSample{MemoryPeakBytes: -1}
	var err error
	if c.v2 {
		if s.MemoryBytes, err = readInt(filepath.Join(c.memDir, "memory.current")); err != nil {
			return s, err
		}
		if peak, err := readInt(filepath.Join(c.memDir, "memory.peak")); err == nil {
			s.MemoryPeakBytes = peak
		}
		usec, err := readKey(filepath.Join(c.cpuDir, "cpu.stat"), "usage_usec")
		if err != nil {
			return s, err
		}
		s.CPUNanos = usec * 1000
		s.OOMKills, err = readKey(filepath.Join(c.memDir, "memory.events"), "oom_kill")
		return s, err
	}
	if s.MemoryBytes, err = readInt(filepath.Join(c.memDir, "memory.usage_in_bytes")); err != nil {
		return s, err
	}
	if s.MemoryPeakBytes, err = readInt(filepath.Join(c.memDir, "memory.max_usage_in_bytes")); err != nil {
		return s, err
	}
	if s.CPUNanos, err = readInt(filepath.Join(c.cpuDir, "cpuacct.usage")); err != nil {
		return s, err
	}
	s.OOMKills, err = readKey(filepath.Join(c.memDir, "memory.oom_control"), "oom_kill")
	return s, err
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readKey reads the value of "key value" in a flat-keyed cgroup file.
func readKey(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s has no %s line", path, key)
}

// CreateCgroup makes a new cgroup called name beside nothing else: a child
// of this process's own memory and CPU cgroups (v1) or of its unified one
// (v2), under root ("/sys/fs/cgroup"). A process written into each of
// ProcsFiles, and every process it then forks, is counted there. Remove
// deletes it once those processes have ended.
func CreateCgroup(proc, root, name string) (*Cgroup, error) {
	self, err := CgroupOf(proc, root, os.Getpid())
	if err != nil {
		return nil, err
	}
	c := &Cgroup{v2: self.v2, memDir: filepath.Join(self.memDir, name), cpuDir: filepath.Join(self.cpuDir, name), proc: proc}
	for _, d := range c.dirs() {
		if err := os.Mkdir(d, 0o755); err != nil {
			_ = c.Remove() // what was made of it so far
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	return c, nil
}

func (c *Cgroup) dirs() []string {
	if c.memDir == c.cpuDir {
		return []string{c.memDir}
	}
	return []string{c.memDir, c.cpuDir}
}

// ProcsFiles are the files a process writes its PID into to join c.
func (c *Cgroup) ProcsFiles() []string {
	var out []string
	for _, d := range c.dirs() {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// Remove deletes the cgroup folders CreateCgroup made; they must hold no
// process by then.
func (c *Cgroup) Remove() error {
	var errs []error
	for _, d := range c.dirs() {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Threads is how many threads process pid runs (its status file's
// Threads line).
func (c *Cgroup) Threads(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.proc, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s/%d/status: no Threads line", c.proc, pid)
}

// httpdNames are the command names httpd's processes run under: the
// official image's and Debian's.
var httpdNames = map[string]bool{"httpd": true, "apache2": true}

// HTTPDProcs is the PIDs of the httpd processes in c, parent and
// children: other processes there (a command run in the container,
// php-fpm) are left out.
func (c *Cgroup) HTTPDProcs() (map[int]bool, error) {
	b, err := os.ReadFile(filepath.Join(c.memDir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	pids := map[int]bool{}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(c.proc, f, "comm"))
		if err == nil && httpdNames[strings.TrimSpace(string(comm))] {
			pids[pid] = true
		}
	}
	return pids, nil
}
