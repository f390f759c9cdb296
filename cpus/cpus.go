// Package cpus places the server and the generator on CPUs of their own,
// so that a generator's bursts never take the server's CPU and a FAIL is
// the config's, not the test box's: CPU lists as Linux writes them
// ("0-3,6"), the CPUs this process may use, the default split between
// the two sides, and pinning this process (and what it starts) to a set.
package cpus

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Set is a sorted list of CPU numbers.
type Set []int

// Parse reads a CPU list as Linux and taskset write them: "1", "0-3",
// "0,2-3".
func Parse(s string) (Set, error) {
	var out Set
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%q: want a CPU list such as 1, 0-3 or 0,2-3", s)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// String writes s as a CPU list: "0-3,6".
func (s Set) String() string {
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Overlaps reports whether s and t share a CPU.
func (s Set) Overlaps(t Set) bool {
	for _, c := range s {
		if slices.Contains(t, c) {
			return true
		}
	}
	return false
}

// Allowed is the CPUs this process may run on now (its affinity).
func Allowed() (Set, error) {
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil {
		return nil, fmt.Errorf("read this process's CPU affinity: %w", err)
	}
	var out Set
	for c := range 1024 {
		if m.IsSet(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Placement is where each side runs; a zero Placement shares every CPU.
type Placement struct {
	Server, Generator Set
}

// Apart reports whether the two sides have CPUs of their own.
func (p Placement) Apart() bool { return len(p.Server) > 0 && len(p.Generator) > 0 }

// Split is the default placement on allowed: the upper half of the CPUs
// for the server, the rest for the generator (on 2 CPUs: the server 1,
// the generator 0); none on a single CPU, where nothing can be apart.
func Split(allowed Set) Placement {
	if len(allowed) < 2 {
		return Placement{}
	}
	half := len(allowed) / 2
	return Placement{Generator: slices.Clone(allowed[:half]), Server: slices.Clone(allowed[half:])}
}

// Check refuses a placement this host cannot give: a CPU outside allowed,
// an empty side, or sides that share a CPU (unless share).
func (p Placement) Check(allowed Set, share bool) error {
	for _, side := range []struct {
		name string
		set  Set
	}{{"--server-cpus", p.Server}, {"--generator-cpus", p.Generator}} {
		for _, c := range side.set {
			if !slices.Contains(allowed, c) {
				return fmt.Errorf("%s %s: CPU %d is not one this host lets loadcheck use (%s)", side.name, side.set, c, allowed)
			}
		}
	}
	if p.Server.Overlaps(p.Generator) && !share {
		return fmt.Errorf("--server-cpus %s and --generator-cpus %s share a CPU: give them apart, or --share-cpus to share them on purpose", p.Server, p.Generator)
	}
	return nil
}

// Pin makes every thread of this process run on s; the processes it
// starts afterwards (shards, a native httpd's shell unless it repins)
// inherit it, and so do the threads the Go runtime makes later.
func Pin(s Set) error {
	var m unix.CPUSet
	for _, c := range s {
		m.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("pin the generator to CPUs %s: %w", s, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &m); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin the generator to CPUs %s: %w", s, err)
		}
	}
	return nil
}
