package results

import (
	"strings"
	"testing"

	"github.com/loadcheck/loadcheck/bench"
)

// TestSoakOf sums a 3-minute window up minute by minute: memory growing
// 1 MB a minute is 60 MB an hour, with no spread around the line; drops
// land in their minute, processes ended in theirs; a window under 2
// minutes gets no soak summary.
func TestSoakOf(t *testing.T) {
	run := Run{Config: "w", Complete: true, MeasureStartS: 10, MeasuredS: 180, Connections: Connections{Target: 5}}
	for s := 1; s <= 191; s++ {
		p := bench.Point{Second: s, T: float64(s), OK: 5, P99US: 1000, Phase: bench.PhaseMeasure}
		if s <= 10 {
			p.Phase = bench.PhaseWarmUp
		}
		if s == 191 {
			p.Phase, p.OK = bench.PhaseDrain, 0
		}
		if s == 100 { // minute 2: seconds 70 to 130
			p.Errors, p.P99US, p.Reconnects = map[string]int64{"closed_by_server": 3}, 90000, 3
		}
		run.Series = append(run.Series, p)
	}
	run.Server = &Server{}
	for s := 5; s <= 190; s++ {
		p := ServerPoint{T: float64(s) + 0.2, MemoryMB: 100 + float64(s)/60}
		switch {
		case s >= 150:
			p.ProcessesEnded = 3
		case s >= 70:
			p.ProcessesEnded = 1
		}
		if s == 69 { // the recycled process finishing its last connections
			p.Scoreboard = map[string]int{"G": 7, "_": 3}
		}
		run.Server.Series = append(run.Server.Series, p)
	}
	sk := SoakOf(run)
	if sk == nil || len(sk.Minutes) != 3 {
		t.Fatalf("soak %+v: want 3 minutes", sk)
	}
	if sk.MemoryMBPerHour != 60 || sk.MemoryMBPerHourSE != 0 || sk.ProcessesEnded != 3 || sk.MemoryFitStartMB != 100.16 {
		t.Errorf("slope %v ± %v MB/h, %d ended: want 60 ± 0, 3", sk.MemoryMBPerHour, sk.MemoryMBPerHourSE, sk.ProcessesEnded)
	}
	m1, m2, m3 := sk.Minutes[0], sk.Minutes[1], sk.Minutes[2]
	if m1.OK != 300 || m2.DroppedTotal() != 3 || m2.WorstP99MS != 90 || m2.Reconnects != 3 || m1.ProcessesEnded != 0 || m2.ProcessesEnded != 1 || m3.ProcessesEnded != 2 || m3.OK != 300 || m1.PeakGraceful != 7 || m2.PeakGraceful != 0 {
		t.Errorf("minutes %+v", sk.Minutes)
	}
	l := strings.Join(sk.Lines(), "\n")
	if !strings.Contains(l, "soak over 3 minutes: memory") || !strings.Contains(l, "+60.00 MB an hour (±0.00, 95 %") || !strings.Contains(l, "3 requests dropped, most in minute 2 (3)") || !strings.Contains(l, "3 httpd processes ended") {
		t.Errorf("lines:\n%s", l)
	}
	run.MeasuredS = 90
	if SoakOf(run) != nil {
		t.Error("a 90 s window got a soak summary")
	}
}

// fitSlope's standard error against a hand computation: points (0,0),
// (1,1), (2,3): slope 1.5, residuals -1/6, 1/3, -1/6, so
// SE = sqrt((1/6) / 1 / 2) = 0.2887.
func TestFitSlope(t *testing.T) {
	slope, se, ok := fitSlope([]float64{0, 1, 2}, []float64{0, 1, 3})
	if !ok || slope != 1.5 || se < 0.2886 || se > 0.2888 {
		t.Errorf("slope %v se %v ok %v: want 1.5, 0.2887", slope, se, ok)
	}
	if _, _, ok := fitSlope([]float64{1, 1, 1}, []float64{1, 2, 3}); ok {
		t.Error("a fit of points at one x")
	}
}
