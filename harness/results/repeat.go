package results

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/peak"
)

// Figure names, spelled as summary.csv's columns, so reports, claims and
// comparisons name a figure the way the published files do.
const (
	FigPeakRPS   = "peak_rps"
	FigP50       = "p50_ms"
	FigP95       = "p95_ms"
	FigP99       = "p99_ms"
	FigP999      = "p999_ms"
	FigMax       = "max_ms"
	FigOver10ms  = "over_10ms"
	FigSuccess   = "success"
	FigCPUPct    = "cpu_pct"
	FigRSSMeanMB = "rss_mean_mb"
	FigRSSPeakMB = "rss_peak_mb"
	FigVegetaP95 = "vegeta_p95_ms"
	FigLoaderCPU = "loader_cpu_pct"
	// The target's memory during the fixed-rate run alone (rss_peak_mb is
	// the whole run's).
	FigRSSFixedMeanMB = "rss_fixed_mean_mb"
	FigRSSFixedPeakMB = "rss_fixed_peak_mb"
	FigPSSFixedMeanMB = "pss_fixed_mean_mb"
	// The fixed run's tail over its median, and the runtime's own GC
	// figures (Fixed.GC).
	FigP999OverP50     = "p999_over_p50"
	FigGCCollections   = "gc_collections"
	FigGCPauseP99      = "gc_pause_p99_ms"
	FigGCPauseMax      = "gc_pause_max_ms"
	FigGCLargestProcGC = "gc_largest_process_ms"
	// A database scenario's: its database's CPU (% of its own budget) and
	// RSS during the fixed run, and the target's and the database's CPU at
	// the peak (peak.Result.AtPeak).
	FigDBCPUPct       = "db_cpu_pct"
	FigDBRSSMeanMB    = "db_rss_mean_mb"
	FigDBPSSMeanMB    = "db_pss_mean_mb"
	FigCPUAtPeakPct   = "cpu_at_peak_pct"
	FigDBCPUAtPeakPct = "db_cpu_at_peak_pct"
	// A connection-scale run's figures (Target.Hold).
	FigMaxConnections = "max_connections"
	FigRSSPerConnKB   = "rss_per_conn_kb"
	FigP99AtMaxMS     = "p99_at_max_ms"
	// FigReleaseMB is the size of the target's release: a property of its
	// build, not of a repetition.
	FigReleaseMB = "release_mb"
)

// SpreadFigures are the figures whose spread over repetitions is reported
// (summary.md, spread.csv): the four the article publishes.
var SpreadFigures = []string{FigPeakRPS, FigP95, FigCPUPct, FigRSSPeakMB}

// figureOf reads one figure of one repetition; false when that repetition
// did not measure it (a failed step, a skipped target).
func figureOf(r Repeat, name string) (float64, bool) {
	if name == FigPeakRPS {
		if r.Peak == nil {
			return 0, false
		}
		return r.Peak.Peak, true
	}
	if name == FigRSSPeakMB {
		return r.RSSPeakMB, r.RSSPeakMB > 0
	}
	if name == FigCPUAtPeakPct || name == FigDBCPUAtPeakPct {
		return atPeak(r.Peak, name)
	}
	if h := r.Hold; h != nil {
		switch name {
		case FigMaxConnections:
			return float64(h.MaxConnections), len(h.Steps) > 0
		case FigRSSPerConnKB:
			return h.RSSPerConnKB, h.RSSPerConnKB > 0
		case FigP99AtMaxMS:
			return h.P99AtMaxMS, h.MaxConnections > 0
		}
	}
	f := r.Fixed
	if f == nil {
		return 0, false
	}
	s := f.Step
	switch name {
	case FigP50:
		return s.Corrected.P50, true
	case FigP95:
		return s.Corrected.P95, true
	case FigP99:
		return s.Corrected.P99, true
	case FigP999:
		return s.Corrected.P999, true
	case FigMax:
		return s.Corrected.Max, true
	case FigOver10ms:
		return float64(s.Over10ms), true
	case FigSuccess:
		return s.Success, true
	case FigCPUPct:
		return f.CPUPct, true
	case FigRSSMeanMB, FigRSSFixedMeanMB:
		return f.Sample.RSSMeanMB, true
	case FigRSSFixedPeakMB:
		return f.Sample.RSSPeakMB, true
	case FigPSSFixedMeanMB:
		return f.Sample.PSSMeanMB, f.Sample.PSSMeanMB > 0
	case FigVegetaP95:
		return s.Vegeta.P95, true
	case FigLoaderCPU:
		return 100 * f.LoaderCPU, true
	case FigP999OverP50:
		return s.Corrected.P999 / s.Corrected.P50, s.Corrected.P50 > 0
	case FigDBCPUPct:
		return 100 * f.DatabaseCPU, f.Database != nil
	case FigDBRSSMeanMB:
		if f.Database == nil {
			return 0, false
		}
		return f.Database.RSSMeanMB, true
	case FigDBPSSMeanMB:
		if f.Database == nil {
			return 0, false
		}
		return f.Database.PSSMeanMB, f.Database.PSSMeanMB > 0
	}
	return gcFigure(f.GC, name)
}

// atPeak reads the target's or its database's CPU at the peak.
func atPeak(p *peak.Result, name string) (float64, bool) {
	var s *peak.Step
	if p != nil {
		s = p.AtPeak()
	}
	switch {
	case s == nil:
		return 0, false
	case name == FigCPUAtPeakPct:
		return 100 * s.TargetCPU, s.TargetCPU >= 0
	default:
		return 100 * s.DatabaseCPU, s.Database != nil
	}
}

// gcFigure reads a figure of the runtime's GC report; false where the
// runtime has no such figure (Rust has no collector; the BEAM has no pause
// that stops every process).
func gcFigure(g *contract.GCStats, name string) (float64, bool) {
	if g == nil {
		return 0, false
	}
	var v *float64
	switch name {
	case FigGCCollections:
		if g.Collections == nil {
			return 0, false
		}
		return float64(*g.Collections), true
	case FigGCPauseP99:
		v = g.PauseP99MS
	case FigGCPauseMax:
		v = g.PauseMaxMS
	case FigGCLargestProcGC:
		v = g.LargestProcessGCMS
	}
	if v == nil {
		return 0, false
	}
	return *v, true
}

// Repetitions returns the target's measurements: its repeats, or for a run
// made without -repeat its top-level record as the only repetition, so
// readers handle both kinds of results.json the same way.
func (t Target) Repetitions() []Repeat {
	if len(t.Repeats) > 0 {
		return t.Repeats
	}
	if t.Fixed == nil && t.Peak == nil && t.Hold == nil {
		return nil
	}
	return []Repeat{{Fixed: t.Fixed, Peak: t.Peak, Hold: t.Hold, RSSPeakMB: t.RSSPeakMB, Start: t.Start, End: t.End}}
}

// Values returns a figure's value in every repetition that measured it.
func (t Target) Values(name string) []float64 {
	if name == FigReleaseMB {
		if t.ReleaseMB > 0 {
			return []float64{t.ReleaseMB}
		}
		return nil
	}
	var out []float64
	for _, r := range t.Repetitions() {
		if v, ok := figureOf(r, name); ok {
			out = append(out, v)
		}
	}
	return out
}

// Spread summarises one figure over repetitions. The median is an observed
// value (the lower middle one for an even count), so the median figure is
// always one a repetition really measured. The confidence interval is the
// mean's, from Student's t: with 3 to 5 repetitions a distribution-free
// interval for the median does not exist at 95 %.
type Spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	// CILo and CIHi bound the 95 % confidence interval of the mean; both are
	// the single value when N < 2.
	CILo float64 `json:"ci95_lo"`
	CIHi float64 `json:"ci95_hi"`
}

// NewSpread computes the spread of xs (gonum/stat); the zero Spread when xs
// is empty.
func NewSpread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s := Spread{N: len(xs), Median: stat.Quantile(0.5, stat.Empirical, sorted, nil), Min: sorted[0], Max: sorted[len(sorted)-1]}
	if s.N < 2 {
		s.Mean, s.CILo, s.CIHi = sorted[0], sorted[0], sorted[0]
		return s
	}
	s.Mean, s.StdDev = stat.MeanStdDev(xs, nil)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(s.N - 1)}.Quantile(0.975)
	half := t * stat.StdErr(s.StdDev, float64(s.N))
	s.CILo, s.CIHi = s.Mean-half, s.Mean+half
	return s
}

// Spread is the spread of one figure over the target's repetitions.
func (t Target) Spread(name string) Spread { return NewSpread(t.Values(name)) }

// medianIndex is the index in rs of the repetition whose figure is the
// median; -1 when none measured it.
func medianIndex(rs []Repeat, name string) int {
	med := NewSpread(valuesOf(rs, name)).Median
	for i, r := range rs {
		if v, ok := figureOf(r, name); ok && v == med {
			return i
		}
	}
	return -1
}

func valuesOf(rs []Repeat, name string) []float64 {
	var out []float64
	for _, r := range rs {
		if v, ok := figureOf(r, name); ok {
			out = append(out, v)
		}
	}
	return out
}

// SetMedians points the top-level Fixed and Peak at the median repetitions:
// Fixed at the one whose fixed-run p95 is the median, Peak at the one whose
// peak is. Each stays one real, self-consistent measurement, so every
// existing reader of results.json keeps working on repeated runs.
func (t *Target) SetMedians() {
	if len(t.Repeats) == 0 {
		return
	}
	if i := medianIndex(t.Repeats, FigP95); i >= 0 {
		t.Fixed = t.Repeats[i].Fixed
	}
	if i := medianIndex(t.Repeats, FigPeakRPS); i >= 0 {
		t.Peak = t.Repeats[i].Peak
	}
}

// LoaderBoundRepeats counts the repetitions whose peak was loader-bound.
func (t Target) LoaderBoundRepeats() int {
	n := 0
	for _, r := range t.Repetitions() {
		if r.Peak != nil && r.Peak.Bound == peak.BoundLoader {
			n++
		}
	}
	return n
}

// SpreadCSVHeader is spread.csv's header: one row per target and figure.
var SpreadCSVHeader = []string{"target", "figure", "n", "median", "min", "max", "mean", "stddev", "ci95_lo", "ci95_hi"}

// WriteSpreadCSV writes spread.csv: the median and spread over repetitions
// of every measured target's SpreadFigures (n = 1 for a single run).
func WriteSpreadCSV(w io.Writer, run *Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SpreadCSVHeader); err != nil {
		return err
	}
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	for _, t := range run.Targets {
		for _, fig := range SpreadFigures {
			s := t.Spread(fig)
			if s.N == 0 {
				continue
			}
			rec := []string{t.Name, fig, strconv.Itoa(s.N), f(s.Median), f(s.Min), f(s.Max), f(s.Mean), f(s.StdDev), f(s.CILo), f(s.CIHi)}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write spread row %s %s: %w", t.Name, fig, err)
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
