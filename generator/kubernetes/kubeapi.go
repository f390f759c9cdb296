package kubernetes

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// API is the little of the Kubernetes API the fleet uses, spoken as
// plain JSON over HTTPS: create a ConfigMap and a Job, list and read pods
// and their logs, delete what was created. client-go would do it too, but
// linking it doubles the resident memory of every loadcheck process (28
// MB more for `loadcheck version`, 17 MB more at 16,000 connections: its
// package-level state is scanned and its init code run in every process),
// which the generator's memory per connection pays.
type API struct {
	Server    string // https://host:port
	Client    *http.Client
	Token     string // a bearer token; "" with client certificates
	Namespace string // the context's namespace, "" when it names none
	From      string // where the settings came from, for messages
}

// kubeconfig is the part of a kubeconfig file loadcheck reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
			TLSServerName            string `yaml:"tls-server-name"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string   `yaml:"name"`
		User kubeUser `yaml:"user"`
	} `yaml:"users"`
}

// kubeUser is a kubeconfig user: how loadcheck signs in as it.
type kubeUser struct {
	Token                 string    `yaml:"token"`
	TokenFile             string    `yaml:"tokenFile"`
	ClientCertificate     string    `yaml:"client-certificate"`
	ClientCertificateData string    `yaml:"client-certificate-data"`
	ClientKey             string    `yaml:"client-key"`
	ClientKeyData         string    `yaml:"client-key-data"`
	Exec                  yaml.Node `yaml:"exec"`
	AuthProvider          yaml.Node `yaml:"auth-provider"`
	Username              string    `yaml:"username"`
}

// inClusterDir holds a pod's service account token, CA and namespace.
var inClusterDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// LoadAPI finds the cluster as kubectl does: the first file of
// KUBECONFIG (a list, as PATH) that exists, else ~/.kube/config, else the
// pod loadcheck runs in (its service account). It supports tokens and
// client certificates; a user that authenticates with an exec plugin or
// an auth provider is refused with what to use instead.
func LoadAPI() (*API, error) {
	var paths []string
	if env := os.Getenv("KUBECONFIG"); env != "" {
		paths = filepath.SplitList(env)
	} else if home, err := os.UserHomeDir(); err == nil {
		paths = []string{filepath.Join(home, ".kube", "config")}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return kubeFromFile(p)
		}
	}
	if host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"); host != "" && port != "" {
		return kubeInCluster(net.JoinHostPort(host, port))
	}
	return nil, fmt.Errorf("no kubeconfig (looked for %s) and not in a pod", cmp.Or(strings.Join(paths, ", "), "KUBECONFIG"))
}

func kubeInCluster(hostPort string) (*API, error) {
	token, err := os.ReadFile(filepath.Join(inClusterDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("in a pod, but no service account token: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(inClusterDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("in a pod, but no service account CA: %w", err)
	}
	ns, _ := os.ReadFile(filepath.Join(inClusterDir, "namespace"))
	tc, err := kubeTLS(ca, false, "")
	if err != nil {
		return nil, fmt.Errorf("the service account's ca.crt: %w", err)
	}
	return &API{Server: "https://" + hostPort, Client: kubeHTTP(tc), Token: strings.TrimSpace(string(token)),
		Namespace: strings.TrimSpace(string(ns)), From: "the pod's service account"}, nil
}

func kubeFromFile(path string) (*API, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	f := kubeFile(path)
	if kc.CurrentContext == "" {
		return nil, f.bad("no current-context: run kubectl config use-context NAME")
	}
	api := &API{From: path}
	for _, c := range kc.Contexts {
		if c.Name != kc.CurrentContext {
			continue
		}
		api.Namespace = c.Context.Namespace
		for _, cl := range kc.Clusters {
			if cl.Name != c.Context.Cluster {
				continue
			}
			s := cl.Cluster
			if !strings.HasPrefix(s.Server, "https://") && !strings.HasPrefix(s.Server, "http://") {
				return nil, f.bad("cluster %q: server %q is not an http(s) URL", cl.Name, s.Server)
			}
			ca, err := f.data(s.CertificateAuthorityData, s.CertificateAuthority, "certificate-authority-data")
			if err != nil {
				return nil, err
			}
			tc, err := kubeTLS(ca, s.InsecureSkipTLSVerify, s.TLSServerName)
			if err != nil {
				return nil, f.bad("cluster %q: %v", cl.Name, err)
			}
			api.Server = strings.TrimRight(s.Server, "/")
			for _, u := range kc.Users {
				if u.Name == c.Context.User {
					if err := f.signIn(api, tc, u.Name, u.User); err != nil {
						return nil, err
					}
				}
			}
			api.Client = kubeHTTP(tc)
			return api, nil
		}
		return nil, f.bad("context %q names cluster %q, which the file lacks", c.Name, c.Context.Cluster)
	}
	return nil, f.bad("current-context %q is not among its contexts", kc.CurrentContext)
}

// kubeFile is the path of the kubeconfig being read.
type kubeFile string

// bad is an error about the kubeconfig, naming it.
func (f kubeFile) bad(format string, a ...any) error {
	return fmt.Errorf("kubeconfig %s: %s", string(f), fmt.Sprintf(format, a...))
}

// rel is p relative to the kubeconfig's folder, as kubectl reads it.
func (f kubeFile) rel(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(string(f)), p)
}

// data reads an inline base64 field, else the file a path field names.
func (f kubeFile) data(inline, file, what string) ([]byte, error) {
	if inline != "" {
		b, err := base64.StdEncoding.DecodeString(inline)
		if err != nil {
			return nil, f.bad("%s: not base64: %v", what, err)
		}
		return b, nil
	}
	if file == "" {
		return nil, nil
	}
	return os.ReadFile(f.rel(file))
}

// signIn sets how api signs in as user name: a token (inline or from a
// file) and a client certificate in tc. Exec plugins, auth providers and
// passwords are refused with what to give instead.
func (f kubeFile) signIn(api *API, tc *tls.Config, name string, us kubeUser) error {
	switch {
	case !us.Exec.IsZero() || !us.AuthProvider.IsZero():
		return f.bad("user %q signs in through an exec plugin or auth provider, which loadcheck does not run: give it a token (kubectl create token SERVICE-ACCOUNT) or a client certificate, or run loadcheck in a pod", name)
	case us.Username != "":
		return f.bad("user %q has a username and password, which loadcheck does not send: give it a token or a client certificate", name)
	}
	api.Token = us.Token
	if us.TokenFile != "" {
		b, err := os.ReadFile(f.rel(us.TokenFile))
		if err != nil {
			return f.bad("user %q: %v", name, err)
		}
		api.Token = strings.TrimSpace(string(b))
	}
	cert, err := f.data(us.ClientCertificateData, us.ClientCertificate, "client-certificate-data")
	if err != nil {
		return err
	}
	key, err := f.data(us.ClientKeyData, us.ClientKey, "client-key-data")
	if err != nil {
		return err
	}
	if len(cert) > 0 || len(key) > 0 {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return f.bad("user %q: client certificate: %v", name, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return nil
}

// kubeTLS trusts ca (PEM) when given, else the system's roots.
func kubeTLS(ca []byte, insecure bool, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, ServerName: serverName}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("certificate authority: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func kubeHTTP(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
}

// do sends one request and decodes a 2xx answer's JSON into out (when not
// nil); any other status is an error quoting the API's message.
func (k *API) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.Server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.Token != "" {
		req.Header.Set("Authorization", "Bearer "+k.Token)
	}
	resp, err := k.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &st) != nil || st.Message == "" {
			st.Message = fmt.Sprintf("%.200s", data)
		}
		return &APIError{Status: resp.StatusCode, Method: method, Path: path, Message: st.Message}
	}
	if out == nil {
		return nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// APIError is an answer of the API other than 2xx.
type APIError struct {
	Status       int
	Method, Path string
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Version asks the API server for its version: whether it answers.
func (k *API) Version(ctx context.Context) (string, error) {
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	err := k.do(ctx, http.MethodGet, "/version", nil, &v)
	return v.GitVersion, err
}

// kubePod is the part of a pod the fleet reads.
type kubePod struct {
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		Reason            string `json:"reason"`
		ContainerStatuses []struct {
			Name  string `json:"name"`
			State struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
				Terminated *struct {
					ExitCode int    `json:"exitCode"`
					Reason   string `json:"reason"`
				} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func nsPath(group, ns, resource string) string {
	return fmt.Sprintf("/%s/namespaces/%s/%s", group, url.PathEscape(ns), resource)
}

func (k *API) pods(ctx context.Context, ns, selector string) ([]kubePod, error) {
	var list struct {
		Items []kubePod `json:"items"`
	}
	err := k.do(ctx, http.MethodGet, nsPath("api/v1", ns, "pods")+"?labelSelector="+url.QueryEscape(selector), nil, &list)
	return list.Items, err
}

func (k *API) podLogs(ctx context.Context, ns, pod string) ([]byte, error) {
	var b []byte
	err := k.do(ctx, http.MethodGet, nsPath("api/v1", ns, "pods/"+url.PathEscape(pod)+"/log"), nil, &b)
	return b, err
}
