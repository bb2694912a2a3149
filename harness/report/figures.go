// Package report turns a run's results.json into what a reader looks at:
// charts, the article's claims with a verdict each, report.md, and the
// comparison of two runs that a nightly job fails on.
package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
)

// Measured is one figure of one target as the report uses it: the median
// over repetitions, its spread, and whether it is only a lower bound.
type Measured struct {
	Target string
	Figure string
	// OK is false when the figure was not measured; Why says why.
	OK  bool
	Why string
	// Value is the median over repetitions, times Scale.
	Value  float64
	Spread results.Spread
	// LowerBound marks a loader-bound peak: the target's real peak is at
	// least Value, and may be anything above.
	LowerBound bool
	// LoaderBoundReps counts the repetitions whose peak was loader-bound.
	LoaderBoundReps int
	// Scale is what the raw figure was multiplied by (1/vCPUs for a
	// per-vCPU figure).
	Scale float64
}

// findTarget returns the run's record of a target, or nil.
func findTarget(run *results.Run, name string) *results.Target {
	for i := range run.Targets {
		if run.Targets[i].Name == name {
			return &run.Targets[i]
		}
	}
	return nil
}

// measure reads figure fig of target name, multiplied by scale (0 means 1).
func measure(run *results.Run, name, fig string, scale float64) Measured {
	if scale == 0 {
		scale = 1
	}
	m := Measured{Target: name, Figure: fig, Scale: scale}
	t := findTarget(run, name)
	switch {
	case t == nil:
		m.Why = fmt.Sprintf("%s was not in this run", name)
		return m
	case t.Status != results.StatusOK:
		m.Why = fmt.Sprintf("%s %s: %s", name, t.Status, t.Reason)
		return m
	}
	s := t.Spread(fig)
	if s.N == 0 {
		m.Why = fmt.Sprintf("%s has no %s", name, fig)
		if fig == results.FigPSSFixedMeanMB {
			m.Why += " (its PSS could not be read: no smaps_rollup, or processes this harness may not inspect; see results/README.md)"
		}
		return m
	}
	if fig == results.FigPeakRPS {
		if t.Peak == nil || t.Peak.Bound == peak.BoundError || s.Median <= 0 {
			m.Why = fmt.Sprintf("%s: no rate met the criteria", name)
			return m
		}
		m.LowerBound = peak.LowerBound(t.Peak.Bound)
		m.LoaderBoundReps = t.LoaderBoundRepeats()
	}
	if fig == results.FigMaxConnections && t.Hold != nil {
		m.LowerBound = t.Hold.LowerBound()
	}
	m.OK = true
	m.Value = s.Median * scale
	m.Spread = scaleSpread(s, scale)
	return m
}

func scaleSpread(s results.Spread, k float64) results.Spread {
	s.Median *= k
	s.Min *= k
	s.Max *= k
	s.Mean *= k
	s.StdDev *= k
	s.CILo *= k
	s.CIHi *= k
	return s
}

// interval is what is known of a figure: [Value, Value] for a real
// measurement, [Value, +Inf) for a lower bound.
func (m Measured) interval() interval {
	if m.LowerBound {
		return interval{m.Value, math.Inf(1)}
	}
	return interval{m.Value, m.Value}
}

// spreadInterval is the same over the repetitions' min–max. A peak is a
// lower bound when any repetition's was loader-bound.
func (m Measured) spreadInterval() interval {
	if m.LowerBound || m.LoaderBoundReps > 0 {
		return interval{m.Spread.Min, math.Inf(1)}
	}
	return interval{m.Spread.Min, m.Spread.Max}
}

// perVCPU is the scale that expresses a target's throughput per vCPU.
func perVCPU(run *results.Run, name string) float64 {
	if t := findTarget(run, name); t != nil && t.VCPUs > 0 {
		return 1 / t.VCPUs
	}
	return 1
}

// fmtNum prints a figure with the precision its size deserves.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsInf(v, 0):
		return "∞"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return trimZero(fmt.Sprintf("%.1f", v))
	default:
		return trimZero(fmt.Sprintf("%.2f", v))
	}
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
