package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/loadcheck/loadcheck/scenarios"
)

// Labels loadcheck puts on every container it starts; Clean removes
// whatever carries LabelManaged.
const (
	LabelManaged = "org.loadcheck.managed"
	LabelRun     = "org.loadcheck.run"
	LabelConfig  = "org.loadcheck.config"
	// LabelLayout on an image names its layout (set by image/build.sh).
	LabelLayout = "org.loadcheck.layout"
)

// DefaultImage is what users run; DebianImage is what image/build.sh builds
// where no registry can be reached.
const (
	DefaultImage = "httpd:2.4"
	DebianImage  = "loadcheck/apache2:bookworm"
)

// MaxNofile is the largest nofile limit loadcheck asks the engine for. A
// higher value than the engine's own hard limit makes runc fail with
// "error setting rlimits".
const MaxNofile = 20000

// Options describes one httpd container.
type Options struct {
	Image  string
	Layout Layout
	Config scenarios.Config
	RunID  string
	// Connections is the load's target; the nofile limit is sized to it.
	Connections int
	// StartTimeout bounds the wait for httpd to say it is ready.
	StartTimeout time.Duration
}

// Server is a running httpd container.
type Server struct {
	Container *testcontainers.DockerContainer
	URL       string // base URL for the load, "http://127.0.0.1:PORT/"
	StatusURL string // mod_status machine-readable URL
	ConfText  string // the httpd.conf the container runs
	ImageID   string
	Version   string // "Apache/2.4.68 (Debian)"
	Nofile    int
	// HostNetwork is true when httpd shares the host's network namespace
	// (Linux), so kernel network counters are the host's.
	HostNetwork bool
	// Cgroup reads the container's memory, CPU and OOM kills; nil when its
	// cgroup files cannot be found (CgroupErr says why).
	Cgroup    *Cgroup
	CgroupErr error
	// Pid is httpd's host PID; ListenPort the port it listens on in its
	// own network namespace.
	Pid, ListenPort int
}

// Terminate stops and removes the container. It is safe on a nil Server and
// uses its own short timeout, so it also works after ctx was cancelled.
func (s *Server) Terminate() error {
	if s == nil || s.Container == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Container.Terminate(ctx, testcontainers.StopTimeout(2*time.Second))
}

// Logs returns the container's output (httpd's error log).
func (s *Server) Logs(ctx context.Context) (string, error) {
	rc, err := s.Container.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// ConfigError is httpd rejecting a config (its -t check failed). Message is
// Apache's own output.
type ConfigError struct {
	Config  string
	File    string // the user's own file, when the config is one
	Message string
}

func (e *ConfigError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("httpd rejected %s (config %q, as %s in the container): %s", e.File, e.Config, ConfPath, e.Message)
	}
	return fmt.Sprintf("httpd rejected config %q (%s): %s", e.Config, ConfPath, e.Message)
}

// OOMError means the kernel killed httpd for memory before it was ready:
// the config does not fit in the container's memory limit.
type OOMError struct {
	Config  string
	LimitMB float64
}

func (e *OOMError) Error() string {
	return fmt.Sprintf("killed: out of memory while httpd for %s started, under a %g MB memory limit: its start-up processes alone do not fit (raise --memory, or lower StartServers)", e.Config, e.LimitMB)
}

// ImageMissingError means the image is not in the local engine.
type ImageMissingError struct{ Image string }

func (e *ImageMissingError) Error() string {
	hint := "pull it (docker pull " + e.Image + ") or build the Debian one with `make image` and pass --image " + DebianImage
	if e.Image == DebianImage {
		hint = "build it with `make image` (containers/image/build.sh)"
	}
	return fmt.Sprintf("image %s is not in the local Docker engine: %s", e.Image, hint)
}

// DockerError means the engine could not be reached.
type DockerError struct{ Err error }

func (e *DockerError) Error() string {
	return fmt.Sprintf("Docker engine unreachable (is dockerd running, is DOCKER_HOST right?): %v", e.Err)
}

func (e *DockerError) Unwrap() error { return e.Err }

// NewClient connects to the Docker engine the way testcontainers does.
// When DOCKER_HOST is set, that engine must answer: testcontainers would
// otherwise quietly fall back to the default socket.
func NewClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		c, err := client.New(client.FromEnv)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = c.Ping(pctx, client.PingOptions{})
			cancel()
			c.Close()
		}
		if err != nil {
			return nil, &DockerError{Err: fmt.Errorf("DOCKER_HOST=%s: %w", host, err)}
		}
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, &DockerError{Err: err}
	}
	return cli, nil
}

// ImageInfo is what loadcheck needs to know about an image.
type ImageInfo struct {
	ID      string
	Layout  Layout
	Version string // from the image's label, when it has one
}

// InspectImage looks the image up in the local engine and works out its
// layout: a loadcheck layout label first, then the official image's
// HTTPD_PREFIX variable. layout, when not empty, is the user's word and wins.
func InspectImage(ctx context.Context, image, layout string) (ImageInfo, error) {
	cli, err := NewClient(ctx)
	if err != nil {
		return ImageInfo{}, err
	}
	defer cli.Close()
	res, err := cli.ImageInspect(ctx, image)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return ImageInfo{}, &ImageMissingError{Image: image}
		}
		return ImageInfo{}, fmt.Errorf("inspect image %s: %w", image, err)
	}
	info := ImageInfo{ID: res.ID}
	var labels map[string]string
	var env []string
	if res.Config != nil {
		labels, env = res.Config.Labels, res.Config.Env
	}
	info.Version = labels["org.loadcheck.httpd-version"]
	if info.Version == "" {
		for _, e := range env {
			if v, ok := strings.CutPrefix(e, "HTTPD_VERSION="); ok {
				info.Version = "Apache/" + v
			}
		}
	}
	name := layout
	if name == "" {
		name = labels[LabelLayout]
	}
	if name == "" {
		for _, e := range env {
			if strings.HasPrefix(e, "HTTPD_PREFIX=") {
				name = "official"
			}
		}
	}
	if name == "" {
		return info, fmt.Errorf("cannot tell the httpd layout of image %s: pass --layout official (httpd:2.4 style) or --layout debian (apache2 package)", image)
	}
	info.Layout, err = LayoutByName(name)
	return info, err
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NofileFor is the nofile limit httpd needs for n connections: one
// descriptor each plus a margin for listeners, logs and pipes, within
// MaxNofile.
func NofileFor(n int) int {
	return min(n+1024, MaxNofile)
}

// configInvalidMark is printed by the start script when `httpd -t` fails.
const configInvalidMark = "LOADCHECK_CONFIG_INVALID"

// Start renders the config, starts httpd in a labelled container and waits
// until it answers /server-status?auto. On Linux the container uses the
// host's network and httpd listens on 127.0.0.1; elsewhere a mapped port.
// On error the returned Server, if not nil, must still be terminated.
func Start(ctx context.Context, o Options) (*Server, error) {
	hostNet := runtime.GOOS == "linux"
	port := 80
	if hostNet {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		port = p
	}
	listen := "0.0.0.0:80"
	if hostNet {
		listen = fmt.Sprintf("127.0.0.1:%d", port)
	}
	conf := Render(o.Config, o.Layout, listen)
	nofile := NofileFor(o.Connections)
	// Check the config with httpd's own -t before serving; exec keeps httpd
	// as PID 1 so that a stop signal reaches it.
	// The page and runtime files live on tmpfs: served from the image's
	// filesystem (fuse-overlayfs on some engines) every request costs a trip
	// through a userspace daemon, and that daemon, not httpd, becomes the
	// bottleneck at a few thousand requests per second. Every path lookup
	// still starts at "/", and a fuse filesystem does not cache ACLs: for a
	// worker that is neither owner of "/" nor root, each lookup asks the
	// daemon for the root's ACL. Without group bits on "/" the kernel skips
	// the ACL check (others keep r-x), which halves httpd's CPU per request
	// there. It changes nothing else in the throwaway container.
	script := fmt.Sprintf("chmod g-rwx / 2>/dev/null; printf 'ok\\n' > %[4]s/index.html && %[1]s -t -f %[2]s 2>&1 || { echo %[3]s; exit 3; }; exec %[1]s -DFOREGROUND -f %[2]s",
		o.Layout.Binary, ConfPath, configInvalidMark, DocRoot)
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmd("sh", "-c", script),
		testcontainers.WithEntrypoint(),
		testcontainers.WithLabels(map[string]string{
			LabelManaged: "true", LabelRun: o.RunID, LabelConfig: o.Config.Name,
		}),
		testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: strings.NewReader(conf), ContainerFilePath: ConfPath, FileMode: 0o644},
		),
		testcontainers.WithTmpfs(map[string]string{DocRoot: "rw,mode=0755,size=1m", RunDir: "rw,mode=0755,size=16m"}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hostNet {
				hc.NetworkMode = "host"
			}
			hc.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: int64(nofile), Hard: int64(nofile)}}
			if m := o.Config.MemoryBytes; m > 0 {
				hc.Resources.Memory, hc.Resources.MemorySwap = m, m // no swap: the limit is the host's RAM
			}
			if c := o.Config.CPUs; c > 0 {
				hc.Resources.NanoCPUs = int64(c * 1e9)
			}
		}),
		testcontainers.WithWaitStrategyAndDeadline(timeout,
			wait.ForLog(readyLogMsg+"|"+configInvalidMark).AsRegexp().WithPollInterval(100*time.Millisecond)),
	}
	if !hostNet {
		opts = append(opts, testcontainers.WithExposedPorts("80/tcp"))
	}
	ctr, err := testcontainers.Run(ctx, o.Image, opts...)
	srv := &Server{Container: ctr, ConfText: conf, Nofile: nofile, HostNetwork: hostNet}
	if ctr == nil {
		return nil, classifyStartError(o, nofile, err)
	}
	logs, _ := srv.Logs(ctx)
	if strings.Contains(logs, configInvalidMark) {
		return srv, &ConfigError{Config: o.Config.Name, File: o.Config.File, Message: apacheMessage(logs)}
	}
	if err != nil {
		return srv, fmt.Errorf("start httpd for %s: %w\nhttpd said:\n%s", o.Config.Name, classifyStartError(o, nofile, err), tail(logs, 10))
	}
	host, mapped := "127.0.0.1", port
	if !hostNet {
		h, err := ctr.Host(ctx)
		if err != nil {
			return srv, fmt.Errorf("container host: %w", err)
		}
		p, err := ctr.MappedPort(ctx, "80/tcp")
		if err != nil {
			return srv, fmt.Errorf("mapped port: %w", err)
		}
		host, mapped = h, int(p.Num())
	}
	srv.URL = fmt.Sprintf("http://%s/", net.JoinHostPort(host, strconv.Itoa(mapped)))
	srv.StatusURL = strings.TrimSuffix(srv.URL, "/") + StatusPath + "?auto"
	if err := waitStatus(ctx, srv.StatusURL, 15*time.Second); err != nil {
		return srv, fmt.Errorf("httpd for %s logged that it is ready but %w\nhttpd said:\n%s", o.Config.Name, err, tail(logs, 10))
	}
	if st, err := FetchStatus(ctx, http.DefaultClient, srv.StatusURL); err == nil {
		srv.Version = st.ServerVersion
	}
	if info, err := ctr.Inspect(ctx); err != nil {
		srv.CgroupErr = err
	} else if info.State != nil {
		srv.Pid = info.State.Pid
		srv.Cgroup, srv.CgroupErr = CgroupOf("/proc", "/sys/fs/cgroup", info.State.Pid)
	}
	srv.ListenPort = port
	return srv, nil
}

// Probe is where a Sampler finds this container's kernel-side figures.
func (s *Server) Probe() Probe {
	p := Probe{Cgroup: s.Cgroup, Port: s.ListenPort}
	if s.Pid > 0 {
		p.NetTCP = fmt.Sprintf("/proc/%d/net/tcp", s.Pid)
	}
	return p
}

// OOMKilled reports whether the engine saw httpd itself (the container's
// first process) killed for memory.
func (s *Server) OOMKilled(ctx context.Context) bool {
	info, err := s.Container.Inspect(ctx)
	return err == nil && info.State != nil && info.State.OOMKilled
}

// classifyStartError turns the engine's refusals into advice.
func classifyStartError(o Options, nofile int, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "OOMKilled"), strings.Contains(msg, "out-of-memory"):
		return &OOMError{Config: o.Config.Name, LimitMB: float64(o.Config.MemoryBytes) / (1 << 20)}
	case strings.Contains(msg, "rlimit"):
		return fmt.Errorf("the Docker engine refused nofile=%d for the httpd container (%w); lower the connection count or raise the engine's limit (dockerd --default-ulimit, LimitNOFILE)", nofile, err)
	case strings.Contains(strings.ToLower(msg), "no such image"), strings.Contains(msg, "pull access denied"), strings.Contains(msg, "failed to resolve reference"):
		return &ImageMissingError{Image: o.Image}
	case client.IsErrConnectionFailed(err), strings.Contains(msg, "Cannot connect to the Docker daemon"):
		return &DockerError{Err: err}
	}
	return err
}

var apacheLine = regexp.MustCompile(`(?m)^.*(AH\d{5}|[Ss]yntax error|Invalid command|Cannot load).*$`)

// apacheMessage picks Apache's own error lines out of the -t output.
func apacheMessage(logs string) string {
	logs = strings.ReplaceAll(logs, configInvalidMark, "")
	if lines := apacheLine.FindAllString(logs, -1); len(lines) > 0 {
		return strings.TrimSpace(strings.Join(lines, "\n"))
	}
	return strings.TrimSpace(logs)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// waitStatus polls url until it answers 200 or the timeout passes.
func waitStatus(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if _, err := FetchStatus(ctx, http.DefaultClient, url); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", url, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Clean removes every container loadcheck labelled, for example after a
// crash. It returns the IDs it removed.
func Clean(ctx context.Context) ([]string, error) {
	return removeLabelled(ctx, LabelManaged+"=true")
}

// CleanRun force-removes every container of one run: the safety net behind
// each config's own Terminate, for a removal that failed or was cut short.
func CleanRun(ctx context.Context, runID string) ([]string, error) {
	return removeLabelled(ctx, LabelRun+"="+runID)
}

func removeLabelled(ctx context.Context, label string) ([]string, error) {
	cli, err := NewClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var removed []string
	var errs []error
	for _, c := range list.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.ID[:12], err))
			continue
		}
		removed = append(removed, c.ID[:12])
	}
	return removed, errors.Join(errs...)
}
