package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/loadcheck/loadcheck/bench"
	"gopkg.in/yaml.v3"
)

// Spec is what the Kubernetes manifests of a planned load need beyond the
// shard requests.
type Spec struct {
	Name      string // the Job's and ConfigMap's name (a DNS label)
	Namespace string
	Image     string // the generator image: loadcheck as its entrypoint
	// PullPolicy is the image pull policy (IfNotPresent by default).
	PullPolicy string
	// CPU and Memory are each shard's resource requests, as Kubernetes
	// writes quantities ("1", "500m", "1Gi"); "" leaves them out.
	CPU, Memory string
	// ServiceAccount runs the pods; "" is the namespace's default.
	ServiceAccount string
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Manifests is a ConfigMap holding every shard's request
// (shard-J.json) and an Indexed Job that runs them: completion mode
// Indexed, parallelism = completions = the shards, no retries (a retried
// shard would start late), pods spread across nodes, each running
// `loadcheck shard /plan`, which picks its request by JOB_COMPLETION_INDEX.
// The pods' logs are the shards' outputs, for `loadcheck merge`.
func Manifests(reqs []bench.ShardRequest, k Spec) ([]byte, error) {
	docs, err := kubeDocs(reqs, k)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i, doc := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
		enc.Close()
	}
	return b.Bytes(), nil
}

// kubeDocs are Manifests' ConfigMap and Job, as the API takes them.
func kubeDocs(reqs []bench.ShardRequest, k Spec) ([]map[string]any, error) {
	switch {
	case !dnsLabel.MatchString(k.Name):
		return nil, fmt.Errorf("kubernetes name %q: want a DNS label (lowercase letters, digits and '-', at most 63)", k.Name)
	case k.Namespace != "" && !dnsLabel.MatchString(k.Namespace):
		return nil, fmt.Errorf("kubernetes namespace %q: want a DNS label", k.Namespace)
	case k.Image == "":
		return nil, fmt.Errorf("kubernetes: give the generator image (--generator-image): an image whose entrypoint is loadcheck")
	case len(reqs) == 0:
		return nil, fmt.Errorf("kubernetes: no shard to run")
	}
	if k.Namespace == "" {
		k.Namespace = "default"
	}
	if k.PullPolicy == "" {
		k.PullPolicy = "IfNotPresent"
	}
	labels := map[string]string{"app.kubernetes.io/name": "loadcheck", "app.kubernetes.io/component": "generator", "loadcheck.run": k.Name}
	meta := map[string]any{"name": k.Name, "namespace": k.Namespace, "labels": labels}
	data := map[string]string{}
	for j, r := range reqs {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return nil, err
		}
		data["shard-"+strconv.Itoa(j)+".json"] = string(b)
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
	container := map[string]any{
		"name": "shard", "image": k.Image, "imagePullPolicy": k.PullPolicy,
		"args":         []string{"shard", "/plan"},
		"volumeMounts": []map[string]any{{"name": "plan", "mountPath": "/plan", "readOnly": true}},
	}
	if k.CPU != "" || k.Memory != "" {
		req := map[string]string{}
		if k.CPU != "" {
			req["cpu"] = k.CPU
		}
		if k.Memory != "" {
			req["memory"] = k.Memory
		}
		container["resources"] = map[string]any{"requests": req}
	}
	pod := map[string]any{
		"restartPolicy": "Never",
		"containers":    []any{container},
		"volumes":       []map[string]any{{"name": "plan", "configMap": map[string]any{"name": k.Name}}},
		// One shard per node where the cluster has nodes enough: a node's
		// ports, descriptors and CPU are what sharding is for.
		"affinity": map[string]any{"podAntiAffinity": map[string]any{
			"preferredDuringSchedulingIgnoredDuringExecution": []map[string]any{{
				"weight": 100,
				"podAffinityTerm": map[string]any{
					"topologyKey":   "kubernetes.io/hostname",
					"labelSelector": map[string]any{"matchLabels": map[string]string{"loadcheck.run": k.Name}},
				},
			}},
		}},
	}
	if k.ServiceAccount != "" {
		pod["serviceAccountName"] = k.ServiceAccount
	}
	n := len(reqs)
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": map[string]any{
		"completionMode": "Indexed", "completions": n, "parallelism": n, "backoffLimit": 0,
		"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": pod},
	}}
	return []map[string]any{cm, job}, nil
}

// NameFor is the Job's and ConfigMap's name for a run: a DNS label.
func NameFor(runID string) string {
	return "loadcheck-" + strings.ToLower(strings.ReplaceAll(runID, "_", "-"))
}
