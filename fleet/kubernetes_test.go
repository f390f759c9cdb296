package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// kubelet stands in for the cluster behind client-go's fake clientset:
// when the Job appears, it makes one pod per shard (index annotation,
// node) and runs each shard's request from the ConfigMap for real, in
// this process, against a real server; the pod's logs are its output.
type kubelet struct {
	client  *fake.Clientset
	ns, job string
	kill    int // the shard whose pod dies mid-run (-1: none)
	pending int // the shard whose pod never starts (-1: none)

	mu   sync.Mutex
	logs map[string]*bytes.Buffer
	wg   sync.WaitGroup // the pods' shards
}

// cutWriter stops passing writes on once cut: a killed process's output.
type cutWriter struct {
	mu  *sync.Mutex
	w   io.Writer
	cut bool
}

func (c *cutWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return len(p), nil
	}
	return c.w.Write(p)
}

func (k *kubelet) run(ctx context.Context, t *testing.T) {
	var cm *corev1.ConfigMap
	for cm == nil {
		if ctx.Err() != nil {
			return
		}
		if _, err := k.client.BatchV1().Jobs(k.ns).Get(ctx, k.job, metav1.GetOptions{}); err == nil {
			if c, err := k.client.CoreV1().ConfigMaps(k.ns).Get(ctx, k.job, metav1.GetOptions{}); err == nil {
				cm = c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for j := range len(cm.Data) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-abcde", k.job, j), Namespace: k.ns,
				Labels: map[string]string{"loadcheck.run": k.job}, Annotations: map[string]string{completionIndex: strconv.Itoa(j)}},
			Spec:   corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", j)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
		if j == k.pending {
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "shard",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "pull access denied"}}}}}
		}
		if _, err := k.client.CoreV1().Pods(k.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Error(err)
			return
		}
		if j == k.pending {
			continue
		}
		var buf bytes.Buffer
		k.mu.Lock()
		k.logs[pod.Name] = &buf
		k.mu.Unlock()
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			w := &cutWriter{mu: &k.mu, w: &buf}
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if j == k.kill {
				var req bench.ShardRequest
				_ = json.Unmarshal([]byte(cm.Data[fmt.Sprintf("shard-%d.json", j)]), &req)
				time.AfterFunc(time.Until(req.Options.StartAt.Add(1500*time.Millisecond)), func() {
					k.mu.Lock()
					w.cut = true
					k.mu.Unlock()
					cancel()
				})
			}
			err := bench.ServeShard(sctx, strings.NewReader(cm.Data[fmt.Sprintf("shard-%d.json", j)]), w)
			st := corev1.PodStatus{Phase: corev1.PodSucceeded}
			if err != nil || j == k.kill {
				st = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "shard",
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}
			}
			p := pod.DeepCopy()
			p.Status = st
			if _, err := k.client.CoreV1().Pods(k.ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
}

func (k *kubelet) podLogs(_ context.Context, ns, pod string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.logs[pod]
	if !ok || ns != k.ns {
		return nil, fmt.Errorf("pod %s/%s has no logs", ns, pod)
	}
	return bytes.Clone(b.Bytes()), nil
}

// kubeRun runs a 3-shard load of 30 connections through the Kubernetes
// fleet on a fake clientset and returns its result and error, and the
// clientset to inspect afterwards.
func kubeRun(t *testing.T, kill, pending int) (*bench.Result, error, *fake.Clientset) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	client := fake.NewClientset()
	k := &kubelet{client: client, ns: "perf", job: "loadcheck-t1", kill: kill, pending: pending, logs: map[string]*bytes.Buffer{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(k.wg.Wait) // after cancel: no pod outlives its test
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		k.run(ctx, t)
	}()
	g := Kubernetes{N: 3, Spec: Kube{Name: k.job, Namespace: k.ns, Image: "loadcheck/generator:test"}, Client: client, Logs: k.podLogs,
		Lead: 2 * time.Second, Poll: 100 * time.Millisecond, Version: "test-version", ClockAddr: "127.0.0.1:0"}
	l := bench.Load{Connections: 30, Ramp: 300 * time.Millisecond, WarmUp: 500 * time.Millisecond, Duration: 2 * time.Second,
		RatePerConn: 5, Timeout: 2 * time.Second, Paths: []string{"/"}}
	res, err := g.Generate(ctx, srv.URL+"/", l, nil, nil)
	return res, err, client
}

// gone fails unless the run's Job and ConfigMap were deleted.
func gone(t *testing.T, client *fake.Clientset) {
	t.Helper()
	if _, err := client.BatchV1().Jobs("perf").Get(context.Background(), "loadcheck-t1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Job is still there (%v)", err)
	}
	if _, err := client.CoreV1().ConfigMaps("perf").Get(context.Background(), "loadcheck-t1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap is still there (%v)", err)
	}
}

// Three shards' pods run their requests for real; the coordinator merges
// their logs into exactly the schedule, with each shard's node and clock
// offset, and deletes what it created.
func TestKubernetesFleet(t *testing.T) {
	res, err, client := kubeRun(t, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 300 || res.OK != 300 || res.Served != 30 || res.Fleet != "kubernetes" || len(res.PerShard) != 3 {
		t.Errorf("merged: fleet %q, sent %d, ok %d, served %d, %d shards", res.Fleet, res.Sent, res.OK, res.Served, len(res.PerShard))
	}
	for j, s := range res.PerShard {
		if s.Node != fmt.Sprintf("node-%d", j) || s.ClockOffsetMS == nil || math.Abs(*s.ClockOffsetMS) > 50 || s.OK != 100 {
			t.Errorf("shard %d: node %q, clock %v, ok %d", j, s.Node, s.ClockOffsetMS, s.OK)
		}
	}
	gone(t, client)
}

// A pod killed mid-run fails the run, named with its pod, node, state and
// last progress; nothing is merged, and the Job and ConfigMap go.
func TestKubernetesShardKilled(t *testing.T) {
	res, err, client := kubeRun(t, 1, -1)
	if err == nil {
		t.Fatalf("no error; merged %+v", res.Connections)
	}
	for _, want := range []string{"kubernetes shard 1 (pod perf/loadcheck-t1-1-abcde on node node-1, Failed, container shard exited 137 (OOMKilled))", "never reported a result", "its last progress"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	gone(t, client)
}

// A pod that is not running by the start (its image cannot be pulled)
// fails the run before the merge, naming the reason.
func TestKubernetesShardLate(t *testing.T) {
	_, err, client := kubeRun(t, -1, 2)
	if err == nil || !strings.Contains(err.Error(), "shard 2 (pod loadcheck-t1-2-abcde on node \"node-2\") is Pending, container shard waiting: ImagePullBackOff pull access denied") {
		t.Errorf("error: %v", err)
	}
	gone(t, client)
}
