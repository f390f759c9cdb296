package containers

import (
	"cmp"
	"fmt"
	"path"
	"strings"

	"github.com/loadcheck/loadcheck/apache"
)

// certScript is sourced by the start script, when it exists, before httpd
// checks its config: it installs each generated certificate the container
// lacks.
const certScript = "/loadcheck/tls/install.sh"

// generatedMark starts the start script's line for each certificate it
// installed.
const generatedMark = "loadcheck: generated certificate "

// certFiles generates a self-signed certificate (key of kind) for each
// certificate a config tree names and does not hold, and the script that
// installs it where the tree expects it, unless the image has the
// certificate or its key there already: loadcheck never pairs a
// generated half with an existing one. roots are the generated
// certificates, for the load to trust.
func certFiles(needs []apache.CertNeed, kind string) (files map[string]string, roots []byte, err error) {
	if len(needs) == 0 {
		return nil, nil, nil
	}
	if kind == "" {
		kind = apache.TLSKeyECDSA
	}
	files = map[string]string{}
	var sh strings.Builder
	sh.WriteString("# Written by loadcheck: the config tree's certificates that neither the tree nor the image holds.\n")
	for i, n := range needs {
		cert, key, err := apache.SelfSigned(n.Names, cmp.Or(n.Kind, kind))
		if err != nil {
			return nil, nil, fmt.Errorf("make a certificate for %s: %w", n.Cert, err)
		}
		roots = append(roots, cert...)
		gen := fmt.Sprintf("/loadcheck/tls/gen/%d", i+1)
		has, install := fmt.Sprintf("[ -e %s ]", shq(n.Cert)), fmt.Sprintf("mkdir -p %s && ", shq(path.Dir(n.Cert)))
		note := fmt.Sprintf("%s for %s", n.Cert, strings.Join(n.Names, ", "))
		if n.Kind != "" {
			note += " (" + n.Kind + ", as the host's key)"
		}
		if n.Key == "" {
			files[gen+".pem"] = string(cert) + string(key)
			install += fmt.Sprintf("cp %s.pem %s", gen, shq(n.Cert))
			note += " (key in the same file)"
		} else {
			files[gen+".crt"], files[gen+".key"] = string(cert), string(key)
			has += fmt.Sprintf(" || [ -e %s ]", shq(n.Key))
			install += fmt.Sprintf("mkdir -p %s && cp %s.crt %s && cp %s.key %s && chmod 600 %s", shq(path.Dir(n.Key)), gen, shq(n.Cert), gen, shq(n.Key), shq(n.Key))
			note += ", key " + n.Key
		}
		fmt.Fprintf(&sh, "%s || { %s && echo %s; }\n", has, install, shq(generatedMark+note))
	}
	files[certScript] = sh.String()
	return files, roots, nil
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
