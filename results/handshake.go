package results

import (
	"fmt"
	"math"
)

// EstimateHandshakeCPU sets r.TLS's ServerCPUPerHandshakeUS: httpd's CPU
// per TLS handshake, estimated from the ramp, when nearly every handshake
// of the run happens:
//
//	(httpd's CPU until the first mod_status reading a second after the
//	 ramp - the requests answered by then x the window's CPU per request)
//	/ the handshakes the client began by then (connections open, plus
//	  reconnects)
//
// It includes what else a new connection costs httpd (accepting it, and
// spawning the processes or threads it needs), so read it against the
// same estimate for plain HTTP. It stays 0, with How saying why, when the
// readings cannot tell: no CPU readings, no window requests, or a
// remainder that is not positive.
func (r *Run) EstimateHandshakeCPU(ramp float64) {
	if r.TLS == nil {
		return
	}
	t := r.TLS
	why := func(format string, a ...any) {
		t.ServerCPUPerHandshakeUS, t.ServerCPUHow = 0, "not estimated: "+fmt.Sprintf(format, a...)
	}
	if r.Server == nil || len(r.Server.Series) < 3 {
		why("too few mod_status readings")
		return
	}
	s := r.Server.Series
	first, at := s[0], -1
	for i, p := range s {
		if p.T >= ramp+1 {
			at = i
			break
		}
	}
	if at < 0 || first.CPUSeconds < 0 || s[at].CPUSeconds < 0 {
		why("no CPU reading after the ramp")
		return
	}
	// The window's CPU per request, from the readings inside it.
	var w0, w1 *ServerPoint
	end := r.MeasureStartS + r.MeasuredS
	for i := range s {
		if p := &s[i]; p.T >= r.MeasureStartS && p.T <= end && p.CPUSeconds >= 0 && p.TotalAccesses >= 0 {
			if w0 == nil {
				w0 = p
			}
			w1 = p
		}
	}
	if w0 == nil || w1 == w0 || w1.TotalAccesses <= w0.TotalAccesses {
		why("no requests between two readings in the window")
		return
	}
	perReq := (w1.CPUSeconds - w0.CPUSeconds) / float64(w1.TotalAccesses-w0.TotalAccesses)
	// The handshakes the client began by then.
	var open, reconnects int64
	for _, p := range r.Series {
		if p.T > s[at].T {
			break
		}
		open, reconnects = max(open, p.Open), reconnects+p.Reconnects
	}
	hs := open + reconnects
	cpu := s[at].CPUSeconds - first.CPUSeconds
	reqs := s[at].TotalAccesses - first.TotalAccesses
	rest := cpu - float64(reqs)*perReq
	if hs == 0 || rest <= 0 {
		why("%.2f s of httpd CPU in the first %.0f s, all of it explained by %d requests at %.0f µs each", cpu, s[at].T, reqs, perReq*1e6)
		return
	}
	t.ServerCPUPerHandshakeUS = math.Round(rest/float64(hs)*1e6*10) / 10
	t.ServerCPUHow = fmt.Sprintf("the first %.0f s: %.2f s of httpd CPU, less %d requests at %.0f µs each (the window's), over %d connections opened or reopened by then, a handshake each; accepting and spawning included",
		s[at].T, cpu, reqs, perReq*1e6, hs)
}
