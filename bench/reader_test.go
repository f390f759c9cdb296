package bench

import (
	"strings"
	"testing"
)

// quickSeeds are responses quickResponse takes or must leave to fasthttp.
var quickSeeds = []string{
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 11:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy!",
	"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nX-Odd: a\x01b\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
	"garbage\r\n\r\n",
}

// Every response quickResponse takes gets fasthttp's answer: the same
// status, body length, Connection: close and bytes used, or the same need
// for more bytes.
func FuzzQuickResponse(f *testing.F) {
	for _, s := range quickSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkQuick(t, data)
	})
}

func checkQuick(t *testing.T, data []byte) bool {
	t.Helper()
	status, body, closing, used, more, ok := quickResponse(data)
	if !ok {
		return false
	}
	var rr responseReader
	fs, fb, fc, fu, fm, err := rr.parseFasthttp(data, errWouldBlock)
	switch {
	case more && !fm:
		t.Fatalf("%q: quick wants more bytes; fasthttp read status %d body %d used %d err %v", data, fs, fb, fu, err)
	case more:
	case err != nil || fm:
		t.Fatalf("%q: quick read status %d body %d; fasthttp: more %v err %v", data, status, body, fm, err)
	case fs != status || fb != body || fc != closing || fu != used:
		t.Fatalf("%q: quick status %d body %d close %v used %d; fasthttp %d %d %v %d", data, status, body, closing, used, fs, fb, fc, fu)
	}
	return true
}

func TestQuickResponse(t *testing.T) {
	took := 0
	for _, s := range quickSeeds {
		if checkQuick(t, []byte(s)) {
			took++
		}
	}
	// The first four are the plain kind it is for; the rest go to fasthttp.
	if took != 4 {
		t.Errorf("quick took %d of the seeds, want 4", took)
	}
	_, _, closing, used, more, ok := quickResponse([]byte(quickSeeds[2]))
	if !ok || more || !closing || used != len(quickSeeds[2]) {
		t.Errorf("Connection: close read as closing %v used %d more %v ok %v", closing, used, more, ok)
	}
	if _, _, _, used, _, _ := quickResponse([]byte(quickSeeds[1])); used != strings.Index(quickSeeds[1], "abc")+3 {
		t.Errorf("two responses: used %d, want the first only", used)
	}
}
