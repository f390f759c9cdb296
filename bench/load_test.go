package bench

import (
	"errors"
	"strings"
	"testing"
)

// An HTTP/2 protocol over the wrong transport is a ProtocolError, whose
// wording names each protocol as the caller does (the CLI: its flags).
func TestCheckEngineProtocol(t *testing.T) {
	flag := func(p string) string { return map[string]string{ProtoH2: "--http2", ProtoH2C: "--h2c"}[p] }
	for _, tc := range []struct {
		proto       string
		https       bool
		lib, byFlag string // "" for no error
	}{
		{ProtoH2, false, "protocol h2 is HTTP/2 over TLS: it needs an https:// target (--tls for the httpd loadcheck starts); over plain TCP use protocol h2c",
			"--http2 is HTTP/2 over TLS: it needs an https:// target (--tls for the httpd loadcheck starts); over plain TCP use --h2c"},
		{ProtoH2C, true, "protocol h2c is HTTP/2 over plain TCP: it needs an http:// target; over TLS use protocol h2",
			"--h2c is HTTP/2 over plain TCP: it needs an http:// target; over TLS use --http2"},
		{ProtoH2, true, "", ""},
		{ProtoH2C, false, "", ""},
		{"", true, "", ""},
	} {
		err := Load{Protocol: tc.proto}.CheckEngine(tc.https)
		var pe *ProtocolError
		switch {
		case tc.lib == "" && err != nil:
			t.Errorf("%q https=%v: %v, want none", tc.proto, tc.https, err)
		case tc.lib == "":
		case !errors.As(err, &pe):
			t.Errorf("%q https=%v: %v, want a *ProtocolError", tc.proto, tc.https, err)
		case err.Error() != tc.lib || pe.Describe(flag) != tc.byFlag:
			t.Errorf("%q https=%v:\n got %q / %q\nwant %q / %q", tc.proto, tc.https, err, pe.Describe(flag), tc.lib, tc.byFlag)
		}
	}
	if err := (Load{Engine: EngineLoop, Protocol: ProtoH2}).CheckEngine(true); err == nil || !strings.HasPrefix(err.Error(), "engine "+EngineLoop+" does not drive") {
		t.Errorf("engine loop over HTTP/2: %v", err)
	}
}
