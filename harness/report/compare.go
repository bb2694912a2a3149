package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/benchharness/harness/harness/results"
)

// compareFigures are the figures a comparison judges, and which way is
// better for each.
var compareFigures = []struct {
	fig          string
	higherBetter bool
}{
	{results.FigPeakRPS, true}, {results.FigP95, false}, {results.FigCPUPct, false}, {results.FigRSSPeakMB, false},
}

// CompareOptions set when a change counts.
type CompareOptions struct {
	// Threshold is the relative change (0.10 = 10 %) beyond which a
	// significant worsening is a regression. When either run has no
	// repetitions there is no spread to test against, and a change is
	// significant when it exceeds Threshold.
	Threshold float64
	// Alpha is the significance level of Welch's t-test (0.05 when zero).
	Alpha float64
}

// Change is one figure of one target, baseline against new.
type Change struct {
	Target, Figure string
	Base, New      Measured
	// Delta is the relative change of the median, new/base − 1.
	Delta       float64
	Worse       bool
	Significant bool
	// Test says how significance was decided, e.g. "Welch t p=0.003".
	Test       string
	Regression bool
	// Judged is false when the figures cannot be compared (a lower bound
	// below the baseline); Note says why.
	Judged bool
	Note   string
}

// Comparison is a new run set against a baseline.
type Comparison struct {
	BaseID, NewID string
	Options       CompareOptions
	Changes       []Change
	// Notes are differences between the runs that are not figures: targets
	// missing or skipped, other machine or profile.
	Notes []string
	// Regressions names every regression, including targets that ran in
	// the baseline and failed in the new run.
	Regressions []string
}

// Compare sets cur against base, per target and figure.
func Compare(base, cur *results.Run, o CompareOptions) *Comparison {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	c := &Comparison{BaseID: base.Manifest.RunID, NewID: cur.Manifest.RunID, Options: o}
	c.Notes = append(c.Notes, manifestDiffs(base.Manifest, cur.Manifest)...)
	// Per vCPU when the budgets differ, so throughput on one budget can be
	// set against another's.
	perV := base.Manifest.VCPUs != cur.Manifest.VCPUs
	for _, bt := range base.Targets {
		nt := findTarget(cur, bt.Name)
		switch {
		case bt.Status != results.StatusOK:
			if nt != nil && nt.Status == results.StatusOK {
				c.Notes = append(c.Notes, fmt.Sprintf("%s: measured now, %s in the baseline: nothing to compare", bt.Name, bt.Status))
			}
			continue
		case nt == nil:
			c.Notes = append(c.Notes, fmt.Sprintf("%s: in the baseline, not in the new run", bt.Name))
			continue
		case nt.Status == results.StatusFailed:
			c.Regressions = append(c.Regressions, fmt.Sprintf("%s failed: %s", bt.Name, nt.Reason))
			continue
		case nt.Status != results.StatusOK:
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %s in the new run (%s): not compared", bt.Name, nt.Status, nt.Reason))
			continue
		}
		for _, f := range compareFigures {
			ch := compareFigure(base, cur, bt.Name, f.fig, f.higherBetter, perV, o)
			if ch.Regression {
				c.Regressions = append(c.Regressions, fmt.Sprintf("%s %s %+.1f%% (%s)", ch.Target, ch.Figure, 100*ch.Delta, ch.Test))
			}
			c.Changes = append(c.Changes, ch)
		}
	}
	for _, nt := range cur.Targets {
		if findTarget(base, nt.Name) == nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: new in this run, no baseline", nt.Name))
		}
	}
	return c
}

func manifestDiffs(a, b *results.Manifest) []string {
	var out []string
	diff := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("the runs differ in %s (%s vs %s): a change may come from that, not the code", what, x, y))
		}
	}
	diff("CPU", a.Machine.CPUModel, b.Machine.CPUModel)
	diff("cores", fmt.Sprint(a.Machine.Cores), fmt.Sprint(b.Machine.Cores))
	diff("vCPUs per target", fmtNum(a.VCPUs), fmtNum(b.VCPUs))
	if a.Profile != nil && b.Profile != nil {
		diff("profile", a.Profile.Name, b.Profile.Name)
		diff("step duration", a.Profile.Step.D().String(), b.Profile.Step.D().String())
	}
	if a.Scenario != nil && b.Scenario != nil {
		diff("scenario", a.Scenario.Name, b.Scenario.Name)
	}
	return out
}

func compareFigure(base, cur *results.Run, name, fig string, higherBetter, perV bool, o CompareOptions) Change {
	sb, sn := 1.0, 1.0
	if perV && fig == results.FigPeakRPS {
		sb, sn = perVCPU(base, name), perVCPU(cur, name)
	}
	ch := Change{Target: name, Figure: fig, Base: measure(base, name, fig, sb), New: measure(cur, name, fig, sn), Judged: true}
	if perV && fig == results.FigPeakRPS {
		ch.Figure = "peak_rps_per_vcpu"
	}
	if !ch.Base.OK || !ch.New.OK || ch.Base.Value == 0 {
		ch.Judged = false
		ch.Note = "not measured in both runs"
		if !ch.New.OK {
			ch.Note = ch.New.Why
		} else if !ch.Base.OK {
			ch.Note = "baseline: " + ch.Base.Why
		}
		return ch
	}
	ch.Delta = ch.New.Value/ch.Base.Value - 1
	ch.Worse = ch.Delta != 0 && (ch.Delta < 0) == higherBetter
	switch {
	case ch.New.LowerBound && ch.Worse:
		// The new peak is only a lower bound: the target may be as fast as
		// before, the loader could not tell.
		ch.Judged = false
		ch.Note = "the new peak is loader-bound (a lower bound) and below the baseline"
		return ch
	case ch.Base.LowerBound && !ch.Worse:
		ch.Note = "the baseline peak is loader-bound: an improvement cannot be told"
	}
	a, b := findTarget(base, name).Values(fig), findTarget(cur, name).Values(fig)
	if len(a) >= 2 && len(b) >= 2 {
		p := welchP(scaled(a, sb), scaled(b, sn))
		ch.Significant = p < o.Alpha
		ch.Test = fmt.Sprintf("Welch t, p=%.3g, n=%d/%d", p, len(a), len(b))
	} else {
		ch.Significant = math.Abs(ch.Delta) > o.Threshold
		ch.Test = fmt.Sprintf("no repetitions: |change| > %s%%", fmtNum(100*o.Threshold))
	}
	ch.Regression = ch.Worse && ch.Significant && math.Abs(ch.Delta) > o.Threshold
	return ch
}

func scaled(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * k
	}
	return out
}

// welchP is the two-sided p-value of Welch's t-test (unequal variances)
// that a and b have the same mean.
func welchP(a, b []float64) float64 {
	ma, va := stat.MeanVariance(a, nil)
	mb, vb := stat.MeanVariance(b, nil)
	na, nb := float64(len(a)), float64(len(b))
	ea, eb := va/na, vb/nb
	se2 := ea + eb
	if se2 == 0 {
		// No spread at all: identical, or different beyond any noise.
		if ma == mb {
			return 1
		}
		return 0
	}
	t := (ma - mb) / math.Sqrt(se2)
	df := se2 * se2 / (ea*ea/(na-1) + eb*eb/(nb-1))
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t))
}

// WriteMarkdown writes the comparison as a table with a verdict line.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Comparison: %s → %s\n\n", c.BaseID, c.NewID)
	fmt.Fprintf(&b, "A regression is a change for the worse beyond %s%% that is significant: by Welch's t-test at α = %s when both runs have repetitions, "+
		"otherwise by its size alone (the threshold). A loader-bound new peak below the baseline is not judged.\n\n",
		fmtNum(100*c.Options.Threshold), fmtNum(c.Options.Alpha))
	if len(c.Regressions) == 0 {
		b.WriteString("**No regression.**\n\n")
	} else {
		fmt.Fprintf(&b, "**%d regression(s):**\n\n", len(c.Regressions))
		for _, r := range c.Regressions {
			b.WriteString("- " + r + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("| target | figure | baseline | new | change | significance | verdict |\n|---|---|--:|--:|--:|---|---|\n")
	for _, ch := range c.Changes {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", ch.Target, ch.Figure, measuredCell(ch.Base), measuredCell(ch.New),
			changeCell(ch), dashIfEmpty(ch.Test), ch.verdict())
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range c.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (ch Change) verdict() string {
	switch {
	case !ch.Judged:
		return "not judged: " + ch.Note
	case ch.Regression:
		return "**regression**"
	case ch.Significant && ch.Worse:
		return "worse, within the threshold"
	case ch.Significant && ch.Delta != 0:
		s := "better"
		if ch.Note != "" {
			s += " (" + ch.Note + ")"
		}
		return s
	}
	if ch.Note != "" {
		return "no significant change (" + ch.Note + ")"
	}
	return "no significant change"
}

func measuredCell(m Measured) string {
	if !m.OK {
		return "–"
	}
	s := fmtNum(m.Value)
	if m.LowerBound {
		s = "≥ " + s
	}
	if m.Spread.N > 1 {
		s += fmt.Sprintf(" (CI %s–%s)", fmtNum(m.Spread.CILo), fmtNum(m.Spread.CIHi))
	}
	return s
}

func changeCell(ch Change) string {
	if !ch.Base.OK || !ch.New.OK || ch.Base.Value == 0 {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", 100*ch.Delta)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
