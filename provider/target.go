package provider

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/observe"
)

// Target is a server that is already running: loadcheck loads it and never
// starts or stops it. With StatusURL (mod_status's ?auto page) the sampler
// reads it during the load, so an httpd you run yourself gets busy workers,
// connections, scoreboard and Total Accesses in the result.
type Target struct {
	URL       string
	StatusURL string
	// AllowRemote allows a target outside loopback and private addresses:
	// loadcheck must not be an accidental flood cannon.
	AllowRemote bool
}

// Describe implements Provider: the URL and the addresses its host
// resolves to now.
func (t Target) Describe() Description {
	d := Description{Name: "target", Target: t.URL}
	if u, err := url.Parse(t.URL); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if addrs, err := net.DefaultResolver.LookupHost(ctx, u.Hostname()); err == nil {
			d.Target += " (" + strings.Join(addrs, ", ") + ")"
		}
	}
	return d
}

// Check refuses, before any load, URLs loadcheck cannot load: not
// http://, a host that does not resolve, an address outside loopback and
// private ranges without AllowRemote, and a status URL that does not answer
// as mod_status's ?auto page.
func (t Target) Check(ctx context.Context) error {
	for _, u := range []struct{ flag, v string }{{"--target", t.URL}, {"--status-url", t.StatusURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || p.Host == "" || (p.Scheme != "http" && (p.Scheme != "https" || u.flag != "--target")) {
			return fmt.Errorf("%s %q: want an absolute http:// URL such as http://127.0.0.1:8080/ (--target may be https://, --status-url may not be https yet)", u.flag, u.v)
		}
		if err := t.checkHost(ctx, u.flag, p.Hostname()); err != nil {
			return err
		}
	}
	if t.StatusURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := observe.FetchStatus(ctx, observe.StatusClient, t.StatusURL); err != nil {
		return fmt.Errorf("--status-url %s: %w (enable mod_status with ExtendedStatus On, and give the ?auto URL, e.g. http://127.0.0.1:8080/server-status?auto)", t.StatusURL, err)
	}
	return nil
}

// checkHost resolves host and refuses addresses outside loopback and
// private ranges unless AllowRemote.
func (t Target) checkHost(ctx context.Context, flag, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("%s: host %q does not resolve: %w", flag, host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() && !a.IP.IsPrivate() && !t.AllowRemote {
			return fmt.Errorf("%s: %s is %s, outside loopback and private addresses: load only servers you own, and say so with --allow-remote", flag, host, a.IP)
		}
	}
	return nil
}

// Start implements Provider: it checks the URLs and reads the version
// mod_status reports.
func (t Target) Start(ctx context.Context, _ apache.Config, _ StartOptions) (Server, error) {
	if err := t.Check(ctx); err != nil {
		return nil, err
	}
	ep := Endpoint{URL: t.URL, Sources: observe.Sources{StatusURL: t.StatusURL}, External: true}
	if t.StatusURL != "" {
		if st, err := observe.FetchStatus(ctx, observe.StatusClient, t.StatusURL); err == nil {
			ep.Version = st.ServerVersion
		}
	}
	return running{ep}, nil
}

// running is a server loadcheck did not start and does not stop.
type running struct{ ep Endpoint }

func (r running) Endpoint() Endpoint { return r.ep }
func (r running) Stop() error        { return nil }
