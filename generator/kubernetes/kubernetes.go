// Package kubernetes runs the generator's shards as the pods of a
// Kubernetes Indexed Job, created and read through the API as plain JSON
// (API), or written as manifests for kubectl (Manifests), merged exactly
// as local shards are.
package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	"github.com/loadcheck/loadcheck/generator/internal/fleet"
)

// completionIndex is the annotation (and, on newer clusters, label) the
// Job controller puts on each pod of an Indexed Job.
const completionIndex = "batch.kubernetes.io/job-completion-index"

// Generator is a generator fleet on a Kubernetes cluster: the ConfigMap
// and Indexed Job of Manifests, applied through the API (API). The
// coordinator waits for every shard's pod to end, reads each pod's logs
// (its JSON lines) and merges them exactly; a shard whose pod was not
// running at the start, failed, or never reported fails the run, named
// with its pod, node and last words. The Job (with its pods) and the
// ConfigMap are deleted on success, failure and Ctrl-C.
type Generator struct {
	N           int
	SourceAddrs int
	Spec        Spec // the manifests' name, namespace, image, requests
	API         *API
	// Lead is how long before the common start the Job is created: the
	// time the cluster needs to pull the image and start the pods
	// (default 60 s).
	Lead time.Duration
	// Poll is how often the pods are listed (default 1 s).
	Poll time.Duration
	// Version is the coordinator's: a shard of another refuses to run.
	Version string
	// ClockAddr is where the pods read this host's clock (HOST:PORT, a
	// host they can reach); "" leaves the clocks unchecked.
	ClockAddr string
}

// Describe implements generator.Generator.
func (g Generator) Describe() string {
	if g.ClockAddr == "" {
		return fmt.Sprintf(" from %d Kubernetes shards (their clocks unchecked: no --clock-addr)", g.N)
	}
	return fmt.Sprintf(" from %d Kubernetes shards", g.N)
}

// Generate implements generator.Generator. As on swarm, the warm-up must
// be fixed; unlike swarm's, the shards' progress is not followed live:
// each pod's log is read once it ended.
func (g Generator) Generate(ctx context.Context, url string, o bench.Options) (*bench.Result, error) {
	l := o.Load
	switch {
	case g.API == nil:
		return nil, errors.New("kubernetes: no API client")
	case o.Steps != nil:
		return nil, errors.New("kubernetes: a stepped run needs one generator process")
	}
	lead, poll := cmp.Or(g.Lead, time.Minute), cmp.Or(g.Poll, time.Second)
	reqs, stop, err := fleet.Plan(url, l, g.SourceAddrs, g.N, lead, g.Version, g.ClockAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	docs, err := kubeDocs(reqs, g.Spec)
	if err != nil {
		return nil, err
	}
	ns, name := cmp.Or(g.Spec.Namespace, "default"), g.Spec.Name
	cms, jobs := nsPath("api/v1", ns, "configmaps"), nsPath("apis/batch/v1", ns, "jobs")
	defer func() {
		// Whatever happened, the Job, its pods and the ConfigMap go:
		// Ctrl-C included, hence a context of its own.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = g.API.do(dctx, http.MethodDelete, jobs+"/"+name+"?propagationPolicy=Background", nil, nil)
		_ = g.API.do(dctx, http.MethodDelete, cms+"/"+name, nil, nil)
	}()
	if err := g.API.do(ctx, http.MethodPost, cms, docs[0], nil); err != nil {
		return nil, fmt.Errorf("kubernetes: create ConfigMap %s/%s: %w", ns, name, err)
	}
	if err := g.API.do(ctx, http.MethodPost, jobs, docs[1], nil); err != nil {
		return nil, fmt.Errorf("kubernetes: create Job %s/%s: %w", ns, name, err)
	}
	start := reqs[0].Options.StartAt
	// Every shard ends by the schedule's end plus its last timeout; a pod
	// still running a minute after that is stuck.
	end := start.Add(l.RampTime() + l.WarmUpLimit() + l.Duration + l.Timeout + time.Minute)
	pods, err := g.waitPods(ctx, ns, name, start, end, poll)
	if err != nil {
		return nil, err
	}
	logs := make([][]byte, g.N)
	descs := make([]string, g.N)
	nodes := make([]string, g.N)
	var lost []error
	// Every shard's logs are read (or given up on) before the deferred
	// delete takes the pods and their logs.
	for j, p := range pods {
		nodes[j], descs[j] = p.Spec.NodeName, fmt.Sprintf("kubernetes shard %d (pod %s/%s on node %s, %s)", j, ns, p.Metadata.Name, p.Spec.NodeName, podState(p))
		err := fleet.Retry(ctx, TransientAPI, func() (err error) {
			logs[j], err = g.API.podLogs(ctx, ns, p.Metadata.Name)
			return err
		})
		if err != nil {
			logs[j] = nil
			lost = append(lost, fmt.Errorf("read the logs of %s: %w", descs[j], err))
		}
	}
	if len(lost) > 0 {
		return nil, fleet.LostShards(name, logs, lost)
	}
	return fleet.MergeLogs("kubernetes", reqs, logs, descs, nodes)
}

// waitPods lists the Job's pods until each shard's has ended, and
// returns them by shard. A shard without a running pod a second after
// the start would start late: that fails the run, as does a pod still
// running at end.
func (g Generator) waitPods(ctx context.Context, ns, job string, start, end time.Time, poll time.Duration) ([]kubePod, error) {
	for {
		var list []kubePod
		err := fleet.Retry(ctx, TransientAPI, func() (err error) {
			list, err = g.API.pods(ctx, ns, "loadcheck.run="+job)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("kubernetes: list the pods of Job %s/%s: %w", ns, job, err)
		}
		byShard := make([]*kubePod, g.N)
		for i := range list {
			p := &list[i]
			idx := cmp.Or(p.Metadata.Annotations[completionIndex], p.Metadata.Labels[completionIndex])
			if j, err := strconv.Atoi(idx); err == nil && j >= 0 && j < g.N {
				byShard[j] = p
			}
		}
		now, done := time.Now(), true
		var late []string
		for j, p := range byShard {
			switch {
			case p == nil:
				done = false
				late = append(late, fmt.Sprintf("shard %d has no pod", j))
			case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
			default:
				done = false
				if p.Status.Phase != "Running" {
					late = append(late, fmt.Sprintf("shard %d (pod %s on node %q) is %s", j, p.Metadata.Name, p.Spec.NodeName, podState(*p)))
				}
			}
		}
		if done {
			out := make([]kubePod, g.N)
			for j, p := range byShard {
				out[j] = *p
			}
			return out, nil
		}
		switch {
		case len(late) > 0 && now.After(start.Add(time.Second)):
			sort.Strings(late)
			return nil, fmt.Errorf("kubernetes: the shards' start (%s) passed and %s: give the cluster more time to pull the image and start the pods (--start-in)",
				start.UTC().Format(time.RFC3339), strings.Join(late, "; "))
		case now.After(end):
			return nil, fmt.Errorf("kubernetes: Job %s/%s's pods still run a minute after the schedule's end", ns, job)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// podState is a pod's phase, with the reason and message of whichever
// of its containers waits or ended, if one says why.
func podState(p kubePod) string {
	s := p.Status.Phase
	if p.Status.Reason != "" {
		s += " (" + p.Status.Reason + ")"
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			s += fmt.Sprintf(", container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message)
		case c.State.Terminated != nil:
			s += fmt.Sprintf(", container %s exited %d", c.Name, c.State.Terminated.ExitCode)
			if c.State.Terminated.Reason != "" {
				s += " (" + c.State.Terminated.Reason + ")"
			}
		}
	}
	return strings.TrimSpace(s)
}

// TransientAPI reports whether a Kubernetes API call's failure may pass
// on its own: a timeout or a broken connection, or the API server's 429
// (throttled) or 5xx.
func TransientAPI(err error) bool {
	var ke *APIError
	if errors.As(err, &ke) {
		return ke.Status == 429 || ke.Status >= 500
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}
