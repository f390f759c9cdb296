package apache

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// loads reports whether the tree loads module (like "ssl_module").
func (t *Tree) loads(module string) bool {
	for _, l := range t.Lines() {
		if strings.EqualFold(l.Name(), "LoadModule") && len(l.Args) > 0 && l.Args[0] == module {
			return true
		}
	}
	return false
}

// SSLVhost is the vhost a --tls load reaches: the first with SSLEngine on
// that answers to host, or with host "" the first SSL vhost with a
// ServerName (else the first SSL vhost). The error names the tree and
// what to do.
func (t *Tree) SSLVhost(host string) (Vhost, error) {
	var ssl []Vhost
	if t.loads("ssl_module") {
		for _, v := range t.Vhosts() {
			if v.SSL {
				ssl = append(ssl, v)
			}
		}
	}
	if len(ssl) == 0 {
		return Vhost{}, fmt.Errorf("config tree %s has no SSL virtual host (mod_ssl loaded and a <VirtualHost> with SSLEngine on): add one, or run the tree without --tls", t.Dir)
	}
	if host == "" {
		for _, v := range ssl {
			if v.ServerName != "" {
				return v, nil
			}
		}
		return ssl[0], nil
	}
	var names []string
	for _, v := range ssl {
		if v.answers(host) {
			return v, nil
		}
		names = append(names, fmt.Sprintf("%s (%s:%d)", v.ServerName, v.File, v.N))
	}
	return Vhost{}, fmt.Errorf("config tree %s has no SSL virtual host for %s; its SSL vhosts: %s: choose one with --host, or turn SSLEngine on in %s's vhost", t.Dir, host, strings.Join(names, ", "), host)
}

// Port is the port of the vhost's first address that has one ("" none:
// <VirtualHost *> answers on every Listen).
func (v Vhost) Port() string {
	for _, a := range v.Addrs {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			return a[i+1:]
		}
	}
	return ""
}

// Cert is a certificate a tree's SSL config names, with its key.
type Cert struct {
	Cert string // SSLCertificateFile, as written
	Key  string // its SSLCertificateKeyFile; "" when the key is in Cert's file
	Line Line   // the SSLCertificateFile line
	// Names are what a generated certificate is made for: the vhost's
	// ServerName and aliases, and loopback.
	Names []string
}

// Certs are the certificates the tree's mod_ssl loads: each
// SSLCertificateFile with the SSLCertificateKeyFile of the same place
// (the n-th key of its vhost, else of the server config). None when the
// tree does not load mod_ssl; paths with ${VARIABLES} are left to httpd.
func (t *Tree) Certs() []Cert {
	if !t.loads("ssl_module") {
		return nil
	}
	type scope struct {
		certs       []Cert
		keys, names []string
	}
	scopes := map[int]*scope{0: {}} // 0: the server config; n: the n-th vhost
	vh := 0
	for _, l := range t.Lines() {
		name := strings.ToLower(l.Name())
		if name == "<virtualhost" {
			vh++
			scopes[vh] = &scope{}
			continue
		}
		at := 0
		if _, in := l.In("VirtualHost"); in {
			at = vh
		}
		s := scopes[at]
		switch {
		case len(l.Args) == 0:
		case name == "servername":
			s.names = append(s.names, hostOnly(l.Args[0]))
		case name == "serveralias":
			s.names = append(s.names, l.Args...)
		case name == "sslcertificatefile":
			s.certs = append(s.certs, Cert{Cert: l.Args[0], Line: l})
		case name == "sslcertificatekeyfile":
			s.keys = append(s.keys, l.Args[0])
		}
	}
	var out []Cert
	for i := 0; i <= vh; i++ {
		s := scopes[i]
		for n, c := range s.certs {
			if strings.Contains(c.Cert, "${") {
				continue
			}
			switch {
			case n < len(s.keys):
				c.Key = s.keys[n]
			case n < len(scopes[0].keys):
				c.Key = scopes[0].keys[n]
			}
			if strings.Contains(c.Key, "${") {
				continue
			}
			c.Names = append(append([]string(nil), s.names...), "localhost", "127.0.0.1")
			out = append(out, c)
		}
	}
	return out
}

// file is the tree's file at p (as a directive names it): its text,
// whether p is in the tree at all, and whether the file is there.
func (t *Tree) file(p string) (text string, in, have bool) {
	rel, in := t.rel(p)
	if !in {
		return "", false, false
	}
	text, have = t.Files[rel]
	return text, true, have
}

// host is p in the tree as the user's own path, for messages.
func (t *Tree) host(p string) string {
	if rel, ok := t.rel(p); ok {
		return filepath.Join(t.Dir, filepath.FromSlash(rel))
	}
	return p + " (in the image)"
}

// checkCerts refuses a certificate of the tree that does not match its
// key, and a pair of which only one half is in the tree: loadcheck
// generates a missing pair, never half of one.
func (t *Tree) checkCerts() error {
	for _, c := range t.Certs() {
		key := c.Key
		if key == "" {
			key = c.Cert
		}
		certText, certIn, certHave := t.file(c.Cert)
		keyText, keyIn, keyHave := t.file(key)
		at := fmt.Sprintf("%s:%d", c.Line.File, c.Line.N)
		switch {
		case certHave && keyHave:
			if _, err := tls.X509KeyPair([]byte(certText), []byte(keyText)); err != nil {
				return fmt.Errorf("config tree %s: %s: certificate %s and key %s do not match (%w): put the key that belongs to the certificate there, or remove both and loadcheck generates a self-signed pair", t.Dir, at, t.host(c.Cert), t.host(key), err)
			}
		case certHave && keyIn:
			return fmt.Errorf("config tree %s: %s: the key %s is missing while its certificate %s is there: add the key, or remove the certificate too and loadcheck generates a self-signed pair", t.Dir, at, t.host(key), t.host(c.Cert))
		case keyHave && certIn && c.Key != "":
			return fmt.Errorf("config tree %s: %s: the certificate %s is missing while its key %s is there: add the certificate, or remove the key too and loadcheck generates a self-signed pair", t.Dir, at, t.host(c.Cert), t.host(key))
		}
	}
	return nil
}

// CertNeed is a certificate (and key) to generate when the container
// has neither: paths in the container, the names to make it for.
type CertNeed struct {
	Cert, Key string // Key "": the key goes into Cert's file
	Names     []string
	Line      Line
	// Kind is the key's kind when it replaces a host key of that kind
	// (--no-host-keys); "" leaves it to --tls-key.
	Kind string
}

// certNeeds are the tree's certificates that are not in the tree: those
// named in it and missing, and those outside it (the image may have
// them). With the paths where they are when the tree runs at root.
func (t *Tree) certNeeds(root string) []CertNeed {
	var out []CertNeed
	at := func(p string) string {
		if rel, ok := t.rel(p); ok {
			return path.Join(root, rel)
		}
		return p
	}
	for _, c := range t.Certs() {
		if _, _, have := t.file(c.Cert); have {
			continue
		}
		n := CertNeed{Cert: at(c.Cert), Names: c.Names, Line: c.Line, Kind: t.HostKeyKinds[cmp.Or(c.Key, c.Cert)]}
		if c.Key != "" {
			n.Key = at(c.Key)
		}
		out = append(out, n)
	}
	return out
}

// TreePlan is where a config tree listens in a run and where its load
// goes.
type TreePlan struct {
	Listen    map[string]string // by the tree's port: the address it listens on here
	LoadPort  int               // where the load goes: the SSL vhost's port with TLS, else the first plain one
	PlainPort int               // the first plain-HTTP port (0: none)
	HTTPS     bool              // the load speaks TLS to the tree's SSL vhost
	VHost     string            // the Host header the load sends
}

// Plan places each of the tree's Listen ports where addr puts it (the
// address to listen on, and the port that is here), and chooses the port
// and vhost of the load: the tree's SSL vhost with tls, else its first
// plain-HTTP port; the vhost asked for (Tree.Host), else the SSL vhost's
// name, else the first named vhost.
func (t *Tree) Plan(tls bool, addr func(port string) (string, int, error)) (TreePlan, error) {
	plan := TreePlan{Listen: map[string]string{}, HTTPS: tls}
	var ssl Vhost
	if tls {
		var err error
		if ssl, err = t.SSLVhost(t.Host); err != nil {
			return plan, err
		}
	}
	for _, l := range t.Listens() {
		if _, done := plan.Listen[l.Port]; done {
			continue
		}
		a, port, err := addr(l.Port)
		if err != nil {
			return plan, err
		}
		plan.Listen[l.Port] = a
		want := !l.TLS
		if want && plan.PlainPort == 0 {
			plan.PlainPort = port
		}
		if tls {
			want = l.Port == ssl.Port() || (ssl.Port() == "" && l.TLS)
		}
		if plan.LoadPort == 0 && want {
			plan.LoadPort = port
		}
	}
	switch {
	case plan.LoadPort == 0 && tls:
		return plan, fmt.Errorf("config tree %s: no Listen line for the port of its SSL vhost %s (%s:%d): add Listen %s", t.Dir, strings.Join(ssl.Addrs, " "), ssl.File, ssl.N, ssl.Port())
	case plan.LoadPort == 0:
		return plan, fmt.Errorf("config tree %s: no plain HTTP Listen line (Listen 80 in ports.conf or httpd.conf): loadcheck loads plain HTTP on it (or give --tls to load its SSL vhost)", t.Dir)
	}
	switch plan.VHost = t.Host; {
	case plan.VHost != "":
	case tls:
		plan.VHost = ssl.ServerName
	default:
		plan.VHost = t.DefaultHost()
	}
	return plan, nil
}
