package apache

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Tree is a whole config tree as a team deploys it: Debian's /etc/apache2
// (apache2.conf at its root, with envvars, mods-enabled, sites-enabled) or
// the official image's layout (httpd.conf, or conf/httpd.conf with
// conf/extra). It is copied into the container at TreeRoot, which becomes
// httpd's ServerRoot, so relative Includes and globs resolve as they do in
// production.
type Tree struct {
	Dir    string `json:"dir"`    // as given
	Layout string `json:"layout"` // "debian" or "official"
	Main   string `json:"main"`   // the top-level file, relative to Dir
	// Files holds every file of the tree by its slash path relative to Dir,
	// symlinks resolved (Debian's *-enabled links become files).
	Files map[string]string `json:"-"`
	// Notes are what loading left out, for the run's output.
	Notes []string `json:"notes,omitempty"`
	// Set are --set directives, written after the tree so that they win.
	Set []Directive `json:"set,omitempty"`
	// Host is the vhost the load asks for (its Host header); "" means
	// DefaultHost.
	Host string `json:"host,omitempty"`
	// MPM, when set, is the MPM the tree runs under instead of the one
	// it loads (see Config.WithMPM).
	MPM string `json:"mpm,omitempty"`
	// Outside are the files the tree names outside itself that were
	// brought in (host paths): a certbot site's options and certificates,
	// an AuthUserFile elsewhere. They run from the tree's OutsideDir.
	Outside []string `json:"outside,omitempty"`
	// HostKeyKinds are the kinds (TLSKeyRSA, TLSKeyECDSA) of the host's
	// private keys left out by WithoutHostKeys, by their path: the pair
	// generated in their place has a key of the same kind.
	HostKeyKinds map[string]string `json:"-"`
}

// DefaultHost is the ServerName of the tree's first vhost that has one,
// or "" (the load then reaches the default vhost of the address).
func (t *Tree) DefaultHost() string {
	for _, v := range t.Vhosts() {
		if v.ServerName != "" {
			return v.ServerName
		}
	}
	return ""
}

// TreeRoot is where a tree lives in the container; LogDir is the tmpfs
// its log files are moved to.
const (
	TreeRoot = "/loadcheck/tree"
	LogDir   = "/loadcheck-logs"
)

// Limits of what a tree may hold: a config tree, not a site.
const (
	maxTreeBytes = 32 << 20
	maxTreeFiles = 5000
)

// LoadTree reads the config tree at dir as config name. The MPM comes from
// the LoadModule lines the tree itself includes; the MPM directives it
// sets are mirrored for Check.
func LoadTree(name, dir string) (Config, error) {
	if err := CheckName(name); err != nil {
		return Config{}, fmt.Errorf("config tree %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return Config{}, fmt.Errorf("config tree for %s: %w", name, err)
	}
	if !st.IsDir() {
		return Config{}, fmt.Errorf("config tree %s: not a directory (a single httpd.conf goes to --config-file / file:)", dir)
	}
	t := &Tree{Dir: dir, Files: map[string]string{}}
	size := 0
	if err := t.read(dir, "", 0, &size); err != nil {
		return Config{}, fmt.Errorf("config tree %s: %w", dir, err)
	}
	for _, c := range []struct{ main, layout string }{{"apache2.conf", "debian"}, {"httpd.conf", "official"}, {"conf/httpd.conf", "official"}} {
		if _, ok := t.Files[c.main]; ok {
			t.Main, t.Layout = c.main, c.layout
			break
		}
	}
	if t.Main == "" {
		return Config{}, fmt.Errorf("config tree %s: no top-level config file: expected apache2.conf (Debian layout), httpd.conf or conf/httpd.conf (official layout) in it", dir)
	}
	if err := t.bringIn(&size); err != nil {
		return Config{}, fmt.Errorf("config tree %s: %w", dir, err)
	}
	mpm := "unknown"
	for _, l := range t.Lines() {
		if strings.EqualFold(l.Name(), "LoadModule") && len(l.Args) > 0 {
			if m := mpmName.FindStringSubmatch(l.Args[0]); m != nil {
				if mpm != "unknown" && mpm != m[1] {
					return Config{}, fmt.Errorf("config tree %s: it loads two MPMs, %s and %s (%s:%d); httpd accepts one", dir, mpm, m[1], l.File, l.N)
				}
				mpm = m[1]
			}
		}
	}
	if err := t.checkCerts(); err != nil {
		return Config{}, err
	}
	return t.config(name, mpm), nil
}

// config is the tree as config name under mpm: the MPM directives it sets
// for that MPM are mirrored for Check.
func (t *Tree) config(name, mpm string) Config {
	cfg := Config{Name: name, MPM: mpm, Tree: t}
	for _, l := range t.Lines() {
		if l.Skip(mpm) {
			continue
		}
		cfg.mirror(append([]string{l.Name()}, l.Args...))
	}
	return cfg
}

// WithMPM is the tree config c run under mpm instead of the MPM the tree
// loads: its MPM LoadModule line is rewritten in place, so the tree's
// <IfModule mpm_…> sections follow the switch as they would in
// production (Debian: a2dismod mpm_event; a2enmod mpm_worker, but with
// the tree's own mpm_*.conf left as enabled).
func (c Config) WithMPM(mpm string) (Config, error) {
	switch {
	case c.Tree == nil:
		return c, fmt.Errorf("only a config tree's MPM can be switched; a preset or config file has its own")
	case !slices.Contains(mpms, mpm):
		return c, fmt.Errorf("unknown MPM %q: use prefork, worker or event", mpm)
	case c.MPM == "unknown":
		return c, fmt.Errorf("config tree %s loads no MPM (no LoadModule mpm_…_module line) to switch", c.Tree.Dir)
	}
	t := *c.Tree
	if t.MPM = mpm; mpm == c.MPM && c.Tree.MPM == "" {
		t.MPM = ""
	}
	out := t.config(c.Name, mpm)
	out.MemoryBytes, out.CPUs, out.TLS = c.MemoryBytes, c.CPUs, c.TLS
	for _, d := range t.Set {
		out.Set(d)
	}
	return out, nil
}

var mpmName = regexp.MustCompile(`^mpm_(prefork|worker|event)_module$`)

// read adds the files under dir to t, as rel; depth guards symlink loops.
func (t *Tree) read(dir, rel string, depth int, size *int) error {
	if depth > 8 {
		return fmt.Errorf("%s: symlinked folders nest more than 8 deep", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p, r := filepath.Join(dir, e.Name()), path.Join(rel, e.Name())
		info, err := os.Stat(p) // follows symlinks
		if err != nil {
			t.Notes = append(t.Notes, fmt.Sprintf("%s is a link to a file that does not exist here: left out", r))
			continue
		}
		switch {
		case info.IsDir():
			if err := t.read(p, r, depth+1, size); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if *size += len(b); *size > maxTreeBytes || len(t.Files) >= maxTreeFiles {
				return fmt.Errorf("more than %d files or %d MB: give the config tree only, not the site", maxTreeFiles, maxTreeBytes>>20)
			}
			t.Files[r] = string(b)
		}
	}
	return nil
}

// Line is one directive line of a tree, in the order httpd reads it.
type Line struct {
	File string   // relative to the tree
	N    int      // 1-based
	Args []string // after the directive name, quotes removed
	Text string   // the whole line, trimmed
	name string
	// Sections are the enclosing <IfModule …>, <VirtualHost …> openings.
	Sections []string
}

// Name is the directive, or a section's opening like "<VirtualHost".
func (l Line) Name() string { return l.name }

// Skip reports whether the line is inside an <IfModule> of another MPM
// than mpm.
func (l Line) Skip(mpm string) bool {
	for _, s := range l.Sections {
		f := strings.Fields(strings.ToLower(strings.Trim(s, "<>")))
		if len(f) == 2 && f[0] == "ifmodule" {
			m := strings.TrimPrefix(f[1], "!")
			for _, other := range mpms {
				if other != mpm && (m == "mpm_"+other+"_module" || m == "mpm_"+other+".c") {
					return !strings.HasPrefix(f[1], "!")
				}
			}
		}
	}
	return false
}

// In reports whether the line is inside a section named name (for
// example "VirtualHost"), and that section's opening.
func (l Line) In(name string) (string, bool) {
	for i := len(l.Sections) - 1; i >= 0; i-- {
		if f := strings.Fields(strings.Trim(l.Sections[i], "<>")); len(f) > 0 && strings.EqualFold(f[0], name) {
			return l.Sections[i], true
		}
	}
	return "", false
}

// Lines returns the tree's directive lines in the order httpd reads them:
// from the top-level file, each Include and IncludeOptional expanded in
// place (globs and folders, relative to the tree's root or under the
// layout's ServerRoot). Includes of files outside the tree are left to
// httpd.
func (t *Tree) Lines() []Line {
	var out []Line
	var sections []string
	var walk func(file string, depth int)
	walk = func(file string, depth int) {
		if depth > 16 {
			return
		}
		for i, raw := range strings.Split(t.Files[file], "\n") {
			s := strings.TrimSpace(raw)
			if s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			f := splitArgs(s)
			l := Line{File: file, N: i + 1, Text: s, name: f[0], Args: f[1:], Sections: append([]string(nil), sections...)}
			switch {
			case strings.HasPrefix(f[0], "</"):
				if len(sections) > 0 {
					sections = sections[:len(sections)-1]
				}
				continue
			case strings.HasPrefix(f[0], "<"):
				sections = append(sections, s)
			}
			out = append(out, l)
			if (strings.EqualFold(f[0], "Include") || strings.EqualFold(f[0], "IncludeOptional")) && len(f) > 1 {
				for _, inc := range t.glob(f[1]) {
					walk(inc, depth+1)
				}
			}
		}
	}
	walk(t.Main, 0)
	return out
}

// splitArgs splits a directive line into words, quoted words kept whole
// and unquoted.
func splitArgs(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			if j := strings.IndexByte(s[1:], '"'); j >= 0 {
				out = append(out, s[1:j+1])
				s = s[j+2:]
				continue
			}
		}
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			j = len(s)
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

// rel is p as a path in the tree, or false when it points outside it.
func (t *Tree) rel(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return path.Clean(p), true
	}
	if rel, ok := t.outsideRel(p); ok {
		return rel, true
	}
	for _, root := range []string{TreeRoot, Debian.ServerRoot, Official.ServerRoot} {
		if strings.HasPrefix(p, root+"/") {
			return path.Clean(strings.TrimPrefix(p, root+"/")), true
		}
	}
	return "", false
}

// glob is the tree's files an Include of pattern reads, in httpd's order.
func (t *Tree) glob(pattern string) []string {
	p, ok := t.rel(strings.TrimSuffix(pattern, "/"))
	if !ok {
		return nil
	}
	var out []string
	for f := range t.Files {
		if m, _ := path.Match(p, f); m || strings.HasPrefix(f, p+"/") {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// Vhost is one <VirtualHost> of a tree.
type Vhost struct {
	Addrs      []string
	ServerName string
	Aliases    []string
	SSL        bool // SSLEngine on inside it
	File       string
	N          int
}

// Vhosts are the tree's virtual hosts in the order httpd reads them.
func (t *Tree) Vhosts() []Vhost {
	var out []Vhost
	for _, l := range t.Lines() {
		switch {
		case strings.EqualFold(l.Name(), "<VirtualHost"):
			out = append(out, Vhost{Addrs: trimSection(l.Args), File: l.File, N: l.N})
		case len(out) > 0 && len(l.Args) > 0:
			if _, in := l.In("VirtualHost"); !in {
				continue
			}
			v := &out[len(out)-1]
			if strings.EqualFold(l.Name(), "ServerName") {
				v.ServerName = hostOnly(l.Args[0])
			} else if strings.EqualFold(l.Name(), "ServerAlias") {
				v.Aliases = append(v.Aliases, l.Args...)
			} else if strings.EqualFold(l.Name(), "SSLEngine") {
				v.SSL = strings.EqualFold(l.Args[0], "on")
			}
		}
	}
	return out
}

// hostOnly drops a scheme and port from a ServerName.
func hostOnly(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "]") {
		s = s[:i]
	}
	return s
}

func trimSection(args []string) []string {
	out := append([]string(nil), args...)
	if n := len(out); n > 0 {
		out[n-1] = strings.TrimSuffix(out[n-1], ">")
		if out[n-1] == "" {
			out = out[:n-1]
		}
	}
	return out
}

// HasVhost reports whether the tree has a vhost answering to name.
func (t *Tree) HasVhost(name string) bool {
	for _, v := range t.Vhosts() {
		if v.answers(name) {
			return true
		}
	}
	return false
}

// answers reports whether the vhost answers to name: its ServerName or
// one of its ServerAlias patterns.
func (v Vhost) answers(name string) bool {
	if strings.EqualFold(v.ServerName, name) {
		return true
	}
	for _, a := range v.Aliases {
		if m, _ := path.Match(strings.ToLower(a), strings.ToLower(name)); m {
			return true
		}
	}
	return false
}

// Listen is one Listen line of a tree.
type Listen struct {
	Port  string
	Proto string // the optional second argument, like https
	TLS   bool   // inside <IfModule ssl_module> or with proto https, or on 443
	Line
}

// Listens are the tree's Listen lines.
func (t *Tree) Listens() []Listen {
	var out []Listen
	for _, l := range t.Lines() {
		if !strings.EqualFold(l.Name(), "Listen") || len(l.Args) == 0 {
			continue
		}
		a := l.Args[0]
		port := a[strings.LastIndexByte(a, ':')+1:]
		ls := Listen{Port: port, Line: l}
		if len(l.Args) > 1 {
			ls.Proto = l.Args[1]
		}
		ls.TLS = sslSection(l) || strings.EqualFold(ls.Proto, "https") || port == "443"
		out = append(out, ls)
	}
	return out
}

func sslSection(l Line) bool {
	for _, s := range l.Sections {
		s = strings.ToLower(s)
		if strings.Contains(s, "ssl_module") || strings.Contains(s, "mod_ssl.c") || strings.Contains(s, "mod_gnutls.c") {
			return true
		}
	}
	return false
}

// DocumentRoots are the folders the tree serves, each once.
func (t *Tree) DocumentRoots() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range t.Lines() {
		if strings.EqualFold(l.Name(), "DocumentRoot") && len(l.Args) > 0 && path.IsAbs(l.Args[0]) && !strings.Contains(l.Args[0], "${") && !seen[l.Args[0]] {
			seen[l.Args[0]] = true
			out = append(out, path.Clean(l.Args[0]))
		}
	}
	return out
}

// TreeRender is a tree made runnable in a container without editing the
// user's copy: its files as httpd reads them, and what was changed.
type TreeRender struct {
	Files       map[string]string // by path in the container
	Conf        string            // the top-level file, in the container
	DocRoots    []string          // to create with the test page if missing
	Certs       []CertNeed        // to generate when the container lacks them
	Adjustments []string          // "file:line: was → now", for the run's output and result.json
}

// RenderTree makes cfg's tree runnable at TreeRoot. Each change keeps the
// file's line numbers, so httpd's messages point at the user's lines:
//   - Listen lines move to the addresses in listen (by the port they had),
//     and <VirtualHost> addresses on those ports with them, so name-based
//     vhosts still answer;
//   - ErrorLog goes to httpd's stderr (where loadcheck reads it), access
//     logs to the LogDir tmpfs;
//   - a ServerRoot line points at TreeRoot;
//   - a LoadModule of a module built into the image's httpd is commented
//     out (the official layout's mod_log_config on Debian's image).
//
// After the tree's own text come PidFile and the runtime folder on
// tmpfs, the server's ErrorLog on stderr, mod_status at StatusPath, and the --set directives, so they win.
func RenderTree(cfg Config, layout Layout, listen map[string]string, at Paths) TreeRender {
	t := cfg.Tree
	root := at.treeRoot()
	out := TreeRender{Files: map[string]string{}, Conf: path.Join(root, t.Main), DocRoots: t.DocumentRoots(), Certs: t.certNeeds(root)}
	edits := map[string]map[int]string{}
	r := treeRenderer{t: t, layout: layout, listen: listen, at: at}
	for _, l := range t.Lines() {
		now, ok := r.edit(l)
		if !ok {
			continue
		}
		if edits[l.File] == nil {
			edits[l.File] = map[int]string{}
		}
		if _, done := edits[l.File][l.N]; done {
			continue
		}
		edits[l.File][l.N] = now
		out.Adjustments = append(out.Adjustments, fmt.Sprintf("%s:%d: %s → %s", l.File, l.N, l.Text, now))
	}
	for f, text := range t.Files {
		if e := edits[f]; e != nil {
			lines := strings.Split(text, "\n")
			for n, now := range e {
				lines[n-1] = now
			}
			text = strings.Join(lines, "\n")
		}
		out.Files[path.Join(root, f)] = text
	}
	out.Files[out.Conf] += treeAdditions(cfg, layout, at)
	for _, p := range t.Outside {
		out.Adjustments = append(out.Adjustments, fmt.Sprintf("brought in %s, named outside the tree: a copy runs as %s", p, path.Join(root, OutsideDir, p)))
	}
	return out
}

// treeRenderer decides, line by line, what of a tree must change to run
// here.
type treeRenderer struct {
	t      *Tree
	layout Layout
	listen map[string]string
	at     Paths
	logs   int // access logs seen so far
}

// edit is what line l becomes here, if it changes.
func (r *treeRenderer) edit(l Line) (string, bool) {
	t, at := r.t, r.at
	switch name := strings.ToLower(l.Name()); {
	case slices.Contains(outsideDirectives, name) && len(l.Args) > 0 && path.IsAbs(l.Args[0]) && !t.inTree(l.Args[0]):
		// A file named outside the tree runs from the copy brought in.
		if rel, ok := t.outsideRel(l.Args[0]); ok {
			return strings.Replace(l.Text, l.Args[0], path.Join(at.treeRoot(), rel), 1), true
		}
	case name == "listen" && len(l.Args) > 0:
		a := l.Args[0]
		if to, ok := r.listen[a[strings.LastIndexByte(a, ':')+1:]]; ok {
			return strings.TrimSpace("Listen " + to + " " + strings.Join(l.Args[1:], " ")), true
		}
	case name == "<virtualhost":
		return r.vhost(l)
	case name == "errorlog" && len(l.Args) > 0 && l.Args[0] != at.ErrorLog:
		return "ErrorLog " + at.ErrorLog, true
	case (name == "customlog" || name == "transferlog") && len(l.Args) > 0:
		r.logs++
		base := path.Base(l.Args[0])
		if strings.HasPrefix(l.Args[0], "|") || base == "." || base == "/" {
			base = fmt.Sprintf("log-%d", r.logs)
		}
		return strings.Replace(l.Text, l.Args[0], path.Join(at.logDir(), base), 1), true
	case name == "loadmodule" && len(l.Args) > 1 && t.MPM != "" && mpmName.MatchString(l.Args[0]) && l.Args[0] != "mpm_"+t.MPM+"_module":
		old := mpmName.FindStringSubmatch(l.Args[0])[1]
		return fmt.Sprintf("LoadModule mpm_%s_module %s", t.MPM, strings.Replace(l.Args[1], "mod_mpm_"+old, "mod_mpm_"+t.MPM, 1)), true
	case name == "loadmodule" && len(l.Args) > 0 && slices.Contains(r.layout.BuiltIn, strings.TrimSuffix(l.Args[0], "_module")):
		// The official image loads mod_log_config, which Debian's
		// binary has built in: the tree still runs, as it would there.
		return "# loadcheck: built into this image's httpd: " + l.Text, true
	case name == "serverroot":
		return fmt.Sprintf("ServerRoot %q", at.treeRoot()), true
	case (name == "sslcertificatefile" || name == "sslcertificatekeyfile" || name == "sslcertificatechainfile" || name == "sslcacertificatefile") &&
		len(l.Args) > 0 && path.IsAbs(l.Args[0]) && !strings.HasPrefix(l.Args[0], at.treeRoot()+"/"):
		// The official layout names its certificate by its absolute
		// path under ServerRoot: here that is the tree's copy.
		if rel, ok := t.rel(l.Args[0]); ok {
			return strings.Replace(l.Text, l.Args[0], path.Join(at.treeRoot(), rel), 1), true
		}
	case name == "sslsessioncache" && len(l.Args) > 0:
		// shmcb:/usr/local/apache2/logs/ssl_scache(512000): the
		// folder may not exist in this image; the runtime tmpfs does.
		kind, file, ok := strings.Cut(l.Args[0], ":")
		if ok && path.IsAbs(file) && !strings.HasPrefix(file, at.RunDir+"/") {
			size := ""
			if i := strings.IndexByte(file, '('); i >= 0 {
				file, size = file[:i], file[i:]
			}
			return fmt.Sprintf("SSLSessionCache \"%s:%s/%s%s\"", kind, at.RunDir, path.Base(file), size), true
		}
	}
	return "", false
}

// vhost is a <VirtualHost> line with its ports moved where this run
// listens; an IP-based vhost answers on loopback here.
func (r *treeRenderer) vhost(l Line) (string, bool) {
	addrs := trimSection(l.Args)
	changed := false
	for i, a := range addrs {
		j := strings.LastIndexByte(a, ':')
		if j < 0 {
			continue
		}
		if to, ok := r.listen[a[j+1:]]; ok {
			host := a[:j]
			if host != "*" && host != "_default_" {
				host = "127.0.0.1"
			}
			addrs[i], changed = host+":"+to[strings.LastIndexByte(to, ':')+1:], true
		}
	}
	return "<VirtualHost " + strings.Join(addrs, " ") + ">", changed
}

// treeAdditions is what loadcheck appends to a tree's main file: runtime
// files on tmpfs, mod_status, the backend's proxy and --set directives,
// after the tree so that they win.
func treeAdditions(cfg Config, layout Layout, at Paths) string {
	t := cfg.Tree
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("")
	p("# Added by loadcheck after the config tree %s (config %q): runtime files on tmpfs and mod_status.", t.Dir, cfg.Name)
	p("PidFile %s/httpd.pid", at.RunDir)
	p("DefaultRuntimeDir %s", at.RunDir)
	p("ErrorLog %s", at.ErrorLog) // also for a tree that sets none: logs/error_log need not exist here
	observable(p, layout)
	renderProxy(p, layout, cfg.Proxy)
	if len(t.Set) > 0 {
		p("# --set, after the tree so that they win")
		for _, d := range t.Set {
			p("%s %s", d.Name, d.Value)
		}
	}
	return b.String()
}
