package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/loadcheck/loadcheck/bench"
)

// A run folder holds, for a run with id RUN-ID:
//
//	RUN-ID/result.json          the whole result (schema loadcheck.result/v1)
//	RUN-ID/CONFIG.hlog          CONFIG's latency histogram, HdrHistogram log format
//	RUN-ID/CONFIG.httpd.conf    the httpd.conf CONFIG ran with
//	RUN-ID/CONFIG.series.csv    one row per second: the client's view and httpd's
//	RUN-ID/CONFIG.rK.*          the same for repeat K of a config run several
//	                            times; CONFIG.* is then its median repeat's
//
// Every file is written atomically; result.json is rewritten after each
// config, so a run that is interrupted or killed keeps what it measured,
// marked "complete": false.

// ResultFile is the name of the result inside a run folder.
const ResultFile = "result.json"

// CreateRunDir makes parent/runID, refusing one that exists: a stored run
// is never overwritten.
func CreateRunDir(parent, runID string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("results folder: %w", err)
	}
	dir := filepath.Join(parent, runID)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("run folder %s already exists; a stored run is never overwritten: choose another --run-id", dir)
		}
		return "", fmt.Errorf("run folder: %w", err)
	}
	return dir, nil
}

// Save writes f and each config's files into the run folder dir. Files of
// configs saved before are written again only when they are missing.
func (f *File) Save(dir string) error {
	for _, r := range f.Runs {
		// A config run several times: each repeat's files, and the median
		// repeat's under the config's own name, rewritten as the median
		// may change with each repeat.
		for _, rep := range r.Repeats {
			if err := rep.saveFiles(dir, false); err != nil {
				return err
			}
		}
		if err := r.saveFiles(dir, len(r.Repeats) > 0); err != nil {
			return err
		}
	}
	return f.WriteJSON(filepath.Join(dir, ResultFile))
}

// FileBase is the name, without extension, of r's files in a run folder:
// CONFIG, or CONFIG.rK for its repeat K.
func (r Run) FileBase() string {
	if r.Repeat > 0 {
		return fmt.Sprintf("%s.r%d", r.Config, r.Repeat)
	}
	return r.Config
}

func (r Run) saveFiles(dir string, rewrite bool) error {
	base := filepath.Join(dir, r.FileBase())
	if _, err := os.Stat(base + ".series.csv"); err == nil && !rewrite {
		return nil // saved with an earlier config
	}
	if r.Hist != nil {
		var b bytes.Buffer
		if err := WriteHLog(&b, r); err != nil {
			return fmt.Errorf("%s.hlog: %w", base, err)
		}
		if err := WriteFileAtomic(base+".hlog", b.Bytes()); err != nil {
			return err
		}
	}
	if r.HTTPDConf != "" {
		if err := WriteFileAtomic(base+".httpd.conf", []byte(r.HTTPDConf)); err != nil {
			return err
		}
	}
	return WriteFileAtomic(base+".series.csv", r.seriesCSV())
}

// WriteHLog writes r's latency histogram (microseconds, corrected for
// coordinated omission) as one interval covering the measured window.
// HdrHistogram's HistogramLogProcessor reads it; pass
// -outputValueUnitRatio 1000 to get milliseconds.
func WriteHLog(w io.Writer, r Run) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	h := hdrhistogram.Import(r.Hist.Export())
	h.SetTag(r.Config)
	start := r.LoadStartedAt.UnixMilli() + int64(r.MeasureStartS*1000)
	h.SetStartTimeMs(start)
	h.SetEndTimeMs(start + int64(r.MeasuredS*1000))
	lw.SetBaseTime(r.LoadStartedAt.UnixMilli())
	for _, err := range []error{
		lw.OutputLogFormatVersion(),
		lw.OutputComment(fmt.Sprintf("[loadcheck: config %s, latency in microseconds from each request's intended send time; interval = the measured window]", r.Config)),
		lw.OutputStartTime(r.LoadStartedAt.UnixMilli()),
		lw.OutputBaseTime(r.LoadStartedAt.UnixMilli()),
		lw.OutputLegend(),
		lw.OutputIntervalHistogram(h),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadHLog reads every interval of an .hlog file and returns their sum.
func ReadHLog(path string) (*hdrhistogram.Histogram, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lr := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data))
	var sum *hdrhistogram.Histogram
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("%s: not an HdrHistogram log: %w", path, err)
		}
		if h == nil {
			break
		}
		if sum == nil {
			sum = bench.NewHistogram()
		}
		sum.Merge(h)
	}
	if sum == nil {
		return nil, fmt.Errorf("%s: no histogram in it", path)
	}
	return sum, nil
}

func (r Run) seriesCSV() []byte {
	var b strings.Builder
	b.WriteString("second,phase,open,ok,late,reconnects,errors,p99_ms,busy_workers,idle_workers,processes,conns_total,memory_mb,cpu_seconds,accept_queue\n")
	server := map[int]ServerPoint{}
	if r.Server != nil {
		for _, p := range r.Server.Series {
			server[int(math.Round(p.T))] = p
		}
	}
	for _, p := range r.Series {
		var errs int64
		for _, n := range p.Errors {
			errs += n
		}
		fmt.Fprintf(&b, "%d,%s,%d,%d,%d,%d,%d,%s", p.Second, p.Phase, p.Open, p.OK, p.Late, p.Reconnects, errs, csvNum(float64(p.P99US)/1000))
		if s, ok := server[p.Second]; ok {
			fmt.Fprintf(&b, ",%d,%d,%d,%d,%s,%s,%d\n", s.BusyWorkers, s.IdleWorkers, s.Processes, s.ConnsTotal, csvNum(s.MemoryMB), csvNum(s.CPUSeconds), s.AcceptQueue)
		} else {
			b.WriteString(",,,,,,,\n")
		}
	}
	return []byte(b.String())
}

func csvNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// ReadRun reads a stored run: a run folder, or a result JSON file.
func ReadRun(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	file := path
	if st.IsDir() {
		file = filepath.Join(path, ResultFile)
	}
	f, err := ReadJSON(file)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		for i := range f.Runs {
			runs := []*Run{&f.Runs[i]}
			for k := range f.Runs[i].Repeats {
				runs = append(runs, &f.Runs[i].Repeats[k])
			}
			for _, r := range runs {
				hl := filepath.Join(path, r.FileBase()+".hlog")
				if _, err := os.Stat(hl); err != nil {
					continue // the config was never measured
				}
				if r.Hist, err = ReadHLog(hl); err != nil {
					return nil, err
				}
			}
		}
	}
	return f, nil
}

// ReadJSON reads a result file, refusing other schemas and saying where a
// damaged file goes wrong.
func ReadJSON(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseJSON(path, data)
}

// ParseJSON parses a result file's bytes; path names it in errors.
func ParseJSON(path string, data []byte) (*File, error) {
	var probe struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: not a loadcheck result (damaged or cut short?): %s", path, JSONWhere(data, err))
	}
	if probe.Schema != Schema {
		if !strings.HasPrefix(probe.Schema, "loadcheck.result/") {
			return nil, fmt.Errorf("%s: not a loadcheck result: schema %q, want %q", path, probe.Schema, Schema)
		}
		return nil, fmt.Errorf("%s: schema %q, but this loadcheck (%s) reads %q; use the loadcheck that wrote it", path, probe.Schema, Schema, Schema)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: not a loadcheck result: %s", path, JSONWhere(data, err))
	}
	return &f, nil
}

// JSONWhere adds the line and column to a JSON error.
func JSONWhere(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}
