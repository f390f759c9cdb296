package loadcheck

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/cpus"
	"github.com/loadcheck/loadcheck/preflight"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/results"
	"github.com/loadcheck/loadcheck/scenarios"
)

// store is a run folder, or nothing when dir is "". Run and Capacity
// write theirs the same way: the file after every config (save), and its
// HTML report once it is complete (finish).
type store struct{ dir string }

// saver is a run's file: results.File or capacity.File.
type saver interface{ Save(dir string) error }

func newStore(parent, runID string) (store, error) {
	if parent == "" {
		return store{}, nil
	}
	dir, err := results.CreateRunDir(parent, runID)
	return store{dir: dir}, err
}

func (f store) save(file saver) error {
	if f.dir == "" {
		return nil
	}
	return file.Save(f.dir)
}

// finish writes the run's HTML report, name, as render draws it.
func (f store) finish(name string, render func(io.Writer) error) error {
	if f.dir == "" {
		return nil
	}
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(f.dir, name), b.Bytes())
}

func (f store) where() string {
	if f.dir == "" {
		return "not stored"
	}
	return "storing results in " + f.dir
}

// begin opens a run of sc, Run's and Capacity's alike: sc checked before
// anything starts, the provider set up and sc pinned to its image, the
// header of the run's file (schema), and the run folder, when one is
// asked for, created.
func (s *settings) begin(ctx context.Context, sc scenarios.Scenario, schema string) (scenarios.Scenario, results.Header, store, error) {
	if err := check(sc, s.runID); err != nil {
		return sc, results.Header{}, store{}, err
	}
	if err := s.ensureProvider(ctx, sc); err != nil {
		return sc, results.Header{}, store{}, err
	}
	if d := s.desc; d.Image != "" {
		sc.Image, sc.Layout = d.Image, d.Layout
		if d.ImageWhy != "" {
			s.logf("image %s: %s", d.Image, d.ImageWhy)
		}
	}
	h := results.Header{Schema: schema, RunID: s.runID, StartedAt: time.Now().UTC(), Scenario: sc,
		ScenarioFile: s.scenarioFile, Environment: Environment(s.version)}
	h.Environment.DockerVersion = s.desc.EngineVersion
	for _, c := range preflight.Failed(preflight.Run("/proc", hostLoad(sc, s.desc))) {
		s.logf("warning: host limit %s", c)
		h.Environment.HostLimits = append(h.Environment.HostLimits, c.String())
	}
	if h.RunID == "" {
		h.RunID = NewRunID()
	}
	folder, err := newStore(s.storeDir, h.RunID)
	if err == nil {
		err = s.place(&h.Environment) // last: an error before it leaves nothing pinned
	}
	return sc, h, folder, err
}

// hostLoad is what the host's limits are checked against before a run of
// sc (package preflight): its connections, the configs' largest
// ListenBacklog, where the connections come from, and httpd's nofile when
// loadcheck starts it.
func hostLoad(sc scenarios.Scenario, d provider.Description) preflight.Load {
	l := preflight.Load{Connections: sc.Load.Connections, Backlog: preflight.DefaultBacklog}
	for _, c := range sc.Configs {
		if v, ok := c.Get("ListenBacklog"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				l.Backlog = max(l.Backlog, n)
			}
		}
	}
	if d.Target == "" {
		l.HTTPDNofile = provider.NofileFor(sc.Load.Connections) // a server loadcheck starts, on loopback
		return l
	}
	if u, err := url.Parse(strings.Fields(d.Target)[0]); err == nil {
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			l.SourceAddrs, l.Backlog = 1, -1 // a server on another host: its listen queue is its own
		}
	}
	return l
}

// place pins this process, and the shards it will start, to the
// generator's CPUs for the run (undone by cleanRun), and records where
// each side runs; the server's CPUs go to each Start (start).
func (s *settings) place(env *results.Environment) error {
	p := s.placement
	if len(p.Generator) == 0 {
		return nil
	}
	was, err := cpus.Allowed()
	if err != nil {
		return err
	}
	if err := cpus.Pin(p.Generator); err != nil {
		return err
	}
	s.unpin = func() { _ = cpus.Pin(was) }
	env.ServerCPUs, env.GeneratorCPUs = p.Server.String(), p.Generator.String()
	if len(p.Server) == 0 {
		s.logf("the generator runs on CPUs %s", p.Generator)
		return nil
	}
	s.logf("CPUs apart: httpd on %s, the generator on %s (--share-cpus to share them)", p.Server, p.Generator)
	return nil
}
