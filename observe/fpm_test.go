package observe

import (
	"strings"
	"testing"
)

// The JSON php-fpm 8.2 answers at pm.status_path?json.
const fpmJSON = `{"pool":"app","process manager":"dynamic","start time":1795766400,"start since":12,"accepted conn":1321,"listen queue":3,"max listen queue":7,"listen queue len":4096,"idle processes":11,"active processes":9,"total processes":20,"max active processes":9,"max children reached":2,"slow requests":0}`

func TestParseFPMStatus(t *testing.T) {
	s, err := ParseFPMStatus(strings.NewReader(fpmJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := FPMStatus{AcceptedConn: 1321, ListenQueue: 3, MaxListenQueue: 7, ListenQueueLen: 4096, IdleProcesses: 11,
		ActiveProcesses: 9, TotalProcesses: 20, MaxActiveProcesses: 9, MaxChildrenReached: 2}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	for _, bad := range []string{"", "<html>503</html>", `{"pool":"app"}`} {
		if _, err := ParseFPMStatus(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed as php-fpm's status", bad)
		}
	}
}
