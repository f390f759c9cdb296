package dockertest

import (
	"os"
	"testing"
)

// RequireHTTPD skips (or, in CI, fails) t unless Debian's apache2 is
// installed on this host, for the local provider's tests (`make test`
// installs it).
func RequireHTTPD(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if _, err := os.Stat("/usr/sbin/apache2"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no native httpd (/usr/sbin/apache2): install Debian's apache2 (`make httpd`): %v", err)
		}
		t.Skipf("no native httpd (/usr/sbin/apache2): %v", err)
	}
}
