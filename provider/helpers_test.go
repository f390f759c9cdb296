package provider

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// httpTestServer answers every request with body and returns its URL.
func httpTestServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/server-status?auto"
}
