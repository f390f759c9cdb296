package kubernetes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// fakeCluster is an API server over TLS that keeps ConfigMaps, Jobs and
// pods in memory, with a kubelet: when a Job is created it makes one pod
// per shard (completion index annotation, a node) and runs each shard's
// request from the ConfigMap for real, in this process, against a real
// server; the pod's log is its output. Posted objects must decode
// strictly into k8s.io/api's types.
type fakeCluster struct {
	t       *testing.T
	srv     *httptest.Server
	kill    int // the shard whose pod dies mid-run (-1: none)
	pending int // the shard whose pod never starts (-1: none)
	ctx     context.Context
	// listFails is how many pod lists answer 503 or 429 before one
	// works; logFails how many log reads of shard j's pod answer 500
	// first (-1: every one).
	listFails int
	logFails  map[int]int

	mu   sync.Mutex
	cms  map[string]corev1.ConfigMap
	jobs map[string]batchv1.Job
	pods []*kubePod
	logs map[string]*bytes.Buffer
	wg   sync.WaitGroup // the pods' shards
}

const fakeToken = "test-token"

func newFakeCluster(t *testing.T, ctx context.Context, kill, pending int) *fakeCluster {
	f := &fakeCluster{t: t, kill: kill, pending: pending, ctx: ctx, cms: map[string]corev1.ConfigMap{}, jobs: map[string]batchv1.Job{}, logs: map[string]*bytes.Buffer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"gitVersion":"v1.34.0-fake"}`) })
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/configmaps", func(w http.ResponseWriter, r *http.Request) {
		var cm corev1.ConfigMap
		if !f.decode(w, r, &cm) {
			return
		}
		f.mu.Lock()
		f.cms[r.PathValue("ns")+"/"+cm.Name] = cm
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /apis/batch/v1/namespaces/{ns}/jobs", func(w http.ResponseWriter, r *http.Request) {
		var job batchv1.Job
		if !f.decode(w, r, &job) {
			return
		}
		ns := r.PathValue("ns")
		f.mu.Lock()
		f.jobs[ns+"/"+job.Name] = job
		cm, ok := f.cms[ns+"/"+job.Name]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"message":"configmap missing"}`, http.StatusUnprocessableEntity)
			return
		}
		w.WriteHeader(http.StatusCreated)
		f.startPods(ns, job, cm)
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", func(w http.ResponseWriter, r *http.Request) {
		k, v, _ := strings.Cut(r.URL.Query().Get("labelSelector"), "=")
		f.mu.Lock()
		if f.listFails > 0 {
			f.listFails--
			f.mu.Unlock()
			code := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}[f.listFails%2]
			http.Error(w, `{"message":"etcdserver: request timed out"}`, code)
			return
		}
		var items []kubePod
		for _, p := range f.pods {
			if p.Metadata.Labels[k] == v {
				items = append(items, *p)
			}
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"items": items})
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{pod}/log", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for j, n := range f.logFails {
			if strings.HasSuffix(r.PathValue("pod"), fmt.Sprintf("-%d-abcde", j)) && n != 0 {
				f.logFails[j] = n - 1
				http.Error(w, `{"message":"Get \"https://node:10250/containerLogs\": EOF"}`, http.StatusInternalServerError)
				return
			}
		}
		b, ok := f.logs[r.PathValue("pod")]
		if !ok {
			http.Error(w, `{"message":"no such pod"}`, http.StatusNotFound)
			return
		}
		w.Write(b.Bytes())
	})
	mux.HandleFunc("DELETE /api/v1/namespaces/{ns}/configmaps/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		key := r.PathValue("ns") + "/" + r.PathValue("name")
		if _, ok := f.cms[key]; !ok {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		delete(f.cms, key)
		io.WriteString(w, `{}`)
	})
	mux.HandleFunc("DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		key := r.PathValue("ns") + "/" + r.PathValue("name")
		if _, ok := f.jobs[key]; !ok {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		if r.URL.Query().Get("propagationPolicy") != "Background" {
			f.t.Errorf("the Job was deleted without its pods (propagationPolicy %q)", r.URL.Query().Get("propagationPolicy"))
		}
		delete(f.jobs, key)
		io.WriteString(w, `{}`)
	})
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.wg.Wait() // after the test's context ended: no pod outlives it
		f.srv.Close()
	})
	return f
}

// decode reads a posted object strictly into v.
func (f *fakeCluster) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		f.t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, `{"message":"bad object"}`, http.StatusBadRequest)
		return false
	}
	return true
}

// kubeconfig writes a kubeconfig for the fake cluster (its CA inline, a
// token) and returns its path.
func (f *fakeCluster) kubeconfig(dir string) string {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	path := filepath.Join(dir, "config")
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: perf
contexts: [{name: perf, context: {cluster: fake, user: ci, namespace: perf}}]
clusters: [{name: fake, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: ci, user: {token: %s}}]
`, f.srv.URL, base64.StdEncoding.EncodeToString(ca), fakeToken)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
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

func (f *fakeCluster) startPods(ns string, job batchv1.Job, cm corev1.ConfigMap) {
	for j := range int(*job.Spec.Completions) {
		p := &kubePod{}
		p.Metadata.Name = fmt.Sprintf("%s-%d-abcde", job.Name, j)
		p.Metadata.Labels = job.Spec.Template.Labels
		p.Metadata.Annotations = map[string]string{completionIndex: strconv.Itoa(j)}
		p.Spec.NodeName = fmt.Sprintf("node-%d", j)
		p.Status.Phase = "Running"
		f.mu.Lock()
		f.pods = append(f.pods, p)
		if j == f.pending {
			p.Status.Phase = "Pending"
			_ = json.Unmarshal([]byte(`{"phase":"Pending","containerStatuses":[{"name":"shard","state":{"waiting":{"reason":"ImagePullBackOff","message":"pull access denied"}}}]}`), &p.Status)
			f.mu.Unlock()
			continue
		}
		var buf bytes.Buffer
		f.logs[p.Metadata.Name] = &buf
		f.mu.Unlock()
		req := cm.Data[fmt.Sprintf("shard-%d.json", j)]
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			w := &cutWriter{mu: &f.mu, w: &buf}
			ctx, cancel := context.WithCancel(f.ctx)
			defer cancel()
			if j == f.kill {
				var r bench.ShardRequest
				_ = json.Unmarshal([]byte(req), &r)
				time.AfterFunc(time.Until(r.Options.StartAt.Add(1500*time.Millisecond)), func() {
					f.mu.Lock()
					w.cut = true
					f.mu.Unlock()
					cancel()
				})
			}
			err := bench.ServeShard(ctx, strings.NewReader(req), w)
			f.mu.Lock()
			defer f.mu.Unlock()
			p.Status.Phase = "Succeeded"
			if err != nil || j == f.kill {
				_ = json.Unmarshal([]byte(`{"phase":"Failed","containerStatuses":[{"name":"shard","state":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]}`), &p.Status)
			}
		}()
	}
}

// kubeRun runs a 3-shard load of 30 connections through the Kubernetes
// fleet on a fake cluster, found through a kubeconfig as a user's would
// be, and returns its result and error, and the cluster to inspect.
func kubeRun(t *testing.T, kill, pending int, setup ...func(*fakeCluster)) (*bench.Result, *fakeCluster, error) {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(target.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fc := newFakeCluster(t, ctx, kill, pending)
	for _, f := range setup {
		f(fc)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing")+string(os.PathListSeparator)+fc.kubeconfig(t.TempDir()))
	api, err := LoadAPI()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := api.Version(ctx); err != nil || v != "v1.34.0-fake" || api.Namespace != "perf" {
		t.Fatalf("version %q, %v; namespace %q", v, err, api.Namespace)
	}
	g := Generator{N: 3, Spec: Spec{Name: "loadcheck-t1", Namespace: api.Namespace, Image: "loadcheck/generator:test"}, API: api,
		Lead: 2 * time.Second, Poll: 100 * time.Millisecond, Version: "test-version", ClockAddr: "127.0.0.1:0"}
	l := bench.Load{Connections: 30, Ramp: 300 * time.Millisecond, WarmUp: 500 * time.Millisecond, Duration: 2 * time.Second,
		RatePerConn: 5, Timeout: 2 * time.Second, Paths: []string{"/"}}
	res, err := g.Generate(ctx, target.URL+"/", bench.Options{Load: l})
	return res, fc, err
}

// gone fails unless the run's Job and ConfigMap were deleted.
func (f *fakeCluster) gone(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.jobs) > 0 || len(f.cms) > 0 {
		t.Errorf("left behind: %d jobs, %d configmaps", len(f.jobs), len(f.cms))
	}
}

// Three shards' pods run their requests for real; the coordinator merges
// their logs into exactly the schedule, with each shard's node and clock
// offset, and deletes what it created.
func TestKubernetesFleet(t *testing.T) {
	res, fc, err := kubeRun(t, -1, -1)
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
	fc.mu.Lock()
	for _, p := range fc.pods {
		var req bench.ShardRequest
		// Each shard got its own request, with the coordinator's version.
		_ = json.Unmarshal([]byte(fc.logs[p.Metadata.Name].String()[:strings.IndexByte(fc.logs[p.Metadata.Name].String(), '\n')]), &struct {
			Request *bench.ShardRequest `json:"request"`
		}{&req})
		if req.Version != "test-version" || req.Clock == "" {
			t.Errorf("pod %s ran request %+v", p.Metadata.Name, req)
		}
	}
	fc.mu.Unlock()
	fc.gone(t)
}

// A pod killed mid-run fails the run, named with its pod, node, state and
// last progress; nothing is merged, and the Job and ConfigMap go.
func TestKubernetesShardKilled(t *testing.T) {
	res, fc, err := kubeRun(t, 1, -1)
	if err == nil {
		t.Fatalf("no error; merged %+v", res.Connections)
	}
	for _, want := range []string{"kubernetes shard 1 (pod perf/loadcheck-t1-1-abcde on node node-1, Failed, container shard exited 137 (OOMKilled))", "never reported a result", "its last progress"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	fc.gone(t)
}

// A pod that is not running by the start (its image cannot be pulled)
// fails the run before the merge, naming the reason.
func TestKubernetesShardLate(t *testing.T) {
	_, fc, err := kubeRun(t, -1, 2)
	if err == nil || !strings.Contains(err.Error(), `shard 2 (pod loadcheck-t1-2-abcde on node "node-2") is Pending, container shard waiting: ImagePullBackOff pull access denied`) {
		t.Errorf("error: %v", err)
	}
	fc.gone(t)
}

// The API server throttles and times out now and then: the pod list fails
// three times (503, 429), one pod's log read twice (500). The fleet rides
// it out: the run is whole.
func TestKubernetesTransientErrors(t *testing.T) {
	res, fc, err := kubeRun(t, -1, -1, func(f *fakeCluster) { f.listFails, f.logFails = 3, map[int]int{1: 2} })
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 300 || res.Served != 30 || len(res.PerShard) != 3 {
		t.Errorf("merged: sent %d, served %d, %d shards", res.Sent, res.Served, len(res.PerShard))
	}
	fc.gone(t)
}

// One pod's log can never be read: the run fails naming that shard, the
// other shards' outputs are kept in a folder the error names (before the
// Job and its pods are deleted), and the Job and ConfigMap still go.
func TestKubernetesLogLost(t *testing.T) {
	_, fc, err := kubeRun(t, -1, -1, func(f *fakeCluster) { f.logFails = map[int]int{2: -1} })
	if err == nil {
		t.Fatal("no error with a shard's logs lost")
	}
	msg := err.Error()
	if !strings.Contains(msg, "read the logs of kubernetes shard 2 (pod perf/loadcheck-t1-2-abcde") || !strings.Contains(msg, "after 5 attempts") {
		t.Errorf("error does not name the lost shard and the attempts: %v", err)
	}
	_, dir, ok := strings.Cut(msg, "the other shards' outputs are in ")
	dir, _, _ = strings.Cut(dir, " ")
	if !ok {
		t.Fatalf("error does not say where the other outputs are: %v", err)
	}
	defer os.RemoveAll(dir)
	for j := range 2 {
		fh, err := os.Open(filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", j)))
		if err != nil {
			t.Fatal(err)
		}
		o, err := bench.ReadShardOutput(fh.Name(), fh)
		fh.Close()
		if err != nil || o.Result == nil || o.Request.Options.Shard != j {
			t.Errorf("kept shard %d: %v, %+v", j, err, o)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "shard-2.jsonl")); err == nil {
		t.Error("the lost shard has an output file")
	}
	fc.gone(t)
}
