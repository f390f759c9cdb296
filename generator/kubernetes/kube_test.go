package kubernetes

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loadcheck/loadcheck/bench"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// strict decodes one YAML document into v, refusing any field the
// Kubernetes type lacks.
func strict(t *testing.T, doc string, v any) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v in:\n%s", err, doc)
	}
}

// The manifests decode strictly into k8s.io/api's types: a ConfigMap with
// every shard's request, and an Indexed Job that runs each once, spread
// across nodes, with the requests asked for.
func TestKubeManifests(t *testing.T) {
	o := bench.Options{Load: bench.Load{Connections: 3000, Ramp: 4 * time.Second, WarmUp: 30 * time.Second, Duration: 60 * time.Second,
		RatePerConn: 1, Timeout: 2 * time.Second, Paths: []string{"/"}}}
	reqs, err := bench.PlanShards(bench.Target{URL: "http://10.0.0.5:8080/"}, o, 3, time.Now().Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Manifests(reqs, Spec{Name: "loadcheck-nightly", Namespace: "perf", Image: "registry.example/loadcheck/generator:abc",
		CPU: "1", Memory: "1Gi", ServiceAccount: "loadcheck"})
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want a ConfigMap and a Job:\n%s", len(docs), out)
	}
	var cm corev1.ConfigMap
	strict(t, docs[0], &cm)
	var job batchv1.Job
	strict(t, docs[1], &job)
	if cm.Kind != "ConfigMap" || cm.Namespace != "perf" || len(cm.Data) != 3 {
		t.Errorf("configmap %+v", cm.ObjectMeta)
	}
	for j := range 3 {
		var r bench.ShardRequest
		if err := json.Unmarshal([]byte(cm.Data["shard-"+string(rune('0'+j))+".json"]), &r); err != nil || r.Options.Shard != j || r.Options.Shards != 3 {
			t.Errorf("shard-%d.json: %v, %+v", j, err, r.Options)
		}
	}
	s := job.Spec
	pod := s.Template.Spec
	c := pod.Containers[0]
	switch {
	case job.Kind != "Job" || job.APIVersion != "batch/v1" || job.Namespace != "perf":
		t.Errorf("job %s %s in %s", job.APIVersion, job.Kind, job.Namespace)
	case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 3 || *s.Parallelism != 3 || *s.BackoffLimit != 0:
		t.Errorf("job spec: mode %v, completions %v, parallelism %v, backoff %v", s.CompletionMode, s.Completions, s.Parallelism, s.BackoffLimit)
	case pod.RestartPolicy != corev1.RestartPolicyNever || pod.ServiceAccountName != "loadcheck":
		t.Errorf("pod: restart %s, service account %q", pod.RestartPolicy, pod.ServiceAccountName)
	case strings.Join(c.Args, " ") != "shard /plan" || c.VolumeMounts[0].MountPath != "/plan" || pod.Volumes[0].ConfigMap.Name != "loadcheck-nightly":
		t.Errorf("container args %v, mounts %+v", c.Args, c.VolumeMounts)
	case c.Resources.Requests.Cpu().String() != "1" || c.Resources.Requests.Memory().String() != "1Gi" || c.ImagePullPolicy != corev1.PullIfNotPresent:
		t.Errorf("resources %+v, pull %s", c.Resources, c.ImagePullPolicy)
	case pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil ||
		pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname":
		t.Errorf("no spreading across nodes: %+v", pod.Affinity)
	}
	for _, bad := range []Spec{{Name: "Loadcheck_1", Image: "x"}, {Name: "ok", Namespace: "a/b", Image: "x"}, {Name: "ok"}} {
		if _, err := Manifests(reqs, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
