// Package swarm runs the generator's shards as Docker Swarm job
// services, each running this loadcheck binary from the generator image
// (GeneratorImage), merged exactly as local shards are.
package swarm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/containers"
	"github.com/loadcheck/loadcheck/generator/internal/fleet"
)

// ShardRequestEnv carries a swarm shard's request (bench.ShardRequest,
// JSON) into its container: `loadcheck shard` reads it there.
const ShardRequestEnv = "LOADCHECK_SHARD_REQUEST"

// Generator is a generator fleet on Docker Swarm: each shard of the load is a
// single-replica job service (mode replicated-job) on the host's network,
// running this very loadcheck binary from the generator image
// (GeneratorImage), with its request in its environment. The shard index
// comes from the request, never from the task slot. The coordinator
// waits for every job to end, reads each one's JSON lines from its logs
// and merges them exactly (bench.MergeOutputs); a shard that failed, died
// or never reported fails the run, named with its node. The services are
// removed on success, failure and Ctrl-C; `loadcheck clean` removes what
// a killed coordinator left.
type Generator struct {
	N           int
	SourceAddrs int
	Image       string // GeneratorImage's tag
	RunID       string
	// Lead is how long before the common start the services are created:
	// the time swarm needs to schedule them (default 10 s).
	Lead time.Duration
	// Version is the coordinator's: a shard of another refuses to run.
	Version string
	// ClockAddr is where the shards read this host's clock (HOST:PORT);
	// "" is the swarm's own address for this node, any free port.
	ClockAddr string
}

// Describe implements generator.Generator.
func (g Generator) Describe() string { return fmt.Sprintf(" from %d swarm shards", g.N) }

// Generate implements generator.Generator. The warm-up must be fixed: no
// coordinator line reaches a swarm shard. Progress comes from following
// the services' logs.
func (g Generator) Generate(ctx context.Context, url string, o bench.Options) (*bench.Result, error) {
	if o.Steps != nil {
		return nil, errors.New("swarm: a stepped run needs one generator process")
	}
	l, progress := o.Load, o.Progress
	nodeAddr, err := Active(ctx)
	if err != nil {
		return nil, err
	}
	lead := g.Lead
	if lead == 0 {
		lead = 10 * time.Second
	}
	addr := g.ClockAddr
	if addr == "" {
		addr = net.JoinHostPort(nodeAddr, "0")
	}
	reqs, stop, err := fleet.Plan(url, l, g.SourceAddrs, g.N, lead, g.Version, addr)
	if err != nil {
		return nil, err
	}
	defer stop()
	hostname, _ := os.Hostname()
	var names []string
	defer func() {
		// Whatever happened, the services go: Ctrl-C included.
		rm := append([]string{"service", "rm"}, names...)
		if len(names) > 0 {
			_ = exec.Command("docker", rm...).Run()
		}
	}()
	for j, req := range reqs {
		b, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("loadcheck-%s-shard-%d", g.RunID, j)
		out, err := exec.CommandContext(ctx, "docker", "service", "create", "--detach", "--quiet",
			"--mode", "replicated-job", "--restart-condition", "none", "--network", "host", "--name", name,
			"--label", containers.LabelManaged+"=true", "--label", containers.LabelRun+"="+g.RunID, "--label", fmt.Sprintf("%s=%d", containers.LabelShard, j),
			"--label", containers.LabelHost+"="+hostname, "--label", fmt.Sprintf("%s=%d", containers.LabelPID, os.Getpid()),
			"--env", ShardRequestEnv+"="+string(b), g.Image, "shard").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("create swarm shard %d: %w: %s", j, err, bytes.TrimSpace(out))
		}
		names = append(names, name)
	}
	if progress != nil {
		stop := followSwarm(names, progress)
		defer stop()
	}
	// Every shard ends by the schedule's end plus its last timeout; a job
	// still running a minute after that is stuck.
	end := time.Now().Add(lead + l.RampTime() + l.WarmUpLimit() + l.Duration + l.Timeout + time.Minute)
	logs := make([][]byte, len(names))
	descs := make([]string, len(names))
	nodes := make([]string, len(names))
	var lost []error
	// Every shard's logs are read (or given up on) before the deferred
	// removal takes the services and their logs.
	for j, name := range names {
		state, node, err := waitJob(ctx, name, end)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			lost = append(lost, err)
			continue
		}
		nodes[j], descs[j] = node, fmt.Sprintf("swarm shard %d (service %s on node %s, %s)", j, name, node, state)
		err = fleet.Retry(ctx, transientCLI, func() (err error) {
			logs[j], err = exec.CommandContext(ctx, "docker", "service", "logs", "--raw", name).Output()
			return err
		})
		if err != nil {
			logs[j] = nil
			lost = append(lost, fmt.Errorf("read the logs of %s: %w", descs[j], err))
		}
	}
	if len(lost) > 0 {
		return nil, fleet.LostShards(g.RunID, logs, lost)
	}
	return fleet.MergeLogs("swarm", reqs, logs, descs, nodes)
}

// waitJob waits for the job service's task to end and returns its state
// and node.
func waitJob(ctx context.Context, name string, deadline time.Time) (state, node string, err error) {
	for {
		var out []byte
		err := fleet.Retry(ctx, transientCLI, func() (err error) {
			out, err = exec.CommandContext(ctx, "docker", "service", "ps", "--no-trunc", "--format", "{{.CurrentState}}|{{.Node}}|{{.Error}}", name).Output()
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return "", "", ctx.Err()
			}
			return "", "", fmt.Errorf("swarm shard %s: docker service ps: %w", name, err)
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		f := strings.SplitN(line, "|", 3)
		if len(f) == 3 {
			state, node = f[0], f[1]
			switch word, _, _ := strings.Cut(state, " "); word {
			case "Complete":
				return state, node, nil
			case "Failed", "Rejected", "Shutdown", "Orphaned", "Remove":
				if f[2] != "" {
					state += ": " + f[2]
				}
				return state, node, nil
			}
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("swarm shard %s is still %q a minute after its schedule ended", name, state)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Active reports, as an error, an engine that is not a swarm
// manager; else it returns the address this node has in the swarm.
func Active(ctx context.Context) (nodeAddr string, err error) {
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeAddr}}").Output()
	if err != nil {
		return "", &containers.DockerError{Err: fmt.Errorf("docker info: %w", err)}
	}
	state, addr, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	control, addr, _ := strings.Cut(addr, " ")
	if state != "active" || control != "true" {
		return "", fmt.Errorf("--generator swarm needs this Docker engine to be a swarm manager (it is %q): run `docker swarm init` (on one host: --advertise-addr 127.0.0.1), or use the local generator", state+" "+control)
	}
	return addr, nil
}

// GeneratorImage is the image fleet shards run: this very loadcheck
// binary on loadcheck's Debian image, tagged by the binary's hash, so a
// swarm shard of another build cannot be picked, and labelled with its
// version (org.loadcheck.version), which a shard also checks against the
// coordinator's request. It is built when missing. A release build's
// image is tagged with its version too (loadcheck/generator:v1.2.0), and
// that tag is returned: the one to push where a cluster pulls from.
func GeneratorImage(ctx context.Context, version string) (string, error) {
	tag, err := generatorImage(ctx, version)
	if err != nil || !releaseVersion.MatchString(version) {
		return tag, err
	}
	named := "loadcheck/generator:" + version
	if out, err := exec.CommandContext(ctx, "docker", "tag", tag, named).CombinedOutput(); err != nil {
		return "", fmt.Errorf("tag the generator image %s as %s: %w: %s", tag, named, err, bytes.TrimSpace(out))
	}
	return named, nil
}

// releaseVersion matches a released loadcheck's version (v1.2.0,
// v1.3.0-rc.1), not a development build's (dev, a pseudo-version).
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)\.?[0-9]*)?$`)

// generatorImage builds the image under the binary's hash tag when missing.
func generatorImage(ctx context.Context, version string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find loadcheck's own binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	tag := "loadcheck/generator:" + hex.EncodeToString(h.Sum(nil))[:16]
	if exec.CommandContext(ctx, "docker", "image", "inspect", tag).Run() == nil {
		return tag, nil
	}
	if exec.CommandContext(ctx, "docker", "image", "inspect", containers.DebianImage).Run() != nil {
		return "", &containers.ImageMissingError{Image: containers.DebianImage}
	}
	dir, err := os.MkdirTemp("", "loadcheck-generator-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	data, err := os.ReadFile(exe)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "loadcheck"), data, 0o755); err != nil {
		return "", err
	}
	dockerfile := fmt.Sprintf("FROM %s\nCOPY loadcheck /usr/local/bin/loadcheck\nLABEL %s=true org.loadcheck.shard-schema=%s org.loadcheck.version=%q\nENTRYPOINT [\"/usr/local/bin/loadcheck\"]\n",
		containers.DebianImage, containers.LabelManaged, bench.ShardSchema, version)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the generator image %s: %w: %s", tag, err, bytes.TrimSpace(out))
	}
	// Images of earlier development builds are of no more use: each build
	// has its own (releases' stay: they may have been pushed by name).
	if old, err := exec.CommandContext(ctx, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "loadcheck/generator").Output(); err == nil {
		for _, t := range strings.Fields(string(old)) {
			if t != tag && !releaseVersion.MatchString(strings.TrimPrefix(t, "loadcheck/generator:")) {
				_ = exec.CommandContext(ctx, "docker", "image", "rm", t).Run()
			}
		}
	}
	return tag, nil
}

// transientCLI: any failure of a docker command may be a hiccup (the
// engine busy, a dropped connection to it); one that lasts through every
// attempt is not.
func transientCLI(error) bool { return true }
