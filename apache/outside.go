package apache

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// OutsideDir is where the files a tree names outside itself live in the
// tree (relative to it) and so in the container: /etc/letsencrypt/x.conf
// is _outside/etc/letsencrypt/x.conf there.
const OutsideDir = "_outside"

// outsideDirectives name a file by their first argument: what httpd reads
// at start-up, so a file of theirs missing here stops it.
var outsideDirectives = []string{"include", "includeoptional", "sslcertificatefile", "sslcertificatekeyfile",
	"sslcertificatechainfile", "sslcacertificatefile", "sslcacertificatepath", "authuserfile", "authgroupfile",
	"typesconfig", "mimemagicfile", "sslopensslconfcmd"}

// keyDirectives name a certificate or its private key: --no-host-keys
// leaves them out (WithoutHostKeys), and the pair is generated.
var keyDirectives = []string{"sslcertificatefile", "sslcertificatekeyfile"}

// bringIn reads the files the tree's directives name by an absolute path
// outside the tree (a certbot site's /etc/letsencrypt/options-ssl-apache.conf
// and live/ certificates, an AuthUserFile elsewhere) into the tree under
// OutsideDir, as httpd would read them: Include patterns globbed, files
// they include followed. A file that cannot be read is left for httpd to
// name; each one read is listed in Outside.
func (t *Tree) bringIn(size *int) error {
	for round := 0; round < 8; round++ {
		added := false
		for _, l := range t.Lines() {
			name := strings.ToLower(l.Name())
			if len(l.Args) == 0 || !slices.Contains(outsideDirectives, name) {
				continue
			}
			p := l.Args[0]
			if name == "sslopensslconfcmd" || !path.IsAbs(p) || t.inTree(p) {
				continue
			}
			matches, _ := filepath.Glob(filepath.FromSlash(p))
			for _, m := range matches {
				ok, err := t.readOutside(filepath.ToSlash(m), size)
				if err != nil {
					return err
				}
				added = added || ok
			}
		}
		if !added {
			return nil
		}
	}
	return nil
}

// readOutside reads host file p (and a folder's files) into the tree
// under OutsideDir; false when it was there already or cannot be read.
func (t *Tree) readOutside(p string, size *int) (bool, error) {
	key := path.Join(OutsideDir, p)
	if _, ok := t.Files[key]; ok {
		return false, nil
	}
	info, err := os.Stat(p)
	switch {
	case err != nil:
		return false, nil
	case info.IsDir():
		before := len(t.Files)
		err := t.read(filepath.FromSlash(p), key, 0, size)
		for k := range t.Files {
			if strings.HasPrefix(k, key+"/") && !slices.Contains(t.Outside, "/"+strings.TrimPrefix(k, OutsideDir+"/")) {
				t.Outside = append(t.Outside, "/"+strings.TrimPrefix(k, OutsideDir+"/"))
			}
		}
		return len(t.Files) > before, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Notes = append(t.Notes, fmt.Sprintf("%s, which the tree names, cannot be read here (%v): left out", p, err))
		return false, nil
	}
	if *size += len(b); *size > maxTreeBytes || len(t.Files) >= maxTreeFiles {
		return false, fmt.Errorf("more than %d files or %d MB with what it names outside itself", maxTreeFiles, maxTreeBytes>>20)
	}
	t.Files[key] = string(b)
	t.Outside = append(t.Outside, p)
	return true, nil
}

// inTree reports whether absolute path p is the tree's own (under one of
// the roots its files are known by).
func (t *Tree) inTree(p string) bool {
	for _, root := range []string{TreeRoot, Debian.ServerRoot, Official.ServerRoot} {
		if strings.HasPrefix(p, root+"/") {
			return true
		}
	}
	return false
}

// outsideRel is where absolute path (or pattern) p outside the tree lives
// in it, when something was brought in there.
func (t *Tree) outsideRel(p string) (string, bool) {
	if len(t.Outside) == 0 || !path.IsAbs(p) {
		return "", false
	}
	rel := path.Join(OutsideDir, path.Clean(p))
	for k := range t.Files {
		if m, _ := path.Match(rel, k); m || k == rel || strings.HasPrefix(k, rel+"/") {
			return rel, true
		}
	}
	return "", false
}

// WithoutHostKeys is the tree without the certificates and private keys
// it named outside itself (--no-host-keys): loadcheck generates the pairs
// instead, and never copies a host's key into a container.
func (t *Tree) WithoutHostKeys() *Tree {
	out := *t
	out.Files = map[string]string{}
	drop := map[string]bool{}
	for _, l := range t.Lines() {
		if len(l.Args) > 0 && slices.Contains(keyDirectives, strings.ToLower(l.Name())) && !t.inTree(l.Args[0]) {
			drop[path.Join(OutsideDir, path.Clean(l.Args[0]))] = true
		}
	}
	out.Outside, out.HostKeyKinds = nil, map[string]string{}
	for k, v := range t.Files {
		if drop[k] {
			if kind := KeyKind(v); kind != "" {
				out.HostKeyKinds["/"+strings.TrimPrefix(k, OutsideDir+"/")] = kind
			}
			continue
		}
		out.Files[k] = v
		if strings.HasPrefix(k, OutsideDir+"/") {
			out.Outside = append(out.Outside, strings.TrimPrefix(k, OutsideDir))
		}
	}
	slices.Sort(out.Outside)
	return &out
}
