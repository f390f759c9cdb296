package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/loadcheck/loadcheck/apache"
)

// Overrides are changes made to a scenario after it was written: one
// layer over it, as k6 layers its options (defaults, file, environment,
// flags), each applied by Apply. loadcheck run's flags become one; a
// library caller builds its own. The zero value changes nothing.
//
// Apply's errors are *FieldError, Field naming the override as the CLI's
// flag does ("set", "tls", "host", ...), so that the same refusal reaches
// every caller.
type Overrides struct {
	// Add are the user's own configs (a config file or a config tree),
	// after the scenario's (flags --config-file, --config-dir).
	Add []apache.Config
	// Serve are files served beside the test page (--file).
	Serve []File
	// DocRoot serves this host folder as every DocumentRoot, read-only,
	// instead of the test page (--docroot).
	DocRoot string
	// Backend replaces the workload's slow backend (--backend);
	// BackendSize, without it, only the scenario backend's answer size
	// (--backend-size).
	Backend     *Backend
	BackendSize *ByteSize
	// Set are directives set in every config but config files (--set);
	// FPM the php-fpm pool settings of the configs that run php-fpm
	// (--fpm).
	Set, FPM []apache.Directive
	// TLS makes presets and config trees serve HTTPS, with a key of this
	// kind (apache.TLSKeyECDSA, apache.TLSKeyRSA); "" changes nothing
	// (--tls, --tls-key).
	TLS string
	// Host chooses the vhost of every config tree (--host).
	Host string
	// NoHostKeys leaves out the certificates and private keys config
	// trees name outside themselves: loadcheck generates the pairs
	// instead of copying a host's key into a container (--no-host-keys).
	NoHostKeys bool
	// MemoryBytes and CPUs limit every config's server (--memory,
	// --cpus); nil changes nothing.
	MemoryBytes *int64
	CPUs        *float64
}

// Apply returns sc with o applied, or the first override sc cannot take.
func (o Overrides) Apply(sc Scenario) (Scenario, error) {
	sc.Configs = append([]apache.Config(nil), sc.Configs...)
	for _, c := range o.Add {
		for _, have := range sc.Configs {
			if have.Name == c.Name {
				return sc, &FieldError{Field: userField(c), Msg: fmt.Sprintf("%s=%s: a config called %q is already in the run; choose another name", c.Name, userPath(c), c.Name)}
			}
		}
		sc.Configs = append(sc.Configs, c)
	}
	if err := o.applyWorkload(&sc); err != nil {
		return sc, err
	}
	if o.TLS != "" {
		if err := apache.CheckTLSKey(o.TLS); err != nil {
			return sc, &FieldError{Field: "tls-key", Msg: err.Error()}
		}
	}
	trees, fpmTaken := 0, false
	for i := range sc.Configs {
		c := &sc.Configs[i]
		if c.File != "" && len(o.Set) > 0 {
			return sc, &FieldError{Field: "set", Msg: fmt.Sprintf("cannot change config %s, your own config file (%s): edit the file instead, or drop --set", c.Name, c.File)}
		}
		if len(o.Set) > 0 {
			c.Directives = slices.Clone(c.Directives) // sc's own stay as they were
		}
		for _, d := range o.Set {
			c.Set(d)
		}
		if c.PHP != nil && sc.Workload.DocRoot != "" {
			return sc, &FieldError{Field: "docroot", Msg: fmt.Sprintf("config %s serves loadcheck's PHP page (%s): --docroot applies to the other configs; run it apart", c.Name, c.PHP.Mode)}
		}
		if c.PHP != nil && c.PHP.Mode == apache.PHPFPM {
			for _, d := range o.FPM {
				if err := c.SetPool(d); err != nil {
					return sc, &FieldError{Field: "fpm", Msg: err.Error()}
				}
			}
			fpmTaken = true
		}
		if o.TLS != "" {
			if c.File != "" {
				return sc, &FieldError{Field: "tls", Msg: fmt.Sprintf("config %s is your own config file (%s); TLS is served for presets and config trees (on their own SSL vhost): give the tree (--config-dir), or load your server with --target https://…", c.Name, c.File)}
			}
			c.TLS = o.TLS
		}
		if c.Tree != nil {
			trees++
			if err := o.applyTree(c); err != nil {
				return sc, err
			}
		}
		if o.MemoryBytes != nil {
			c.MemoryBytes = *o.MemoryBytes
		}
		if o.CPUs != nil {
			c.CPUs = *o.CPUs
		}
	}
	if len(o.FPM) > 0 && !fpmTaken {
		return sc, &FieldError{Field: "fpm", Msg: "sets the php-fpm pool of configs that run php-fpm: add the event-phpfpm preset (--configs event-phpfpm)"}
	}
	if o.Host != "" && trees == 0 {
		return sc, &FieldError{Field: "host", Msg: "chooses a vhost of a config tree: give one (--config-dir, or dir: in the scenario)"}
	}
	return sc, nil
}

// userField is the override that adds a user's config c.
func userField(c apache.Config) string {
	if c.Tree != nil {
		return "config-dir"
	}
	return "config-file"
}

// userPath is where a user's config c was read from.
func userPath(c apache.Config) string {
	if c.Tree != nil {
		return c.Tree.Dir
	}
	return c.File
}

// applyWorkload adds the served files and the backend to sc's workload,
// and checks it as a whole.
func (o Overrides) applyWorkload(sc *Scenario) error {
	sc.Workload.Files = append(append([]File(nil), sc.Workload.Files...), o.Serve...)
	if o.DocRoot != "" {
		sc.Workload.DocRoot = o.DocRoot
	}
	switch {
	case o.Backend != nil:
		sc.Workload.Backend = *o.Backend
	case o.BackendSize != nil && !sc.Workload.Backend.Set():
		return &FieldError{Field: "backend-size", Msg: "needs a backend (--backend, or workload.backend in the scenario)"}
	case o.BackendSize != nil:
		sc.Workload.Backend.Size = *o.BackendSize
	}
	var fe *FieldError
	if err := sc.Workload.Validate(); errors.As(err, &fe) {
		field := "file"
		if strings.HasPrefix(fe.Field, "backend") || fe.Field == "docroot" {
			field = strings.SplitN(fe.Field, ".", 2)[0]
		}
		return &FieldError{Field: field, Msg: fe.Msg}
	} else if err != nil {
		return err
	}
	if err := sc.Workload.CheckSlowWindow(sc.Load); err != nil {
		return &FieldError{Field: "slow-clients", Msg: err.Error()}
	}
	return nil
}

// applyTree gives config tree c this run's directives and vhost, and
// checks that a TLS load has an SSL vhost to go to.
func (o Overrides) applyTree(c *apache.Config) error {
	t := *c.Tree // this run's overrides only
	if o.NoHostKeys {
		t = *t.WithoutHostKeys()
	}
	t.Set = append(append([]apache.Directive(nil), t.Set...), o.Set...)
	if o.Host != "" {
		if !t.HasVhost(o.Host) {
			return &FieldError{Field: "host", Msg: fmt.Sprintf("%s: config tree %s (%s) has no vhost with that ServerName or ServerAlias", o.Host, t.Dir, c.Name)}
		}
		t.Host = o.Host
	}
	if c.TLS != "" {
		if _, err := t.SSLVhost(t.Host); err != nil {
			return &FieldError{Field: "tls", Msg: err.Error()}
		}
	}
	c.Tree = &t
	return nil
}
