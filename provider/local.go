package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/observe"
)

// MaxNofile is the largest nofile limit loadcheck gives httpd; raising a
// hard limit needs CAP_SYS_RESOURCE, which the hosts it runs on may lack.
const MaxNofile = 20000

// NofileFor is the nofile limit httpd needs for n connections: one
// descriptor each plus a margin for listeners, logs and pipes, within
// MaxNofile.
func NofileFor(n int) int {
	return min(n+1024, MaxNofile)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Local starts httpd natively on this host, from its binary (Debian's
// apache2 or the official layout under /usr/local/apache2), with the
// rendered config in a temporary ServerRoot-independent folder. httpd runs
// as a child process group that Stop always reaps; its memory and CPU come
// from a cgroup of its own where this host lets loadcheck create one.
type Local struct {
	// Layout says where httpd is; zero: the first of Debian's and the
	// official layout whose binary exists.
	Layout apache.Layout
	// StartTimeout bounds the wait for httpd to answer (default 60 s).
	StartTimeout time.Duration
}

// FindLocal returns the layout of the httpd installed on this host.
func FindLocal() (apache.Layout, error) {
	for _, l := range []apache.Layout{apache.Debian, apache.Official} {
		if fi, err := os.Stat(l.Binary); err == nil && !fi.IsDir() {
			return l, nil
		}
	}
	return apache.Layout{}, fmt.Errorf("no httpd on this host (looked for %s and %s): install Debian's apache2 (apt-get install apache2), or use a Docker engine with `make image`",
		apache.Debian.Binary, apache.Official.Binary)
}

// Describe implements Provider.
func (l Local) Describe() Description {
	return Description{Name: "local", Layout: l.Layout.Name}
}

// localServer is one native httpd.
type localServer struct {
	dir string
	// mu guards cmd, done and exited, which a stop-start switch replaces
	// while the load runs.
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has been waited for
	exited time.Time     // set before done closes
	cg     *observe.Cgroup
	ep     Endpoint
	cpuset string   // the CPUs httpd may run on ("": every one)
	args   []string // httpd's: -f CONF, and -d ROOT for a config tree
	env    []string // more of httpd's environment (a config tree's)
	// created are the DocumentRoots a config tree named and this host
	// lacked, made for the run and removed by Stop.
	created []string
	// How a preset or config file was rendered, so that another config
	// can be rendered alike (Prepare); listen is "" for a config tree.
	listen string
	at     apache.Paths
	layout apache.Layout
}

var _ Switcher = (*localServer)(nil)

// Prepare implements Switcher: cfg rendered as the running config was,
// into next.conf beside it, checked with httpd -t.
func (s *localServer) Prepare(ctx context.Context, cfg apache.Config) error {
	if s.listen == "" || cfg.Tree != nil {
		return fmt.Errorf("config %s: switching config trees is not built yet: a rollout runs presets and config files", cfg.Name)
	}
	next := filepath.Join(s.dir, "next.conf")
	if err := os.WriteFile(next, []byte(apache.Render(cfg, s.layout, s.listen, s.at)), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, s.layout.Binary, "-t", "-f", next).CombinedOutput(); err != nil {
		return &apache.ConfigError{Config: cfg.Name, File: cfg.File, As: next, Message: apache.Message(string(out), "")}
	}
	return nil
}

// Switch implements Switcher: next.conf becomes the config httpd reads,
// then httpd's parent gets the signal. For SwitchStopStart httpd stops
// gracefully (SIGWINCH: requests in flight finish), at most
// StopStartGrace, and a new httpd starts with the new config.
func (s *localServer) Switch(ctx context.Context, how string) error {
	sig, err := SwitchSignal(how)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return errors.New("httpd is not running")
	}
	next := filepath.Join(s.dir, "next.conf")
	text, err := os.ReadFile(next)
	if err != nil {
		return fmt.Errorf("no prepared config: %w", err)
	}
	if err := os.Rename(next, s.at.Conf); err != nil {
		return err
	}
	s.ep.Conf = string(text)
	if how != SwitchStopStart {
		return cmd.Process.Signal(map[string]syscall.Signal{"USR1": syscall.SIGUSR1, "HUP": syscall.SIGHUP}[sig])
	}
	if err := cmd.Process.Signal(syscall.SIGWINCH); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(StopStartGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.start(s.layout)
}

// Start implements Provider: it renders cfg into a temporary folder,
// checks it with httpd -t, and starts httpd in the foreground.
func (l Local) Start(ctx context.Context, cfg apache.Config, o StartOptions) (Server, error) {
	if cfg.TLS != "" && cfg.Tree == nil {
		return nil, fmt.Errorf("config %s: --tls with a preset runs in a container only, not with the local provider: use --provider docker (a config tree's own SSL vhost runs natively)", cfg.Name)
	}
	if cfg.PHP != nil {
		return nil, fmt.Errorf("config %s: the PHP presets (%s) run in a container only, not with the local provider: use --provider docker", cfg.Name, cfg.PHP.Mode)
	}
	layout := l.Layout
	if layout.Binary == "" {
		var err error
		if layout, err = FindLocal(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "loadcheck-httpd-")
	if err != nil {
		return nil, err
	}
	s := &localServer{dir: dir, done: make(chan struct{}), cpuset: o.CPUSet}
	close(s.done) // nothing to wait for until httpd starts
	at := apache.Paths{Conf: filepath.Join(dir, "httpd.conf"), DocRoot: filepath.Join(dir, "htdocs"),
		RunDir: filepath.Join(dir, "run"), ErrorLog: filepath.Join(dir, "error.log"), User: "daemon"}
	if os.Geteuid() != 0 {
		at.User = "#" + strconv.Itoa(os.Geteuid()) // httpd ignores User when not root
	}
	src := observe.Sources{NetTCP: "/proc/net/tcp", Netstat: observe.NetstatPath,
		KernelScope: "host (httpd runs natively on this host): other traffic counts too",
		ErrorLog: func(context.Context) (string, error) {
			b, err := os.ReadFile(at.ErrorLog)
			return string(b), err
		},
	}
	if o.DocRoot != "" {
		if cfg.Tree != nil {
			return s, fmt.Errorf("config %s: a config tree run natively serves its own DocumentRoots from this host; --docroot applies to presets and config files here, and to trees in containers", cfg.Name)
		}
		if err := searchable(o.DocRoot, at.User); err != nil {
			return s, err
		}
		at.DocRoot = o.DocRoot // served as it is: no test page written into it
	}
	if cfg.Tree != nil {
		if err := s.layTree(cfg, layout, at, o, &src); err != nil {
			return s, err
		}
	} else {
		port, err := FreePort()
		if err != nil {
			return s, fmt.Errorf("find a free port: %w", err)
		}
		s.listen, s.at, s.layout = fmt.Sprintf("127.0.0.1:%d", port), at, layout
		conf := apache.Render(cfg, layout, s.listen, at)
		if err := writeServed(dir, at, conf, o.Files, o.DocRoot == ""); err != nil {
			return s, err
		}
		s.ep = Endpoint{Conf: conf, URL: fmt.Sprintf("http://127.0.0.1:%d/", port)}
		s.args = []string{"-f", at.Conf}
		src.Port, src.StatusURL = port, strings.TrimSuffix(s.ep.URL, "/")+apache.StatusPath+"?auto"
	}
	s.ep.Nofile = NofileFor(o.Connections)
	if out, err := s.command(ctx, layout, "-t").CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		ce := &apache.ConfigError{Config: cfg.Name, File: cfg.File, As: at.Conf, Message: apache.Message(string(out), "")}
		if t := cfg.Tree; t != nil {
			ce.File, ce.As = t.Dir, at.Tree+" on this host"
			ce.Message = strings.ReplaceAll(ce.Message, at.Tree+"/", strings.TrimSuffix(t.Dir, "/")+"/")
		}
		return s, ce
	}
	name := "loadcheck-" + o.RunID + "-" + cfg.Name
	if s.cg, src.CgroupErr = observe.CreateCgroup("/proc", "/sys/fs/cgroup", name); src.CgroupErr == nil {
		src.Cgroup = s.cg
	}
	if err := s.start(layout); err != nil {
		return s, err
	}
	s.ep.Sources = src
	s.ep.Exited = s.exit
	if err := s.waitReady(ctx, l.StartTimeout); err != nil {
		return s, fmt.Errorf("start httpd for %s: %w\nhttpd said:\n%s", cfg.Name, err, apache.Tail(s.errorLog(), 10))
	}
	if st, err := observe.FetchStatus(ctx, observe.StatusClient, src.StatusURL); err == nil {
		s.ep.Version = st.ServerVersion
	}
	return s, nil
}

// layTree lays cfg's tree out in the server's folder (layTree) and sets
// what the load and the observers need: the load's URL and Host, mod_status
// on the tree's first plain port, the access logs, the generated
// certificates to trust, and the arguments and environment httpd runs with
// (Debian's envvars from the tree, its runtime and log folders here).
func (s *localServer) layTree(cfg apache.Config, layout apache.Layout, at apache.Paths, o StartOptions, src *observe.Sources) error {
	at.Tree, at.Logs = filepath.Join(s.dir, "tree"), filepath.Join(s.dir, "logs")
	lt, err := layTree(cfg, layout, at, o.Files)
	if lt != nil {
		s.created = lt.created
	}
	if err != nil {
		return err
	}
	scheme := "http"
	if lt.plan.HTTPS {
		scheme = "https"
	}
	s.ep = Endpoint{Conf: lt.render.Files[lt.conf], URL: fmt.Sprintf("%s://127.0.0.1:%d/", scheme, lt.plan.LoadPort),
		Adjustments: lt.render.Adjustments, Host: lt.plan.VHost, TLSRoots: lt.roots}
	src.Port = lt.plan.LoadPort
	src.StatusURL = strings.TrimSuffix(s.ep.URL, "/") + apache.StatusPath + "?auto"
	if lt.plan.PlainPort != 0 && lt.plan.PlainPort != lt.plan.LoadPort {
		src.StatusURL = fmt.Sprintf("http://127.0.0.1:%d%s?auto", lt.plan.PlainPort, apache.StatusPath)
	}
	src.AccessLogs = accessLogs(at.Logs)
	s.args = []string{"-d", at.Tree, "-f", lt.conf}
	s.env = []string{"LOADCHECK_ENVVARS=" + filepath.Join(at.Tree, "envvars"),
		"APACHE_RUN_DIR=" + at.RunDir, "APACHE_PID_FILE=" + filepath.Join(at.RunDir, "httpd.pid"),
		"APACHE_LOCK_DIR=" + at.RunDir, "APACHE_LOG_DIR=" + at.Logs}
	return nil
}

// envScript sources a Debian tree's envvars (the user, the runtime and
// log folders it names) and then puts the runtime and log folders back
// in this run's folder, as the container's start script does.
const envScript = `if [ -n "${LOADCHECK_ENVVARS:-}" ]; then
	run=$APACHE_RUN_DIR pid=$APACHE_PID_FILE lock=$APACHE_LOCK_DIR logs=$APACHE_LOG_DIR
	[ -f "$LOADCHECK_ENVVARS" ] && . "$LOADCHECK_ENVVARS"
	export APACHE_RUN_DIR=$run APACHE_PID_FILE=$pid APACHE_LOCK_DIR=$lock APACHE_LOG_DIR=$logs
	export APACHE_RUN_USER=${APACHE_RUN_USER:-daemon} APACHE_RUN_GROUP=${APACHE_RUN_GROUP:-daemon}
fi
`

// command is httpd with the server's arguments and then more, in its
// environment: `httpd -t` to check the config.
func (s *localServer) command(ctx context.Context, layout apache.Layout, more ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", envScript + `exec "$0" "$@"`, layout.Binary}, append(s.args, more...)...)...)
	cmd.Env, cmd.Dir = append(os.Environ(), s.env...), s.dir
	return cmd
}

// start runs httpd in the foreground in a process group of its own. A
// shell puts itself into the cgroup and sets the nofile limit first, then
// becomes httpd, so that every process httpd forks is counted and limited.
func (s *localServer) start(layout apache.Layout) error {
	var procs []string
	if s.cg != nil {
		procs = s.cg.ProcsFiles()
	}
	script := envScript + `ulimit -n "$LOADCHECK_NOFILE" || exit 97
for f in $LOADCHECK_CGROUP_PROCS; do echo $$ > "$f" || exit 98; done
[ -z "$LOADCHECK_CPUSET" ] || taskset -pc "$LOADCHECK_CPUSET" $$ >/dev/null || exit 96
exec "$0" "$@"`
	cmd := exec.Command("sh", append([]string{"-c", script, layout.Binary, "-DFOREGROUND"}, s.args...)...)
	cmd.Env = append(append(os.Environ(), s.env...), "LOADCHECK_NOFILE="+strconv.Itoa(s.ep.Nofile), "LOADCHECK_CGROUP_PROCS="+strings.Join(procs, " "), "LOADCHECK_CPUSET="+s.cpuset)
	cmd.Dir = s.dir
	// Its own process group, so that Stop reaches every worker; and killed
	// with loadcheck if loadcheck itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(s.dir, "stderr.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", layout.Binary, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		s.mu.Lock()
		if s.done == done {
			s.exited = time.Now()
		}
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// waitReady polls mod_status until it answers, httpd exits, or the
// timeout passes.
func (s *localServer) waitReady(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- observe.WaitStatus(ctx, s.ep.Sources.StatusURL, timeout) }()
	select {
	case err := <-ready:
		return err
	case <-s.done:
		cancel()
		<-ready //nolint:errcheck // the probe ends with httpd's exit, reported here
		return fmt.Errorf("httpd exited before it served (%v)", s.cmd.ProcessState)
	}
}

func (s *localServer) errorLog() string {
	var b strings.Builder
	for _, f := range []string{"stderr.log", "error.log"} {
		if data, err := os.ReadFile(filepath.Join(s.dir, f)); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

// Endpoint implements Server.
func (s *localServer) Endpoint() Endpoint { return s.ep }

// exit reports whether httpd's parent process has exited, and how.
func (s *localServer) exit(context.Context) Exit {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return Exit{Exited: true, At: s.exited, How: s.cmd.ProcessState.String()}
	default:
		return Exit{}
	}
}

// Stop implements Server: SIGTERM to httpd's process group (httpd stops its
// workers), SIGKILL to whatever is left after 10 s, to the group and to
// every process in its cgroup; then the cgroup and the folder go.
func (s *localServer) Stop() error {
	if s == nil {
		return nil
	}
	var errs []error
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	if s.cg != nil {
		errs = append(errs, s.removeCgroup())
	}
	for _, d := range s.created {
		errs = append(errs, os.RemoveAll(d))
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// removeCgroup kills what is left in the cgroup (a worker that left the
// process group) and removes it once it is empty.
func (s *localServer) removeCgroup() error {
	var err error
	for range 50 {
		for _, f := range s.cg.ProcsFiles() {
			b, _ := os.ReadFile(f)
			for _, p := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(p); perr == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err = s.cg.Remove(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove httpd's cgroup: %w", err)
}

// writeServed writes what a native httpd serves and reads into dir: the
// test page and the served files (unless page is false: --docroot serves
// the site's folder as it is) and its httpd.conf, in folders its workers
// (running as at.User) may enter.
func writeServed(dir string, at apache.Paths, conf string, files []File, page bool) error {
	dirs := []string{dir, at.RunDir}
	if page {
		dirs = append(dirs, at.DocRoot)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if page {
		if err := writePage(at.DocRoot, files); err != nil {
			return err
		}
	}
	return os.WriteFile(at.Conf, []byte(conf), 0o644)
}

// searchable refuses a --docroot that httpd's workers, running as user
// (not its owner), could not read: a folder on the way without search
// permission for others would make every request a 403.
func searchable(dir, user string) error {
	if os.Geteuid() != 0 {
		return nil // the workers run as this user, who named the folder
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 || (p == abs && st.Mode().Perm()&0o004 == 0) {
			return fmt.Errorf("--docroot %s: httpd's workers run as %s and cannot enter %s (mode %s): make the folder and the folders above it readable by others (chmod o+rx), or serve a copy from such a folder", dir, user, p, st.Mode().Perm())
		}
		if p == "/" {
			return nil
		}
	}
}
