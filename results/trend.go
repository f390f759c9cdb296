package results

import (
	"sort"
	"time"
)

// Trend is stored runs over time, per config: the metrics compare reads,
// each run judged against the run before it as compare judges.
type Trend struct {
	Runs    []TrendRun    `json:"runs"`
	Metrics []string      `json:"metrics"`
	Configs []TrendConfig `json:"configs"`
	// Baseline is the first run: where each line starts.
	Baseline string `json:"baseline"`
}

// TrendRun is one stored run.
type TrendRun struct {
	RunID   string    `json:"run_id"`
	At      time.Time `json:"started_at"`
	Version string    `json:"loadcheck_version"`
}

// TrendConfig is one config's points, one per run that has it.
type TrendConfig struct {
	Config string       `json:"config"`
	Points []TrendPoint `json:"points"`
}

// TrendPoint is one config in one run: its verdict, each metric's value
// (absent when the run lacks it), and whether compare finds it regressed
// from the run before, with why.
type TrendPoint struct {
	Run        int                `json:"run"` // index into Trend.Runs
	Verdict    string             `json:"verdict"`
	Values     map[string]float64 `json:"values"`
	Regression bool               `json:"regression"`
	Why        []string           `json:"why,omitempty"`
}

// HigherBetter reports whether a larger value of metric is better.
func HigherBetter(metric string) bool {
	for _, m := range compared {
		if m.name == metric {
			return m.higherBetter
		}
	}
	return false
}

// BuildTrend orders files by their start and follows each config through
// them; each run after the first is compared with the one before. A run
// given twice (a baseline copied from a night) counts once.
func BuildTrend(in []*File, n Noise) Trend {
	var files []*File
	seen := map[string]bool{}
	for _, f := range in {
		if !seen[f.RunID] {
			seen[f.RunID] = true
			files = append(files, f)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].StartedAt.Before(files[j].StartedAt) })
	var t Trend
	for _, m := range compared {
		t.Metrics = append(t.Metrics, m.name)
	}
	index := map[string]int{}
	for i, f := range files {
		t.Runs = append(t.Runs, TrendRun{RunID: f.RunID, At: f.StartedAt, Version: f.Environment.LoadcheckVersion})
		var regressed map[string]ConfigDelta
		if i > 0 {
			regressed = map[string]ConfigDelta{}
			for _, d := range Compare(files[i-1], f, n).Configs {
				regressed[d.Config] = d
			}
		}
		for _, r := range f.Runs {
			k, ok := index[r.Config]
			if !ok {
				k = len(t.Configs)
				index[r.Config] = k
				t.Configs = append(t.Configs, TrendConfig{Config: r.Config})
			}
			p := TrendPoint{Run: i, Verdict: r.Verdict, Values: map[string]float64{}}
			if r.Measured() {
				for _, m := range compared {
					if v, ok := m.get(r); ok {
						p.Values[m.name] = v
					}
				}
			}
			if d, ok := regressed[r.Config]; ok && d.Regression {
				p.Regression, p.Why = true, d.Why
			}
			t.Configs[k].Points = append(t.Configs[k].Points, p)
		}
	}
	if len(t.Runs) > 0 {
		t.Baseline = t.Runs[0].RunID
	}
	return t
}
