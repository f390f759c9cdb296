package fleet

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// completionIndex is the annotation (and, on newer clusters, label) the
// Job controller puts on each pod of an Indexed Job.
const completionIndex = "batch.kubernetes.io/job-completion-index"

// Kubernetes is a generator fleet on a Kubernetes cluster: the ConfigMap
// and Indexed Job of KubeManifests, applied through client-go. The
// coordinator waits for every shard's pod to end, reads each pod's logs
// (its JSON lines) and merges them exactly; a shard whose pod was not
// running at the start, failed, or never reported fails the run, named
// with its pod, node and last words. The Job (with its pods) and the
// ConfigMap are deleted on success, failure and Ctrl-C.
type Kubernetes struct {
	N           int
	SourceAddrs int
	Spec        Kube // the manifests' name, namespace, image, requests
	Client      kubernetes.Interface
	// Logs reads a pod's logs; nil reads them through Client. Tests give
	// a fake log source: client-go's fake clientset has no kubelet.
	Logs func(ctx context.Context, namespace, pod string) ([]byte, error)
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

// Describe implements loadcheck.Generator.
func (g Kubernetes) Describe() string { return fmt.Sprintf(" from %d Kubernetes shards", g.N) }

// KubeClient is a client of the cluster that KUBECONFIG (or
// ~/.kube/config) names, or of the cluster loadcheck runs in, with the
// namespace its context names ("" when none). It fails when no cluster
// is configured or the one configured does not answer.
func KubeClient(ctx context.Context) (kubernetes.Interface, string, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("--generator kubernetes: no cluster to reach (%v): set KUBECONFIG, or run loadcheck in a pod, or write the manifests with --dry-run -o FILE", err)
	}
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("--generator kubernetes: %w", err)
	}
	if _, err := client.Discovery().ServerVersion(); err != nil {
		return nil, "", fmt.Errorf("--generator kubernetes: the cluster at %s does not answer: %w", cfg.Host, err)
	}
	ns, _, _ := cc.Namespace()
	return client, ns, nil
}

// KubeObjects are KubeManifests as client-go objects, decoded strictly
// from the very YAML --dry-run writes: what is applied is what a
// cluster operator would read.
func KubeObjects(reqs []bench.ShardRequest, k Kube) (*corev1.ConfigMap, *batchv1.Job, error) {
	b, err := KubeManifests(reqs, k)
	if err != nil {
		return nil, nil, err
	}
	docs := strings.Split(string(b), "---\n")
	if len(docs) != 2 {
		return nil, nil, fmt.Errorf("kubernetes manifests: %d documents, want a ConfigMap and a Job", len(docs))
	}
	var cm corev1.ConfigMap
	var job batchv1.Job
	if err := decodeStrict(docs[0], &cm); err != nil {
		return nil, nil, fmt.Errorf("kubernetes ConfigMap: %w", err)
	}
	if err := decodeStrict(docs[1], &job); err != nil {
		return nil, nil, fmt.Errorf("kubernetes Job: %w", err)
	}
	return &cm, &job, nil
}

// decodeStrict decodes one YAML document into v, refusing any field the
// Kubernetes type lacks.
func decodeStrict(doc string, v any) error {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Generate implements loadcheck.Generator. As on swarm, the warm-up must
// be fixed and progress is not reported live.
func (g Kubernetes) Generate(ctx context.Context, url string, l bench.Load, _ func(bench.Progress), _ <-chan time.Time) (*bench.Result, error) {
	if g.Client == nil {
		return nil, errors.New("kubernetes: no client")
	}
	lead, poll := cmp.Or(g.Lead, time.Minute), cmp.Or(g.Poll, time.Second)
	reqs, stop, err := planFleet(url, l, g.SourceAddrs, g.N, lead, g.Version, g.ClockAddr)
	if err != nil {
		return nil, err
	}
	defer stop()
	cm, job, err := KubeObjects(reqs, g.Spec)
	if err != nil {
		return nil, err
	}
	ns := job.Namespace
	cms, jobs := g.Client.CoreV1().ConfigMaps(ns), g.Client.BatchV1().Jobs(ns)
	defer func() {
		// Whatever happened, the Job, its pods and the ConfigMap go:
		// Ctrl-C included, hence a context of its own.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bg := metav1.DeletePropagationBackground
		_ = jobs.Delete(dctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		_ = cms.Delete(dctx, cm.Name, metav1.DeleteOptions{})
	}()
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kubernetes: create ConfigMap %s/%s: %w", ns, cm.Name, err)
	}
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("kubernetes: create Job %s/%s: %w", ns, job.Name, err)
	}
	start := reqs[0].Options.StartAt
	// Every shard ends by the schedule's end plus its last timeout; a pod
	// still running a minute after that is stuck.
	end := start.Add(l.RampTime() + l.WarmUpLimit() + l.Duration + l.Timeout + time.Minute)
	pods, err := g.waitPods(ctx, ns, job.Name, start, end, poll)
	if err != nil {
		return nil, err
	}
	logs := make([][]byte, g.N)
	descs := make([]string, g.N)
	nodes := make([]string, g.N)
	for j, p := range pods {
		nodes[j], descs[j] = p.Spec.NodeName, fmt.Sprintf("kubernetes shard %d (pod %s/%s on node %s, %s)", j, ns, p.Name, p.Spec.NodeName, podState(&p))
		if logs[j], err = g.podLogs(ctx, ns, p.Name); err != nil {
			return nil, fmt.Errorf("read the logs of %s: %w", descs[j], err)
		}
	}
	return mergeLogs("kubernetes", reqs, logs, descs, nodes)
}

func (g Kubernetes) podLogs(ctx context.Context, ns, pod string) ([]byte, error) {
	if g.Logs != nil {
		return g.Logs(ctx, ns, pod)
	}
	return g.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
}

// waitPods lists the Job's pods until each shard's has ended, and
// returns them by shard. A shard without a running pod a second after
// the start would start late: that fails the run, as does a pod still
// running at end.
func (g Kubernetes) waitPods(ctx context.Context, ns, job string, start, end time.Time, poll time.Duration) ([]corev1.Pod, error) {
	for {
		list, err := g.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "loadcheck.run=" + job})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("kubernetes: list the pods of Job %s/%s: %w", ns, job, err)
		}
		byShard := make([]*corev1.Pod, g.N)
		for i := range list.Items {
			p := &list.Items[i]
			idx := cmp.Or(p.Annotations[completionIndex], p.Labels[completionIndex])
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
			case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			default:
				done = false
				if p.Status.Phase != corev1.PodRunning {
					late = append(late, fmt.Sprintf("shard %d (pod %s on node %q) is %s", j, p.Name, p.Spec.NodeName, podState(p)))
				}
			}
		}
		if done {
			out := make([]corev1.Pod, g.N)
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
func podState(p *corev1.Pod) string {
	s := string(p.Status.Phase)
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
