package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// buildRequests renders every request once with fasthttp, one per path;
// each send writes one of these byte slices as it is. heads says which
// are HEAD requests, whose answers carry no body (RFC 9110 §9.3.2).
func buildRequests(t Target, o Options) (addr string, raws [][]byte, heads []bool, err error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return "", nil, nil, fmt.Errorf("parse target URL %q: %w", t.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, nil, fmt.Errorf("target URL %q: want http://HOST:PORT/PATH or https://…", t.URL)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	paths := o.Paths
	if len(paths) == 0 {
		paths = []string{u.RequestURI()}
	}
	method := o.Method
	if method == "" {
		method = fasthttp.MethodGet
	}
	methods := make([]string, len(paths))
	if len(o.Mix) > 0 {
		paths, methods = nil, nil
		for _, e := range o.Mix {
			paths, methods = append(paths, e.Path), append(methods, e.Method)
		}
	}
	for i, p := range paths {
		m := method
		if methods[i] != "" {
			m = methods[i]
		}
		if !isToken(m) {
			return "", nil, nil, fmt.Errorf("method %q: want one token such as GET or POST", m)
		}
		req := fasthttp.AcquireRequest()
		req.Header.SetMethod(m)
		req.SetRequestURI(p)
		req.Header.SetHost(u.Host)
		req.Header.Set("User-Agent", "loadcheck")
		for _, line := range o.Headers {
			h, err := ParseHeader(line)
			if err != nil {
				fasthttp.ReleaseRequest(req)
				return "", nil, nil, err
			}
			if h.Name == "" || strings.ContainsAny(h.Name+h.Value, "\r\n") || strings.ContainsAny(h.Name, " :") {
				fasthttp.ReleaseRequest(req)
				return "", nil, nil, fmt.Errorf("header %q: want \"Name: value\" on one line", h.Name+": "+h.Value)
			}
			if strings.EqualFold(h.Name, "Host") {
				req.Header.SetHost(h.Value)
				continue
			}
			req.Header.Add(h.Name, h.Value)
		}
		if o.Body != "" {
			req.SetBodyString(o.Body)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		err := req.Write(w)
		fasthttp.ReleaseRequest(req)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			return "", nil, nil, fmt.Errorf("render request for %s: %w", p, err)
		}
		raws, heads = append(raws, buf.Bytes()), append(heads, strings.EqualFold(m, fasthttp.MethodHead))
	}
	return addr, raws, heads, nil
}

// ParseHeader parses "Name: value" as curl's -H does.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || !isToken(name) || strings.ContainsAny(value, "\r\n") {
		return Header{}, fmt.Errorf("header %q: want \"Name: value\" on one line, the name an HTTP token (letters, digits and !#$%%&'*+-.^_`|~)", s)
	}
	return Header{Name: name, Value: strings.TrimSpace(value)}, nil
}

// isToken reports whether s is an HTTP token (RFC 9110): a method or a
// header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}
