package provider

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/loadcheck/loadcheck/apache"
)

// localTree is a config tree laid out to run natively: where it is, what
// was changed, and what the load needs to reach it.
type localTree struct {
	root, conf string
	plan       apache.TreePlan
	render     apache.TreeRender
	roots      []byte   // certificates loadcheck generated, for the load to trust
	created    []string // DocumentRoots made on this host, removed at Stop
}

// layTree renders cfg's tree under at.Tree and writes it there: each
// Listen on a free loopback port, access logs into at.Logs, a
// certificate the tree names but neither it nor this host holds (or that
// --no-host-keys kept from being copied) generated under the run's
// folder with the lines that name it pointed there, and a DocumentRoot
// this host lacks created with the test page (and removed at Stop). A
// DocumentRoot the host has is served as it is, read-only.
func layTree(cfg apache.Config, layout apache.Layout, at apache.Paths, files []File) (*localTree, error) {
	t := cfg.Tree
	plan, err := t.Plan(cfg.TLS != "", func(string) (string, int, error) {
		p, err := FreePort()
		if err != nil {
			return "", 0, fmt.Errorf("find a free port: %w", err)
		}
		return fmt.Sprintf("127.0.0.1:%d", p), p, nil
	})
	if err != nil {
		return nil, err
	}
	lt := &localTree{root: at.Tree, plan: plan, render: apache.RenderTree(cfg, layout, plan.Listen, at)}
	r := &lt.render
	lt.conf = r.Conf
	for i, n := range r.Certs {
		if err := lt.generate(i, n, cfg.TLS, filepath.Dir(at.Tree)); err != nil {
			return lt, err
		}
	}
	for p, text := range r.Files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".key") {
			mode = 0o600
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return lt, err
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			return lt, err
		}
	}
	for _, d := range []string{at.Logs, at.RunDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return lt, err
		}
	}
	// The official layout loads modules/mod_*.so relative to ServerRoot.
	if _, err := os.Lstat(filepath.Join(at.Tree, "modules")); errors.Is(err, fs.ErrNotExist) {
		if err := os.Symlink(layout.ModulesDir, filepath.Join(at.Tree, "modules")); err != nil {
			return lt, err
		}
	}
	for _, d := range r.DocRoots {
		if err := lt.docRoot(d, files); err != nil {
			return lt, err
		}
	}
	return lt, nil
}

// generate makes a self-signed pair (key of kind) for certificate need i,
// writes it under dir/tls, and points every line that names the
// certificate or its key at the generated files.
func (lt *localTree) generate(i int, n apache.CertNeed, kind, dir string) error {
	kind = cmp.Or(n.Kind, kind, apache.TLSKeyECDSA)
	cert, key, err := apache.SelfSigned(n.Names, kind)
	if err != nil {
		return fmt.Errorf("make a certificate for %s: %w", n.Cert, err)
	}
	lt.roots = append(lt.roots, cert...)
	base := filepath.Join(dir, "tls", fmt.Sprintf("%d", i+1))
	r := &lt.render
	as := ""
	if n.Kind != "" {
		as = " (" + n.Kind + ", as the host's key)"
	}
	note := fmt.Sprintf("warning: certificate %s for %s%s: neither the tree nor this host gave it (or --no-host-keys), so loadcheck generated a self-signed one (no client trusts it but loadcheck): it runs as %s", n.Cert, strings.Join(n.Names, ", "), as, base+".crt")
	if n.Key == "" {
		r.Files[base+".crt"] = string(cert) + string(key)
		repoint(r.Files, n.Cert, base+".crt")
	} else {
		r.Files[base+".crt"], r.Files[base+".key"] = string(cert), string(key)
		repoint(r.Files, n.Cert, base+".crt")
		repoint(r.Files, n.Key, base+".key")
		note += ", key " + base + ".key"
	}
	r.Adjustments = append(r.Adjustments, note)
	return nil
}

// repoint replaces path from with to wherever a file names it as a whole
// word (alone, quoted, or at the end of a line).
func repoint(files map[string]string, from, to string) {
	re := regexp.MustCompile(`(^|[\s"])` + regexp.QuoteMeta(from) + `($|[\s"])`)
	for p, text := range files {
		files[p] = re.ReplaceAllString(text, "${1}"+to+"${2}")
	}
}

// docRoot makes DocumentRoot d with the test page and the served files
// when this host lacks it, and remembers the topmost folder it created.
func (lt *localTree) docRoot(d string, files []File) error {
	if _, err := os.Stat(d); err == nil {
		return nil
	}
	top := d
	for p := filepath.Dir(d); p != "/" && p != "."; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		top = p
	}
	lt.created = append(lt.created, top)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	lt.render.Adjustments = append(lt.render.Adjustments, fmt.Sprintf("DocumentRoot %s did not exist on this host: created with the test page, removed when the run ends", d))
	return writePage(d, files)
}

// writePage writes the test page (index.html, "ok\n") and the served
// files under dir.
func writePage(dir string, files []File) error {
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("ok\n"), 0o644); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), int(f.Size)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// accessLogs counts the lines of each access log the tree writes.
func accessLogs(dir string) func(context.Context) (map[string]int64, error) {
	return func(context.Context) (map[string]int64, error) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		out := map[string]int64{}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			f, err := os.Open(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			var n int64
			for sc.Scan() {
				n++
			}
			f.Close()
			out[e.Name()] = n
		}
		return out, nil
	}
}
