package results

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/benchharness/harness/harness/peak"
)

// Row is one target's line of summary.csv. The latency columns are the
// fixed-rate run's, measured from each request's intended send time.
type Row struct {
	Target    string
	Status    string
	Runtime   string
	VCPUs     float64
	PeakRPS   float64
	PeakBound string
	FixedRPS  float64
	P50, P95  float64
	P99       float64
	VegetaP95 float64
	Success   float64
	CPUPct    float64
	RSSMeanMB float64
	RSSPeakMB float64
	LoaderCPU float64
	// LoaderAddedP95 is the latency the loader added itself during the
	// fixed run (its sentinel's p95, ms); -1 when not measured.
	LoaderAddedP95 float64
	CODiverges     bool
	Reason         string
	// RSSFixedMeanMB, RSSFixedPeakMB and PSSFixedMeanMB are the target's
	// memory during the fixed-rate run alone, the article's condition;
	// PSSFixedMeanMB is -1 when PSS could not be read.
	RSSFixedMeanMB, RSSFixedPeakMB, PSSFixedMeanMB float64
	// ReleaseMB is the size of the target's release (0: none listed).
	ReleaseMB float64
	// P999, Max and Over10ms are the fixed run's tail: p99.9 and the
	// slowest request (ms, corrected) and how many took over 10 ms.
	P999, Max, Over10ms float64
	// P999OverP50 is the fixed run's p99.9 over its p50 (-1: no p50).
	// GCCollections, GCPauseP99, GCPauseMax and GCLargestProcess are the
	// runtime's own GC figures during the fixed run (Fixed.GC); -1 where
	// the runtime has no such figure or the target did not report them.
	P999OverP50                                          float64
	GCCollections, GCPauseP99, GCPauseMax, GCLargestProc float64
	// MaxConnections, RSSPerConnKB and P99AtMaxMS are a connection-scale
	// run's (Target.Hold); -1 when not measured.
	MaxConnections, RSSPerConnKB, P99AtMaxMS float64
	// DBCPUPct and DBRSSMeanMB are the database's during the fixed run;
	// CPUAtPeakPct and DBCPUAtPeakPct the target's and the database's CPU
	// at the peak; -1 when not measured.
	DBCPUPct, DBRSSMeanMB, CPUAtPeakPct, DBCPUAtPeakPct float64
	// DBPSSMeanMB is the database's PSS during the fixed run: its RSS
	// counts shared_buffers once per backend that touched them.
	DBPSSMeanMB float64
	// Repeats is how many repetitions the figures are the median of.
	Repeats int
	// Unpinned: the budget was not enforced (Target.Unpinned).
	Unpinned bool
}

// PeakPerVCPU normalises the peak to one vCPU, to set beside published
// figures measured on a different budget.
func (r Row) PeakPerVCPU() float64 {
	if r.VCPUs <= 0 {
		return 0
	}
	return r.PeakRPS / r.VCPUs
}

// SummaryRow derives a target's summary from its record.
func SummaryRow(t Target) Row {
	r := Row{Target: t.Name, Status: t.Status, Runtime: t.Runtime, VCPUs: t.VCPUs, RSSPeakMB: t.RSSPeakMB, Reason: t.Reason,
		Unpinned: t.Unpinned, PSSFixedMeanMB: -1,
		ReleaseMB: t.ReleaseMB}
	if t.Peak != nil {
		r.PeakRPS, r.PeakBound = t.Peak.Peak, t.Peak.Bound
	} else if t.Status != StatusSkipped && t.Hold == nil {
		r.PeakBound = peak.BoundError
	}
	if f := t.Fixed; f != nil {
		s := f.Step
		r.FixedRPS, r.P50, r.P95, r.P99 = s.Offered, s.Corrected.P50, s.Corrected.P95, s.Corrected.P99
		r.P999, r.Max, r.Over10ms = s.Corrected.P999, s.Corrected.Max, float64(s.Over10ms)
		r.VegetaP95, r.Success, r.CODiverges = s.Vegeta.P95, s.Success, s.CODiverges
		r.CPUPct, r.RSSMeanMB, r.LoaderCPU = f.CPUPct, f.Sample.RSSMeanMB, 100*f.LoaderCPU
		r.RSSFixedMeanMB, r.RSSFixedPeakMB = f.Sample.RSSMeanMB, f.Sample.RSSPeakMB
		if f.Sample.PSSMeanMB > 0 {
			r.PSSFixedMeanMB = f.Sample.PSSMeanMB
		}
	}
	r.P999OverP50, r.GCCollections, r.GCPauseP99, r.GCPauseMax, r.GCLargestProc = -1, -1, -1, -1, -1
	r.MaxConnections, r.RSSPerConnKB, r.P99AtMaxMS = -1, -1, -1
	r.DBCPUPct, r.DBRSSMeanMB, r.CPUAtPeakPct, r.DBCPUAtPeakPct, r.DBPSSMeanMB = -1, -1, -1, -1, -1
	medians(t, []figureRef{{FigP999OverP50, &r.P999OverP50}, {FigGCCollections, &r.GCCollections}, {FigGCPauseP99, &r.GCPauseP99},
		{FigGCPauseMax, &r.GCPauseMax}, {FigGCLargestProcGC, &r.GCLargestProc},
		{FigMaxConnections, &r.MaxConnections}, {FigRSSPerConnKB, &r.RSSPerConnKB}, {FigP99AtMaxMS, &r.P99AtMaxMS},
		{FigDBCPUPct, &r.DBCPUPct}, {FigDBRSSMeanMB, &r.DBRSSMeanMB}, {FigCPUAtPeakPct, &r.CPUAtPeakPct}, {FigDBCPUAtPeakPct, &r.DBCPUAtPeakPct},
		{FigDBPSSMeanMB, &r.DBPSSMeanMB}})
	r.LoaderAddedP95 = -1
	if t.Fixed != nil && t.Fixed.LoaderAdded != nil {
		r.LoaderAddedP95 = t.Fixed.LoaderAdded.P95
	}
	r.Repeats = len(t.Repetitions())
	if len(t.Repeats) > 1 {
		// Each figure is its own median over the repetitions; peak_bound
		// stays the median peak's (t.Peak, see SetMedians).
		medians(t, []figureRef{{FigPeakRPS, &r.PeakRPS}, {FigP50, &r.P50}, {FigP95, &r.P95}, {FigP99, &r.P99}, {FigVegetaP95, &r.VegetaP95},
			{FigSuccess, &r.Success}, {FigCPUPct, &r.CPUPct}, {FigRSSMeanMB, &r.RSSMeanMB}, {FigRSSPeakMB, &r.RSSPeakMB},
			{FigLoaderCPU, &r.LoaderCPU}, {FigRSSFixedMeanMB, &r.RSSFixedMeanMB}, {FigRSSFixedPeakMB, &r.RSSFixedPeakMB},
			{FigPSSFixedMeanMB, &r.PSSFixedMeanMB}, {FigP999, &r.P999}, {FigMax, &r.Max}, {FigOver10ms, &r.Over10ms}})
	}
	return r
}

// figureRef is a Row field and the figure it holds.
type figureRef struct {
	fig string
	v   *float64
}

// medians sets each field that t measured to its median over the
// repetitions, and leaves the others as they are.
func medians(t Target, refs []figureRef) {
	for _, m := range refs {
		if s := t.Spread(m.fig); s.N > 0 {
			*m.v = s.Median
		}
	}
}

// CSVHeader is summary.csv's header: the first 13 columns are the stable
// contract of results/README.md; later columns may only be appended.
var CSVHeader = []string{"target", "status", "vcpus", "peak_rps", "peak_bound", "fixed_rps", "p50_ms", "p95_ms", "p99_ms",
	"success", "cpu_pct", "rss_mean_mb", "rss_peak_mb",
	"runtime", "peak_rps_per_vcpu", "vegeta_p95_ms", "co_diverges", "loader_cpu_pct", "reason",
	"loader_added_p95_ms", "loader_capacity_rps", "unpinned",
	"rss_fixed_mean_mb", "rss_fixed_peak_mb", "pss_fixed_mean_mb", "release_mb",
	"p999_ms", "max_ms", "over_10ms",
	"p999_over_p50", "gc_collections", "gc_pause_p99_ms", "gc_pause_max_ms", "gc_largest_process_ms",
	"max_connections", "max_connections_bound", "rss_per_conn_kb", "p99_at_max_ms",
	"db_cpu_pct", "db_rss_mean_mb", "cpu_at_peak_pct", "db_cpu_at_peak_pct", "db_pss_mean_mb"}

// WriteCSV writes summary.csv.
func WriteCSV(w io.Writer, run *Run) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, t := range run.Targets {
		r := SummaryRow(t)
		rec := []string{r.Target, r.Status, f(r.VCPUs, 3), f(r.PeakRPS, 0), r.PeakBound, f(r.FixedRPS, 0),
			f(r.P50, 3), f(r.P95, 3), f(r.P99, 3), f(r.Success, 5), f(r.CPUPct, 1), f(r.RSSMeanMB, 1), f(r.RSSPeakMB, 1),
			r.Runtime, f(r.PeakPerVCPU(), 0), f(r.VegetaP95, 3), strconv.FormatBool(r.CODiverges), f(r.LoaderCPU, 1), r.Reason,
			optional(r.LoaderAddedP95, 3), optional(run.Manifest.LoaderCapacity(), 0), strconv.FormatBool(r.Unpinned),
			f(r.RSSFixedMeanMB, 1), f(r.RSSFixedPeakMB, 1), optional(r.PSSFixedMeanMB, 1), optional(r.ReleaseMB, 1),
			f(r.P999, 3), f(r.Max, 3), f(r.Over10ms, 0),
			orEmpty(r.P999OverP50, 2), orEmpty(r.GCCollections, 0), orEmpty(r.GCPauseP99, 3), orEmpty(r.GCPauseMax, 3), orEmpty(r.GCLargestProc, 0),
			orEmpty(r.MaxConnections, 0), holdBound(t), orEmpty(r.RSSPerConnKB, 2), orEmpty(r.P99AtMaxMS, 3),
			orEmpty(r.DBCPUPct, 1), orEmpty(r.DBRSSMeanMB, 1), orEmpty(r.CPUAtPeakPct, 1), orEmpty(r.DBCPUAtPeakPct, 1), orEmpty(r.DBPSSMeanMB, 1)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv row %s: %w", r.Target, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// optional formats v, or an empty cell when it was not measured (<= 0).
func optional(v float64, prec int) string {
	if v < 0 || v == 0 && prec == 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// orEmpty formats v, or an empty cell for a figure not measured (< 0);
// unlike optional, a measured 0 is written.
func orEmpty(v float64, prec int) string {
	if v < 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// holdBound is whose limit ended a connection-scale run, or "".
func holdBound(t Target) string {
	if t.Hold == nil {
		return ""
	}
	return t.Hold.Bound
}

// BottleneckPct is the CPU share of its own budget (%) at which the target
// or its database counts as the bottleneck at a peak.
const BottleneckPct = 80

// Bottleneck names which of the target and its database was the
// bottleneck at the peak, from their CPU there (% of each one's budget):
// "database" or "target" when one is at BottleneckPct or more and the
// other below, "" when neither or both are.
func Bottleneck(targetPct, databasePct float64) string {
	switch {
	case databasePct >= BottleneckPct && targetPct < BottleneckPct:
		return "database"
	case targetPct >= BottleneckPct && databasePct < BottleneckPct:
		return "target"
	}
	return ""
}
