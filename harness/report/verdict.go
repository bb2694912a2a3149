package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/benchharness/harness/harness/results"
)

// The verdicts a claim can get.
const (
	Holds       = "holds"
	DoesNotHold = "does not hold"
	// NotMeasured: the target was not measured, the claim is about
	// something no scenario measures, or the figure cannot decide it (a
	// lower bound below an upper limit).
	NotMeasured = "not measured"
)

// Verdict is a claim judged against one run.
type Verdict struct {
	Claim *Claim
	// Verdict is Holds, DoesNotHold or NotMeasured.
	Verdict string
	// Detail completes a "not measured" that the notes alone would bury:
	// "at this budget (0.33 vCPU; the claim is about 8)", "(unpinned: chi)".
	Detail string
	// Measured is the figure(s) the verdict rests on, in words.
	Measured string
	// Spread is their spread over repetitions, or "single run".
	Spread string
	// Rule is the rule applied, with its numbers.
	Rule  string
	Notes []string
}

// interval is what a measurement says of a figure: it lies in [lo, hi].
// A real measurement is a point; a loader-bound peak is [value, +Inf).
type interval struct{ lo, hi float64 }

// outcome of a rule on an interval: decided either way, or undecidable.
type outcome int

const (
	yes outcome = iota
	unknown
	no
)

func (iv interval) in(lo, hi float64) outcome {
	switch {
	case iv.lo >= lo && iv.hi <= hi:
		return yes
	case iv.hi < lo || iv.lo > hi:
		return no
	}
	return unknown
}

// above says whether a is greater than b.
func (iv interval) above(b interval) outcome {
	switch {
	case iv.lo > b.hi:
		return yes
	case iv.hi <= b.lo:
		return no
	}
	return unknown
}

func ratio(a, b interval) interval {
	iv := interval{a.lo / b.hi, math.Inf(1)}
	if b.lo > 0 {
		iv.hi = a.hi / b.lo
	}
	return iv
}

// sameBudget: a measured budget is the claim's, to the precision a
// budget is written with.
func sameBudget(measured, claim float64) bool {
	return math.Abs(measured-claim) <= 1e-6*claim
}

// worst combines outcomes: one no decides, then one unknown.
func worst(os ...outcome) outcome {
	w := yes
	for _, o := range os {
		w = max(w, o)
	}
	return w
}

// Judge gives every claim its verdict against run.
func Judge(run *results.Run, c *Claims) []Verdict {
	out := make([]Verdict, 0, len(c.Claims))
	for i := range c.Claims {
		out = append(out, judge(run, c, &c.Claims[i]))
	}
	return out
}

func judge(run *results.Run, c *Claims, cl *Claim) Verdict {
	v := Verdict{Claim: cl, Measured: "–", Spread: "–"}
	if cl.Proxy != "" {
		v.Notes = append(v.Notes, "measured by proxy: "+cl.Proxy)
	}
	if cl.Extrapolated != "" {
		v.Notes = append(v.Notes, "extrapolated: "+cl.Extrapolated)
	}
	switch {
	case cl.NotMeasured != "":
		v.Verdict, v.Rule = NotMeasured, "none: "+cl.NotMeasured
		return v
	case !cl.measuredBy(runScenario(run)):
		want, run1 := cl.Scenario, cl.Scenario
		if want == "" {
			want, run1 = strings.Join(jsonAPIScenarios, " or "), jsonAPIScenarios[0]
		}
		v.Verdict = NotMeasured
		v.Rule = fmt.Sprintf("none in a run of scenario %s: judged on scenario %s (make bench SCENARIO=%s)", runScenario(run), want, run1)
		return v
	case cl.Target != "":
		judgeValue(run, c, cl, &v)
	case len(cl.Ratio) == 2:
		judgeRatio(run, c, cl, &v)
	case len(cl.Similar) > 0:
		judgeSimilar(run, cl, &v)
	default:
		judgeOrder(run, cl, &v)
	}
	v.unpinned(run, cl)
	if cl.Extrapolated != "" && v.Verdict != NotMeasured && v.Detail == "" {
		v.Detail = "(extrapolated)"
	}
	return v
}

// runScenario is the name of the scenario run measured ("" if unknown).
func runScenario(run *results.Run) string {
	if run.Manifest == nil || run.Manifest.Scenario == nil {
		return ""
	}
	return run.Manifest.Scenario.Name
}

// Text is the verdict in words, with its detail.
func (v Verdict) Text() string {
	if v.Detail == "" {
		return v.Verdict
	}
	return v.Verdict + " " + v.Detail
}

// subjects are the targets a claim's figures come from.
func (cl *Claim) subjects() []string {
	if cl.Target != "" {
		return []string{cl.Target}
	}
	if len(cl.Ratio) > 0 {
		return cl.Ratio
	}
	if len(cl.Similar) > 0 {
		return cl.Similar
	}
	return cl.Order
}

// unpinned makes the verdict of a claim on any target whose budget was not
// enforced "not measured", whatever the rule said: that target's figures
// are divided by a budget it did not have. They stay shown.
func (v *Verdict) unpinned(run *results.Run, cl *Claim) {
	var names []string
	for _, name := range cl.subjects() {
		if t := findTarget(run, name); t != nil && t.Status == results.StatusOK && t.Unpinned {
			names = append(names, name)
			v.Notes = append(v.Notes, fmt.Sprintf("%s ran unpinned (%s): its %s-vCPU budget was not enforced, so no claim is judged on it",
				name, t.Pinning, fmtNum(t.VCPUs)))
		}
	}
	if len(names) > 0 {
		v.Verdict, v.Detail = NotMeasured, "(unpinned: "+strings.Join(names, ", ")+")"
	}
}

// budgetsText states the budgets the targets of a ratio or an order were
// measured at: they compare like with like, at a budget that may not be
// the source's.
func budgetsText(run *results.Run, names []string) string {
	var parts []string
	budgets := map[float64]bool{}
	var last float64
	for _, name := range names {
		if t := findTarget(run, name); t != nil && t.Status == results.StatusOK {
			parts = append(parts, fmt.Sprintf("%s %s", name, fmtNum(t.VCPUs)))
			budgets[t.VCPUs], last = true, t.VCPUs
		}
	}
	switch len(budgets) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("; measured at %s vCPU per target", fmtNum(last))
	}
	return "; measured at " + strings.Join(parts, ", ") + " vCPU"
}

// bounds is a near/within rule as [lo, hi], and its text.
func bounds(c *Claims, cl *Claim, unit string) (float64, float64, string) {
	if cl.Near != nil {
		tol := cl.Tolerance
		if tol == 0 {
			tol = c.Tolerance
		}
		n := *cl.Near
		lo, hi := n*(1-tol), n*(1+tol)
		return lo, hi, fmt.Sprintf("within ±%.0f%% of %s%s: [%s, %s]", 100*tol, fmtNum(n), unit, fmtNum(lo), fmtNum(hi))
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if cl.Within[0] != nil {
		lo = *cl.Within[0]
	}
	if cl.Within[1] != nil {
		hi = *cl.Within[1]
	}
	switch {
	case math.IsInf(hi, 1):
		return lo, hi, fmt.Sprintf("at least %s%s", fmtNum(lo), unit)
	case math.IsInf(lo, -1):
		return lo, hi, fmt.Sprintf("at most %s%s", fmtNum(hi), unit)
	}
	return lo, hi, fmt.Sprintf("in [%s, %s]%s", fmtNum(lo), fmtNum(hi), unit)
}

func figureLabel(fig string) (label, unit string) {
	switch fig {
	case results.FigPeakRPS:
		return "peak", " req/s"
	case results.FigP50, results.FigP95, results.FigP99:
		return strings.TrimSuffix(fig, "_ms") + " at the fixed rate", " ms"
	case results.FigP999:
		return "p99.9 at the fixed rate", " ms"
	case results.FigMax:
		return "slowest request at the fixed rate", " ms"
	case results.FigP999OverP50:
		return "p99.9 / p50 at the fixed rate", "×"
	case results.FigMaxConnections:
		return "connections held (probe p99 within the SLO, no error)", ""
	case results.FigRSSPerConnKB:
		return "RSS per held connection", " KiB"
	case results.FigP99AtMaxMS:
		return "probe p99 at the most connections held", " ms"
	case results.FigGCPauseP99:
		return "GC pause p99 (its runtime's own figure, over the fixed run)", " ms"
	case results.FigGCPauseMax:
		return "longest GC pause (its runtime's own figure, over the fixed run)", " ms"
	case results.FigGCLargestProcGC:
		return "longest single-process GC (over the fixed run)", " ms"
	case results.FigCPUPct:
		return "CPU at the fixed rate", "% of the budget"
	case results.FigRSSMeanMB, results.FigRSSFixedMeanMB:
		return "RSS mean at the fixed rate", " MB"
	case results.FigRSSFixedPeakMB:
		return "RSS peak at the fixed rate", " MB"
	case results.FigPSSFixedMeanMB:
		return "PSS mean at the fixed rate", " MB"
	case results.FigRSSPeakMB:
		return "RSS peak under load", " MB"
	case results.FigReleaseMB:
		return "release size", " MB"
	}
	return fig, ""
}

func (v *Verdict) decide(o outcome, undecided string) {
	switch o {
	case yes:
		v.Verdict = Holds
	case no:
		v.Verdict = DoesNotHold
	default:
		v.Verdict = NotMeasured
		v.Notes = append(v.Notes, "inconclusive: "+undecided)
	}
}

// boundNotes says when a verdict rests on a lower bound or a figure whose
// repetitions disagree with the verdict.
func (v *Verdict) boundNotes(ms ...Measured) {
	for _, m := range ms {
		switch {
		case m.LowerBound:
			v.Notes = append(v.Notes, fmt.Sprintf("%s's peak is loader-bound: a lower bound, which can confirm an \"at least\" claim or refute an \"at most\" one, nothing else", m.Target))
		case m.LoaderBoundReps > 0:
			v.Notes = append(v.Notes, fmt.Sprintf("%s's peak was loader-bound in %d of %d repetitions", m.Target, m.LoaderBoundReps, m.Spread.N))
		}
	}
}

func (v *Verdict) marginal(point, spread outcome, rangeText string) {
	if point != spread && v.Verdict != NotMeasured {
		v.Notes = append(v.Notes, fmt.Sprintf("marginal: the repetitions' range %s reaches across the rule's bound", rangeText))
	}
}

func spreadText(m Measured, unit string) string {
	if m.Spread.N < 2 {
		return "single run"
	}
	s := m.Spread
	return fmt.Sprintf("median of %d; min–max %s–%s%s; 95%% CI %s–%s", s.N, fmtNum(s.Min), fmtNum(s.Max), unit, fmtNum(s.CILo), fmtNum(s.CIHi))
}

func judgeValue(run *results.Run, c *Claims, cl *Claim, v *Verdict) {
	label, unit := figureLabel(cl.Figure)
	lo, hi, rule := bounds(c, cl, unit)
	on := ""
	if cl.VCPUs > 0 {
		on = fmt.Sprintf(" on %s vCPU", fmtNum(cl.VCPUs))
	}
	v.Rule = fmt.Sprintf("%s's %s%s %s", cl.Target, label, on, rule)
	m := measure(run, cl.Target, cl.Figure, 1)
	if !m.OK {
		v.Verdict = NotMeasured
		v.Notes = append(v.Notes, m.Why)
		return
	}
	ge := ""
	if m.LowerBound {
		ge = "≥ "
	}
	v.Measured = fmt.Sprintf("%s%s%s", ge, fmtNum(m.Value), unit)
	v.Spread = spreadText(m, unit)
	if n, ok := pauseCount(run, cl.Target, cl.Figure); ok {
		v.Notes = append(v.Notes, fmt.Sprintf("%s's runtime reported %d GC pauses during the fixed run; with fewer than 100 the p99 is their maximum", cl.Target, n))
	}
	if t := findTarget(run, cl.Target); cl.VCPUs > 0 && !sameBudget(t.VCPUs, cl.VCPUs) {
		// Shown, not judged: no division turns one budget's instance into
		// another's.
		v.Verdict = NotMeasured
		v.Detail = fmt.Sprintf("at this budget (%s vCPU; the claim is about %s)", fmtNum(t.VCPUs), fmtNum(cl.VCPUs))
		v.Notes = append(v.Notes, fmt.Sprintf("%s of one instance: %s was measured at %s vCPU, the claim is about %s; "+
			"worker counts, memory and scaling differ between the two", label, cl.Target, fmtNum(t.VCPUs), fmtNum(cl.VCPUs)))
		return
	}
	point := m.interval().in(lo, hi)
	v.decide(point, "the measured figure is a lower bound and the rule has an upper limit")
	v.boundNotes(m)
	if m.Spread.N > 1 {
		v.marginal(point, m.spreadInterval().in(lo, hi), fmt.Sprintf("%s–%s%s", fmtNum(m.Spread.Min), fmtNum(m.Spread.Max), unit))
	}
}

func judgeRatio(run *results.Run, c *Claims, cl *Claim, v *Verdict) {
	num, den := cl.Ratio[0], cl.Ratio[1]
	label, unit := figureLabel(cl.Figure)
	sn, sd := 1.0, 1.0
	per := ""
	if cl.Figure == results.FigPeakRPS {
		// Per vCPU, so targets measured on different budgets compare; on
		// one budget the ratio is the same.
		sn, sd, per, unit = perVCPU(run, num), perVCPU(run, den), " per vCPU", " req/s per vCPU"
	}
	lo, hi, rule := bounds(c, cl, "×")
	v.Rule = fmt.Sprintf("%s/%s of %s%s %s%s", num, den, label, per, rule, budgetsText(run, cl.Ratio))
	a, b := measure(run, num, cl.Figure, sn), measure(run, den, cl.Figure, sd)
	for _, m := range []Measured{a, b} {
		if !m.OK {
			v.Verdict = NotMeasured
			v.Notes = append(v.Notes, m.Why)
		}
	}
	if v.Verdict != "" {
		return
	}
	r := ratio(a.interval(), b.interval())
	ge := ""
	if math.IsInf(r.hi, 1) {
		ge = "≥ "
	} else if r.lo == 0 {
		ge = "≤ "
	}
	v.Measured = fmt.Sprintf("%s/%s = %s%s× (%s / %s%s)", num, den, ge, fmtNum(a.Value/b.Value), fmtNum(a.Value), fmtNum(b.Value), unit)
	point := r.in(lo, hi)
	v.decide(point, "a loader-bound peak leaves the ratio open on one side")
	v.boundNotes(a, b)
	if a.Spread.N > 1 || b.Spread.N > 1 {
		sr := ratio(a.spreadInterval(), b.spreadInterval())
		rng := fmt.Sprintf("%s–%s×", fmtNum(a.Spread.Min/b.Spread.Max), fmtNum(a.Spread.Max/b.Spread.Min))
		v.Spread = "ratio over the repetitions' min–max: " + rng
		v.marginal(point, sr.in(lo, hi), rng)
	} else {
		v.Spread = "single run"
	}
}

func judgeOrder(run *results.Run, cl *Claim, v *Verdict) {
	label, unit := figureLabel(cl.Figure)
	var ms []Measured
	var missing []string
	for _, name := range cl.Order {
		scale := 1.0
		if cl.Figure == results.FigPeakRPS {
			scale = perVCPU(run, name)
		}
		m := measure(run, name, cl.Figure, scale)
		if !m.OK {
			missing = append(missing, m.Why)
			continue
		}
		ms = append(ms, m)
	}
	if cl.Figure == results.FigPeakRPS {
		unit = " req/s per vCPU"
	}
	v.Rule = fmt.Sprintf("%s: %s, each above the next", label, strings.Join(cl.Order, " > "))
	glo, ghi := math.Inf(-1), math.Inf(1)
	if cl.Gap != nil {
		if cl.Gap[0] != nil {
			glo = *cl.Gap[0]
		}
		if cl.Gap[1] != nil {
			ghi = *cl.Gap[1]
		}
		v.Rule += fmt.Sprintf(", and each over the next in [%s, %s]×", fmtNum(glo), fmtNum(ghi))
	}
	v.Rule += budgetsText(run, cl.Order)
	if len(ms) < 2 {
		v.Verdict = NotMeasured
		v.Notes = append(v.Notes, missing...)
		return
	}
	judgeChain := func(iv func(Measured) interval) (outcome, string) {
		var os []outcome
		var b strings.Builder
		for i, m := range ms {
			if i > 0 {
				o := iv(ms[i-1]).above(iv(m))
				if cl.Gap != nil {
					o = worst(o, ratio(iv(ms[i-1]), iv(m)).in(glo, ghi))
				}
				os = append(os, o)
				b.WriteString(map[outcome]string{yes: " > ", no: " ≯ ", unknown: " ?> "}[iv(ms[i-1]).above(iv(m))])
			}
			b.WriteString(m.Target + " ")
			if m.LowerBound {
				b.WriteString("≥")
			}
			b.WriteString(fmtNum(m.Value))
		}
		return worst(os...), b.String()
	}
	point, text := judgeChain(Measured.interval)
	v.Measured = text + unit
	if cl.Gap != nil {
		var gaps []string
		for i := 1; i < len(ms); i++ {
			gaps = append(gaps, fmt.Sprintf("%s/%s %s×", ms[i-1].Target, ms[i].Target, fmtNum(ms[i-1].Value/ms[i].Value)))
		}
		v.Measured += "; gaps " + strings.Join(gaps, ", ")
	}
	var spreads []string
	repeated := false
	for _, m := range ms {
		repeated = repeated || m.Spread.N > 1
		spreads = append(spreads, fmt.Sprintf("%s %s–%s", m.Target, fmtNum(m.Spread.Min), fmtNum(m.Spread.Max)))
	}
	v.Spread = "single run"
	if repeated {
		v.Spread = "min–max: " + strings.Join(spreads, ", ")
	}
	if len(missing) > 0 {
		// With a target missing, its neighbours would be compared across
		// its tier: a gap rule then measures two gaps at once, and even an
		// order says nothing about where the missing one stands.
		v.Verdict = NotMeasured
		v.Notes = append(v.Notes, missing...)
		v.Notes = append(v.Notes, "among the measured targets alone: "+map[outcome]string{yes: "holds", no: "does not hold", unknown: "undecided"}[point])
	} else {
		v.decide(point, "a loader-bound peak leaves an order or a gap open")
	}
	v.boundNotes(ms...)
	if repeated {
		so, _ := judgeChain(Measured.spreadInterval)
		v.marginal(point, so, "of "+strings.Join(spreads, ", "))
	}
}

// pauseCount is how many pauses a runtime's pause figure rests on.
func pauseCount(run *results.Run, name, fig string) (int64, bool) {
	t := findTarget(run, name)
	if fig != results.FigGCPauseP99 && fig != results.FigGCPauseMax || t == nil || t.Fixed == nil || t.Fixed.GC == nil || t.Fixed.GC.Pauses == nil {
		return 0, false
	}
	return *t.Fixed.GC.Pauses, true
}
