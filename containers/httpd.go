package containers

import (
	"archive/tar"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/observe"
	"github.com/loadcheck/loadcheck/provider"
)

// Labels loadcheck puts on every container it starts; Clean removes
// whatever carries LabelManaged.
const (
	LabelManaged = "org.loadcheck.managed"
	LabelRun     = "org.loadcheck.run"
	LabelConfig  = "org.loadcheck.config"
	// LabelHost and LabelPID name the loadcheck process that started the
	// container: Clean leaves the containers of a run that is still alive.
	LabelHost = "org.loadcheck.host"
	LabelPID  = "org.loadcheck.pid"
	// LabelLayout on an image names its layout (set by image/build.sh).
	LabelLayout = "org.loadcheck.layout"
	// LabelBuiltIn on an image lists the modules compiled into its httpd
	// when they are not its layout's usual ones (image/build-official.sh:
	// Debian's httpd in the official layout).
	LabelBuiltIn = "org.loadcheck.builtin"
)

// DefaultImage is what users run; DebianImage is what image/build.sh builds
// where no registry can be reached, and OfficialImage what
// image/build-official.sh builds on it: the official layout from Debian's
// packages, for official-layout trees when DefaultImage is not there.
const (
	DefaultImage  = "httpd:2.4"
	DebianImage   = "loadcheck/apache2:bookworm"
	OfficialImage = "loadcheck/httpd-official:bookworm"
)

// Options describes one httpd container; Run applies its defaults first
// and the caller's Option functions after them.
type Options struct {
	// ownerPID is the process the container belongs to (default: this
	// one); tests set another to play a crashed run.
	ownerPID    int
	Layout      apache.Layout // zero: read from the image
	Config      apache.Config
	RunID       string
	Connections int // the load's target; the nofile limit is sized to it
	Files       []provider.File
	// DocRoot is a host folder mounted read-only as every DocumentRoot
	// instead of the test page ("": the test page).
	DocRoot string
	// CPUSet is the CPUs httpd may run on, as a CPU list ("1", "2-3"); ""
	// for every CPU.
	CPUSet string
	// StartTimeout bounds the wait for httpd to say it is ready.
	StartTimeout time.Duration
}

// WithCPUSet keeps httpd on the CPUs of list ("1", "2-3"): the container's
// cpuset.
func WithCPUSet(list string) Option { return func(o *Options) { o.CPUSet = list } }

// Option changes one of Run's Options.
type Option func(*Options)

// WithConfig sets the httpd config to run (default: event-stock).
func WithConfig(cfg apache.Config) Option { return func(o *Options) { o.Config = cfg } }

// WithLayout says where the image keeps httpd (default: read from the image).
func WithLayout(l apache.Layout) Option { return func(o *Options) { o.Layout = l } }

// WithRunID labels the container with the run it belongs to.
func WithRunID(id string) Option { return func(o *Options) { o.RunID = id } }

// WithConnections sizes httpd's nofile limit to n connections.
func WithConnections(n int) Option { return func(o *Options) { o.Connections = n } }

// WithDocRoot serves the host folder dir, mounted read-only, as every
// DocumentRoot of the config (a preset's, each of a tree's) instead of
// the test page.
func WithDocRoot(dir string) Option { return func(o *Options) { o.DocRoot = dir } }

// WithServedFiles has the start script create these files, of their
// sizes, in the served folder (and in each DocumentRoot of a tree it
// creates), beside the test page.
func WithServedFiles(files ...provider.File) Option {
	return func(o *Options) { o.Files = append(o.Files, files...) }
}

// HTTPD is a running httpd container. It embeds the testcontainers
// container, so everything testcontainers offers works on it too.
type HTTPD struct {
	*testcontainers.DockerContainer
	URL       string // base URL for the load, "http://127.0.0.1:PORT/"
	StatusURL string // mod_status machine-readable URL
	// FPMStatusURL is php-fpm's status page (JSON) through httpd, for a
	// config that runs php-fpm; "" otherwise.
	FPMStatusURL string
	ConfText     string // the httpd.conf the container runs
	Version      string // "Apache/2.4.68 (Debian)"
	Nofile       int
	// HostNetwork is true when httpd shares the host's network namespace
	// (Linux), so kernel network counters are the host's.
	HostNetwork bool
	// Cgroup reads the container's memory, CPU and OOM kills; nil when its
	// cgroup files cannot be found (CgroupErr says why).
	Cgroup    *observe.Cgroup
	CgroupErr error
	// Pid is httpd's host PID; ListenPort the port it listens on in its
	// own network namespace.
	Pid, ListenPort int
	// Adjustments are what was changed to make a config tree run here;
	// VHost is the vhost the load asks for (Tree.Host, or the tree's
	// first ServerName).
	Adjustments []string
	VHost       string
	scheme      string // "https" with --tls
	// TLSRoots are the certificates loadcheck made for this httpd (PEM).
	TLSRoots  []byte
	tree      bool // it runs a config tree, whose access logs are on LogDir
	plainPort int  // a tree's first plain-HTTP port; 0 none
	php       *apache.PHP
	// How a preset or config file was rendered, so that another config
	// can be rendered alike (Prepare); listen is "" for a config tree.
	listen string
	layout apache.Layout
	next   string // the prepared config's text
}

var _ provider.Switcher = (*HTTPD)(nil)

// nextConf is where Prepare puts the config Switch switches to.
const nextConf = "/loadcheck/next.conf"

// Prepare implements provider.Switcher: cfg rendered as the running config
// was, copied in beside it and checked with httpd -t.
func (s *HTTPD) Prepare(ctx context.Context, cfg apache.Config) error {
	switch {
	case s.listen == "" || cfg.Tree != nil:
		return fmt.Errorf("config %s: switching config trees is not built yet: a rollout runs presets and config files", cfg.Name)
	case cfg.PHP != nil || s.php != nil:
		return fmt.Errorf("config %s: switching the PHP presets is not built yet", cfg.Name)
	case cfg.TLS != "":
		return fmt.Errorf("config %s: switching TLS configs is not built yet", cfg.Name)
	}
	text := apache.Render(cfg, s.layout, s.listen, apache.ContainerPaths)
	if err := s.CopyToContainer(ctx, []byte(text), nextConf, 0o644); err != nil {
		return fmt.Errorf("copy the next config in: %w", err)
	}
	code, out, err := s.Exec(ctx, []string{s.layout.Binary, "-t", "-f", nextConf}, tcexec.Multiplexed())
	if err != nil {
		return err
	}
	if code != 0 {
		b, _ := io.ReadAll(out)
		return &apache.ConfigError{Config: cfg.Name, File: cfg.File, As: nextConf + " in the container", Message: apache.Message(string(b), "")}
	}
	s.next = text
	return nil
}

// Switch implements provider.Switcher: the prepared config replaces the
// running one and httpd (the container's PID 1) gets the signal. For
// provider.SwitchStopStart httpd stops gracefully, which ends the
// container, and the same container starts again with the new config
// (its start script renders nothing over it).
func (s *HTTPD) Switch(ctx context.Context, how string) error {
	sig, err := provider.SwitchSignal(how)
	if err != nil {
		return err
	}
	if s.next == "" {
		return errors.New("no prepared config")
	}
	code, out, err := s.Exec(ctx, []string{"sh", "-c", "cp " + nextConf + " " + apache.ContainerPaths.Conf + " && kill -" + sig + " 1"}, tcexec.Multiplexed())
	if err != nil {
		return err
	}
	if code != 0 {
		b, _ := io.ReadAll(out)
		return fmt.Errorf("switch: exit %d: %s", code, strings.TrimSpace(string(b)))
	}
	s.ConfText = s.next
	if how != provider.SwitchStopStart {
		return nil
	}
	if err := s.waitStopped(ctx, provider.StopStartGrace); err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("start httpd again with %s: %w", nextConf, err)
	}
	return nil
}

// waitStopped waits until httpd, and with it the container, has exited;
// past grace it stops the container.
func (s *HTTPD) waitStopped(ctx context.Context, grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for {
		info, err := s.Inspect(ctx)
		if err != nil {
			return err
		}
		if info.State == nil || !info.State.Running {
			return nil
		}
		if time.Now().After(deadline) {
			zero := time.Duration(0)
			return s.DockerContainer.Stop(ctx, &zero)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// accessLogs counts the lines of each file in the tree's log tmpfs.
func (s *HTTPD) accessLogs(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	code, out, err := s.Exec(ctx, []string{"sh", "-c", `cd ` + apache.LogDir + ` && for f in *; do [ -f "$f" ] && echo "$(wc -l < "$f") $f"; done; true`}, tcexec.Multiplexed())
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(out)
	if code != 0 {
		return nil, fmt.Errorf("exit %d: %s", code, strings.TrimSpace(string(b)))
	}
	lines := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if n, name, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil {
				lines[name] = v
			}
		}
	}
	return lines, nil
}

// Stop stops and removes the container. It is safe on a nil HTTPD and
// uses its own short timeout, so it also works after ctx was cancelled.
func (s *HTTPD) Stop() error {
	if s == nil || s.DockerContainer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Terminate(ctx, testcontainers.StopTimeout(2*time.Second))
}

// ErrorLog returns the container's output: httpd's error log.
func (s *HTTPD) ErrorLog(ctx context.Context) (string, error) {
	rc, err := s.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
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

// Ping asks the engine (DOCKER_HOST, or the default socket) whether it
// answers, within 10 s.
func Ping(ctx context.Context) error {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.Ping(pctx, client.PingOptions{})
	return err
}

// EngineVersion is the Docker engine's version, as `docker version`
// prints the server's.
func EngineVersion(ctx context.Context) (string, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return "", err
	}
	defer c.Close()
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := c.ServerVersion(vctx, client.ServerVersionOptions{})
	return v.Version, err
}

// NewClient connects to the Docker engine the way testcontainers does.
// When DOCKER_HOST is set, that engine must answer: testcontainers would
// otherwise quietly fall back to the default socket.
func NewClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		if err := Ping(ctx); err != nil {
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
	Layout  apache.Layout
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
		// An image built FROM debian with apt-get install apache2, or
		// with httpd compiled into /usr/local/apache2, says nothing of
		// its layout: look for the binary.
		name = probeLayout(ctx, cli, image)
	}
	if name == "" {
		return info, fmt.Errorf("cannot tell the httpd layout of image %s: it has neither /usr/sbin/apache2 nor /usr/local/apache2/bin/httpd; pass --layout official (httpd:2.4 style) or --layout debian (apache2 package)", image)
	}
	info.Layout, err = apache.LayoutByName(name)
	if b := labels[LabelBuiltIn]; b != "" && err == nil {
		info.Layout.BuiltIn = strings.Split(b, ",")
	}
	return info, err
}

// probeLayout is the layout whose httpd binary the image has, or "": it
// creates a container that never starts (labelled, so that `loadcheck
// clean` finds it if this process dies) and looks at its files.
func probeLayout(ctx context.Context, cli *testcontainers.DockerClient, image string) string {
	c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Cmd: []string{"true"}, Entrypoint: []string{}, Labels: map[string]string{LabelManaged: "true", LabelHost: hostname()}}})
	if err != nil {
		return ""
	}
	defer func() { // a probe container: `loadcheck clean` takes it if this fails
		_, _ = cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, client.ContainerRemoveOptions{Force: true})
	}()
	for _, l := range []apache.Layout{apache.Debian, apache.Official} {
		if _, err := cli.ContainerStatPath(ctx, c.ID, client.ContainerStatPathOptions{Path: l.Binary}); err == nil {
			return l.Name
		}
	}
	return ""
}

// configInvalidMark is printed by the start script when `httpd -t` fails.
const configInvalidMark = "LOADCHECK_CONFIG_INVALID"

//go:embed start.sh
var startScript string

// Run renders the config, starts httpd in a labelled container and waits
// until it answers /server-status?auto. On Linux the container uses the
// host's network and httpd listens on 127.0.0.1; elsewhere a mapped port.
// On error the returned HTTPD, if not nil, must still be stopped.
func Run(ctx context.Context, image string, opts ...Option) (*HTTPD, error) {
	o := Options{Connections: 100, StartTimeout: 90 * time.Second, ownerPID: os.Getpid()}
	o.Config, _ = apache.Preset("event-stock", o.Connections)
	for _, opt := range opts {
		opt(&o)
	}
	if o.Layout.Binary == "" {
		info, err := InspectImage(ctx, image, "")
		if err != nil {
			return nil, err
		}
		o.Layout = info.Layout
	}
	hostNet := runtime.GOOS == "linux"
	at := apache.ContainerPaths
	srv := &HTTPD{HostNetwork: hostNet}
	files, err := srv.render(o, at)
	if err != nil {
		return nil, err
	}
	nofile := provider.NofileFor(o.Connections)
	ctr, err := testcontainers.Run(ctx, image, containerRequest(o, files, srv.ListenPort, nofile, hostNet)...)
	srv.DockerContainer, srv.Nofile = ctr, nofile
	if ctr == nil {
		return nil, classifyStartError(image, o, nofile, err)
	}
	logs, _ := srv.ErrorLog(ctx)
	srv.Adjustments = append(srv.Adjustments, created(logs)...)
	if strings.Contains(logs, configInvalidMark) {
		ce := &apache.ConfigError{Config: o.Config.Name, File: o.Config.File, As: at.Conf + " in the container", Message: apache.Message(logs, configInvalidMark)}
		if t := o.Config.Tree; t != nil {
			// httpd names the tree's files where they are in the container.
			ce.File, ce.As = t.Dir, apache.TreeRoot+" in the container"
			ce.Message = strings.ReplaceAll(ce.Message, apache.TreeRoot+"/", strings.TrimSuffix(t.Dir, "/")+"/")
		}
		return srv, ce
	}
	if err != nil {
		return srv, fmt.Errorf("start httpd for %s: %w\nhttpd said:\n%s", o.Config.Name, classifyStartError(image, o, nofile, err), apache.Tail(logs, 10))
	}
	if err := srv.locate(ctx, srv.ListenPort); err != nil {
		return srv, err
	}
	if err := observe.WaitStatus(ctx, srv.StatusURL, 15*time.Second); err != nil {
		return srv, fmt.Errorf("httpd for %s logged that it is ready but %w\nhttpd said:\n%s", o.Config.Name, err, apache.Tail(logs, 10))
	}
	if st, err := observe.FetchStatus(ctx, observe.StatusClient, srv.StatusURL); err == nil {
		srv.Version = st.ServerVersion
	}
	if info, err := ctr.Inspect(ctx); err != nil {
		srv.CgroupErr = err
	} else if info.State != nil {
		srv.Pid = info.State.Pid
		srv.Cgroup, srv.CgroupErr = observe.CgroupOf("/proc", "/sys/fs/cgroup", info.State.Pid)
	}
	return srv, nil
}

// render chooses the ports httpd listens on and writes its config: the
// one httpd.conf loadcheck renders, or the user's tree made runnable.
// It returns the files to copy into the container, by path.
func (s *HTTPD) render(o Options, at apache.Paths) (map[string]string, error) {
	if php := o.Config.PHP; php != nil && php.Mode == apache.PHPFPM {
		// The pool listens on loopback inside the container's network:
		// with host networking, on a free port of this host.
		a, _, err := s.listenAddr("9000")
		if err != nil {
			return nil, err
		}
		p := *php
		p.Listen = strings.Replace(a, "0.0.0.0", "127.0.0.1", 1)
		o.Config.PHP = &p
	}
	s.php = o.Config.PHP
	if o.Config.Tree != nil {
		return s.renderTree(o, at)
	}
	listen, port, err := s.listenAddr("80")
	if err != nil {
		return nil, err
	}
	s.ConfText, s.ListenPort = apache.Render(o.Config, o.Layout, listen, at), port
	s.listen, s.layout = listen, o.Layout
	files := map[string]string{at.Conf: s.ConfText}
	if o.Config.TLS != "" {
		cert, key, err := apache.SelfSigned([]string{"127.0.0.1", "localhost"}, o.Config.TLS)
		if err != nil {
			return nil, fmt.Errorf("make a TLS certificate: %w", err)
		}
		files[apache.TLSCertFile], files[apache.TLSKeyFile] = string(cert), string(key)
		s.scheme, s.TLSRoots = "https", cert
	}
	if php := o.Config.PHP; php != nil {
		files[apache.PHPPageSource] = apache.PHPPageText
		if php.Mode == apache.PHPFPM {
			files[apache.FPMConf] = apache.RenderFPM(php, at)
		}
	}
	return files, nil
}

// listenAddr is where httpd listens for a config's port: the port itself
// in the container's own network, or a free port of this host's loopback
// with host networking.
func (s *HTTPD) listenAddr(port string) (string, int, error) {
	if !s.HostNetwork {
		p, _ := strconv.Atoi(port)
		return "0.0.0.0:" + port, p, nil
	}
	p, err := provider.FreePort()
	if err != nil {
		return "", 0, fmt.Errorf("find a free port: %w", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p), p, nil
}

// renderTree renders a config tree's files: each Listen moved to a port
// of this run, the load's port chosen (the tree's SSL vhost's with TLS,
// else its first plain one), and its certificates.
func (s *HTTPD) renderTree(o Options, at apache.Paths) (map[string]string, error) {
	t := o.Config.Tree
	plan, err := t.Plan(o.Config.TLS != "", s.listenAddr)
	if err != nil {
		return nil, err
	}
	if plan.HTTPS {
		s.scheme = "https"
	}
	s.ListenPort, s.plainPort = plan.LoadPort, plan.PlainPort
	r := apache.RenderTree(o.Config, o.Layout, plan.Listen, at)
	s.tree = true
	s.VHost = plan.VHost
	s.ConfText, s.Adjustments = r.Files[r.Conf], r.Adjustments
	certs, roots, err := certFiles(r.Certs, o.Config.TLS)
	if err != nil {
		return nil, err
	}
	for p, text := range certs {
		r.Files[p] = text
	}
	s.TLSRoots = roots
	return r.Files, nil
}

// createdMark starts the start script's line for each DocumentRoot it
// created.
const createdMark = "loadcheck: created DocumentRoot "

// created is the adjustments the start script reports in logs.
func created(logs string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if i := strings.Index(l, createdMark); i >= 0 {
			out = append(out, "DocumentRoot "+strings.TrimSpace(l[i+len(createdMark):])+" did not exist in the image: created on tmpfs with the test page")
		}
		if i := strings.Index(l, generatedMark); i >= 0 {
			out = append(out, "warning: certificate "+strings.TrimSpace(l[i+len(generatedMark):])+": neither the tree nor the image has it, so loadcheck generated a self-signed one (no client trusts it but loadcheck)")
		}
	}
	return out
}

// containerRequest is the container for o: labelled, with the rendered
// config (or tree) and the start script, the page and runtime files on
// tmpfs, and the limits the config asks for.
func containerRequest(o Options, files map[string]string, port, nofile int, hostNet bool) []testcontainers.ContainerCustomizer {
	at := apache.ContainerPaths
	// The page and runtime files live on tmpfs: served from the image's
	// filesystem (fuse-overlayfs on some engines) every request costs a trip
	// through a userspace daemon, and that daemon, not httpd, becomes the
	// bottleneck at a few thousand requests per second.
	conf, root := at.Conf, ""
	var docRoots []string
	docSize := int64(1 << 20)
	tmpfs := map[string]string{at.RunDir: "rw,mode=0755,size=16m"}
	if t := o.Config.Tree; t != nil {
		// A tree's access logs go to tmpfs: written at thousands of lines a
		// second to the image's filesystem they would cost what production
		// does not pay. Its created DocumentRoots live under at.DocRoot.
		tmpfs[apache.LogDir] = "rw,mode=0777,size=256m"
		docSize = 16 << 20
		conf, root, docRoots = path.Join(apache.TreeRoot, t.Main), apache.TreeRoot, t.DocumentRoots()
	}
	// The served files, in the served folder and each created DocumentRoot.
	var served strings.Builder
	for _, f := range o.Files {
		fmt.Fprintf(&served, "%s %d\n", f.Path, f.Size)
		docSize += f.Size * int64(1+len(docRoots))
	}
	tmpfs[at.DocRoot] = fmt.Sprintf("rw,mode=0755,size=%d", docSize+docSize/8)
	// --docroot: the site's folder, read-only, where each DocumentRoot is.
	var binds []string
	site := ""
	if d := o.DocRoot; d != "" {
		site = d
		if len(docRoots) == 0 {
			delete(tmpfs, at.DocRoot)
			binds = append(binds, d+":"+at.DocRoot+":ro")
		}
		for _, r := range docRoots {
			binds = append(binds, d+":"+r+":ro")
		}
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmd(append([]string{"sh", "-c", startScript, "start.sh", o.Layout.Binary, conf, at.DocRoot, configInvalidMark, root, o.Layout.ModulesDir}, docRoots...)...),
		testcontainers.WithEntrypoint(),
		testcontainers.WithLabels(map[string]string{
			LabelManaged: "true", LabelRun: o.RunID, LabelConfig: o.Config.Name,
			LabelHost: hostname(), LabelPID: strconv.Itoa(o.ownerPID),
		}),
		testcontainers.WithAdditionalLifecycleHooks(copyFiles(files)),
		testcontainers.WithTmpfs(tmpfs),
		testcontainers.WithEnv(map[string]string{"LOADCHECK_FILES": served.String(), "LOADCHECK_PHP": phpMode(o.Config), "LOADCHECK_SITE": site}),
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
			hc.Resources.CpusetCpus = o.CPUSet
			hc.Binds = append(hc.Binds, binds...)
		}),
		testcontainers.WithWaitStrategyAndDeadline(o.StartTimeout,
			wait.ForLog(apache.ReadyLogMsg+"|"+configInvalidMark).AsRegexp().WithPollInterval(100*time.Millisecond)),
	}
	if !hostNet {
		opts = append(opts, testcontainers.WithExposedPorts(fmt.Sprintf("%d/tcp", port)))
	}
	return opts
}

// copyFiles copies files (container path: text) into the container once
// it is created, before it starts, as one tar archive in one call:
// testcontainers' WithFiles makes a call for each file, and a config
// tree's hundreds of files took half a minute that way.
func copyFiles(files map[string]string) testcontainers.ContainerLifecycleHooks {
	return testcontainers.ContainerLifecycleHooks{PostCreates: []testcontainers.ContainerHook{
		func(ctx context.Context, c testcontainers.Container) error {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, p := range slices.Sorted(maps.Keys(files)) {
				text := files[p]
				hdr := &tar.Header{Name: strings.TrimPrefix(path.Clean(p), "/"), Mode: 0o644, Size: int64(len(text)), ModTime: time.Now()}
				if err := tw.WriteHeader(hdr); err != nil {
					return fmt.Errorf("archive %s: %w", p, err)
				}
				if _, err := io.WriteString(tw, text); err != nil {
					return fmt.Errorf("archive %s: %w", p, err)
				}
			}
			if err := tw.Close(); err != nil {
				return err
			}
			cli, err := NewClient(ctx)
			if err != nil {
				return err
			}
			defer cli.Close()
			_, err = cli.CopyToContainer(ctx, c.GetContainerID(), client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
			if err != nil {
				return fmt.Errorf("copy %d config files into the container: %w", len(files), err)
			}
			return nil
		},
	}}
}

// phpMode is the config's PHP mode for the start script: "" without PHP.
func phpMode(c apache.Config) string {
	if c.PHP == nil {
		return ""
	}
	return c.PHP.Mode
}

// locate sets the URLs: 127.0.0.1 and port with host networking, else the
// engine's mapped port.
func (s *HTTPD) locate(ctx context.Context, port int) error {
	host, mapped := "127.0.0.1", port
	if !s.HostNetwork {
		h, err := s.Host(ctx)
		if err != nil {
			return fmt.Errorf("container host: %w", err)
		}
		p, err := s.MappedPort(ctx, fmt.Sprintf("%d/tcp", port))
		if err != nil {
			return fmt.Errorf("mapped port: %w", err)
		}
		host, mapped = h, int(p.Num())
	}
	scheme := s.scheme
	if scheme == "" {
		scheme = "http"
	}
	s.URL = fmt.Sprintf("%s://%s/", scheme, net.JoinHostPort(host, strconv.Itoa(mapped)))
	s.StatusURL = strings.TrimSuffix(s.URL, "/") + apache.StatusPath + "?auto"
	if php := s.php; php != nil && php.Mode == apache.PHPFPM {
		s.FPMStatusURL = strings.TrimSuffix(s.URL, "/") + apache.PHPStatusPath + "?json"
	}
	if s.HostNetwork && s.plainPort != 0 && s.plainPort != port {
		// A tree loaded over TLS: mod_status is read on its plain port,
		// so the reads stay out of the SSL vhost's log and cost no
		// handshakes.
		s.StatusURL = fmt.Sprintf("http://%s%s?auto", net.JoinHostPort(host, strconv.Itoa(s.plainPort)), apache.StatusPath)
	}
	return nil
}

// Endpoint implements provider.Server: the URL and what the observers
// can read of this container.
func (s *HTTPD) Endpoint() provider.Endpoint {
	src := observe.Sources{
		StatusURL: s.StatusURL, FPMStatusURL: s.FPMStatusURL, Cgroup: s.Cgroup, CgroupErr: s.CgroupErr, Port: s.ListenPort,
		Netstat: observe.NetstatPath, KernelScope: "network namespace of loadcheck", ErrorLog: s.ErrorLog,
	}
	if s.HostNetwork {
		src.KernelScope = "host (httpd shares the host's network namespace): other traffic counts too"
	}
	if s.Pid > 0 {
		src.NetTCP = fmt.Sprintf("/proc/%d/net/tcp", s.Pid)
	}
	if s.tree {
		src.AccessLogs = s.accessLogs
	}
	return provider.Endpoint{URL: s.URL, Sources: src, Version: s.Version, Conf: s.ConfText, Nofile: s.Nofile, OOMKilled: s.OOMKilled, Exited: s.exit,
		Adjustments: s.Adjustments, Host: s.VHost, TLSRoots: s.TLSRoots}
}

// exit reports whether the container's httpd has exited, as the engine
// saw it.
func (s *HTTPD) exit(ctx context.Context) provider.Exit {
	info, err := s.Inspect(ctx)
	if err != nil || info.State == nil || info.State.Running {
		return provider.Exit{}
	}
	e := provider.Exit{Exited: true, How: fmt.Sprintf("exit code %d", info.State.ExitCode), OOM: info.State.OOMKilled}
	if e.OOM {
		e.How = "OOM-killed"
	}
	e.At, _ = time.Parse(time.RFC3339Nano, info.State.FinishedAt)
	return e
}

// OOMKilled reports whether the engine saw httpd itself (the container's
// first process) killed for memory.
func (s *HTTPD) OOMKilled(ctx context.Context) bool {
	info, err := s.Inspect(ctx)
	return err == nil && info.State != nil && info.State.OOMKilled
}

// classifyStartError turns the engine's refusals into advice.
func classifyStartError(image string, o Options, nofile int, err error) error {
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
		return &ImageMissingError{Image: image}
	case client.IsErrConnectionFailed(err), strings.Contains(msg, "Cannot connect to the Docker daemon"):
		return &DockerError{Err: err}
	}
	return err
}

// Clean removes the containers loadcheck labelled whose run is no longer
// alive, for example after a crash or a SIGKILL: a container is left alone
// while the loadcheck process that started it (same host, its PID) still
// runs, so a concurrent run keeps its containers. With all, every labelled
// container goes. It returns the IDs it removed.
func Clean(ctx context.Context, all bool) ([]string, error) {
	keep := func(labels map[string]string) bool {
		return !all && runAlive(labels)
	}
	removed, err := removeLabelled(ctx, LabelManaged+"=true", keep)
	// Swarm generator shards: job services labelled by their run.
	services, serr := removeServices(ctx, LabelManaged+"=true", keep)
	return append(removed, services...), errors.Join(err, serr)
}

// runAlive reports whether the loadcheck process named by a container's
// labels still runs on this host. Containers of older versions carry no
// PID: their run counts as gone.
func runAlive(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 || labels[LabelHost] != hostname() {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// CleanRun force-removes every container of one run: the safety net behind
// each config's own Terminate, for a removal that failed or was cut short.
func CleanRun(ctx context.Context, runID string) ([]string, error) {
	removed, err := removeLabelled(ctx, LabelRun+"="+runID, nil)
	services, serr := removeServices(ctx, LabelRun+"="+runID, nil)
	return append(removed, services...), errors.Join(err, serr)
}

func removeLabelled(ctx context.Context, label string, keep func(labels map[string]string) bool) ([]string, error) {
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
		if keep != nil && keep(c.Labels) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.ID[:12], err))
			continue
		}
		removed = append(removed, c.ID[:12])
	}
	return removed, errors.Join(errs...)
}
