package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/benchharness/harness/harness/results"
)

// judgeSimilar decides a "similar" rule: the measured targets' figures,
// largest over smallest, within the factor. A database_bound claim is
// judged only when at every target's peak the database, not the target,
// was near its budget; otherwise the scenario did not produce the claim's
// premise and the verdict says so.
func judgeSimilar(run *results.Run, cl *Claim, v *Verdict) {
	label, unit := figureLabel(cl.Figure)
	v.Rule = fmt.Sprintf("%s of %s (the measured ones, at least %d): largest over smallest at most %s×", label,
		strings.Join(cl.Similar, ", "), cl.MinTargets, fmtNum(cl.Factor))
	if cl.DatabaseBound {
		v.Rule += fmt.Sprintf("; judged only if at each target's peak the database's CPU is at least %d%% of its budget and the target's below that", results.BottleneckPct)
	}
	var ms []Measured
	for _, name := range cl.Similar {
		m := measure(run, name, cl.Figure, 1)
		if !m.OK {
			v.Notes = append(v.Notes, m.Why)
			continue
		}
		ms = append(ms, m)
	}
	if len(ms) < cl.MinTargets {
		v.Verdict = NotMeasured
		v.Notes = append(v.Notes, fmt.Sprintf("%d of the targets measured, the rule needs %d", len(ms), cl.MinTargets))
		return
	}
	var vals []string
	lo, hi := interval{math.Inf(1), math.Inf(1)}, interval{0, 0} // the smallest and the largest figure
	for _, m := range ms {
		iv := m.interval()
		lo = interval{min(lo.lo, iv.lo), min(lo.hi, iv.hi)}
		hi = interval{max(hi.lo, iv.lo), max(hi.hi, iv.hi)}
		ge := ""
		if m.LowerBound {
			ge = "≥ "
		}
		vals = append(vals, fmt.Sprintf("%s %s%s%s", m.Target, ge, fmtNum(m.Value), unit))
	}
	spread := ratio(hi, lo)
	v.Measured = fmt.Sprintf("%s× (%s)", fmtNum(hi.lo/lo.lo), strings.Join(vals, ", "))
	v.Spread = "single run"
	if cl.DatabaseBound && !databaseBound(run, ms, v) {
		v.Verdict = NotMeasured
		v.Detail = "(not database-bound)"
		return
	}
	v.decide(spread.in(0, cl.Factor), "a loader-bound peak leaves the spread open")
	v.boundNotes(ms...)
}

// databaseBound says whether the database was the bottleneck at every
// measured target's peak, noting each one's CPU and its database's there.
func databaseBound(run *results.Run, ms []Measured, v *Verdict) bool {
	all := true
	for _, m := range ms {
		t := measure(run, m.Target, results.FigCPUAtPeakPct, 1)
		d := measure(run, m.Target, results.FigDBCPUAtPeakPct, 1)
		if !t.OK || !d.OK {
			v.Notes = append(v.Notes, fmt.Sprintf("%s: no CPU figures at its peak", m.Target))
			all = false
			continue
		}
		word := "database-bound"
		if results.Bottleneck(t.Value, d.Value) != "database" {
			word = "not database-bound"
			all = false
		}
		v.Notes = append(v.Notes, fmt.Sprintf("%s at its peak: its CPU %.0f%%, the database's %.0f%% of their budgets: %s", m.Target, t.Value, d.Value, word))
	}
	return all
}
