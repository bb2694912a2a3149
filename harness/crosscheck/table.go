package crosscheck

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/benchharness/harness/harness/peak"
)

// The requirements: the harness's peak within 15 % of oha's when both send
// the same arrivals, and its fixed-rate p95 within 0.1 ms of oha's. Both
// loaders are open-model and latency-correcting, so beyond run-to-run noise
// they should agree on the same load. The harness's own (evenly paced) peak
// is shown beside them: its distance from oha's is the arrivals' effect on
// the target, measured by the arrival probe, not a disagreement of loaders.
const (
	PeakTolerance  = 0.15
	P95ToleranceMS = 0.1
)

// Side is one loader's figures for a target.
type Side struct {
	// OK is false when the side measured nothing usable; Reason says why.
	OK     bool    `json:"ok"`
	Reason string  `json:"reason,omitempty"`
	Peak   float64 `json:"peak_rps"`
	Bound  string  `json:"peak_bound"`
	// FixedP95 is the corrected p95 of the fixed-rate run, in ms.
	FixedP95 float64 `json:"fixed_p95_ms"`
	// Peaks are the repetitions' own peaks, in order, when Peak and
	// FixedP95 are their medians (Median); failed repetitions are left out.
	Peaks []float64 `json:"peaks_rps,omitempty"`
}

// Median is one side over repeated measurements: the median peak and the
// median fixed-rate p95 of those that measured something (of two middle
// figures, their mean), the bound a lower bound if a middle peak is one.
// With none, it is the first one's failure.
func Median(sides []Side) Side {
	var ok []Side
	for _, s := range sides {
		if s.OK {
			ok = append(ok, s)
		}
	}
	switch {
	case len(ok) == 0 && len(sides) == 0:
		return Side{Reason: "not run"}
	case len(ok) == 0:
		return sides[0]
	case len(sides) == 1:
		return sides[0]
	}
	m := Side{OK: true}
	for _, s := range ok {
		m.Peaks = append(m.Peaks, s.Peak)
	}
	slices.SortFunc(ok, func(a, b Side) int { return cmp.Compare(a.Peak, b.Peak) })
	lo, hi := ok[(len(ok)-1)/2], ok[len(ok)/2]
	m.Peak, m.Bound = (lo.Peak+hi.Peak)/2, hi.Bound
	if peak.LowerBound(lo.Bound) {
		m.Bound = lo.Bound
	}
	p95s := make([]float64, len(ok))
	for i, s := range ok {
		p95s[i] = s.FixedP95
	}
	slices.Sort(p95s)
	m.FixedP95 = (p95s[(len(p95s)-1)/2] + p95s[len(p95s)/2]) / 2
	return m
}

// Row compares the sides for one target.
type Row struct {
	Target  string `json:"target"`
	Harness Side   `json:"harness"`
	// Shaped is the harness with oha's arrivals.
	Shaped Side `json:"harness_oha_arrivals"`
	Oha    Side `json:"oha"`
	// Ratio is the harness's own peak over oha's (0 when either is
	// missing): the loaders and the arrivals' shape together.
	Ratio float64 `json:"peak_ratio"`
	// ShapedRatio is the like-for-like ratio, Shaped over oha's peak, and
	// PeakOK whether it is within PeakTolerance.
	ShapedRatio float64 `json:"oha_arrivals_peak_ratio"`
	PeakOK      bool    `json:"peak_within"`
	P95Diff     float64 `json:"p95_diff_ms"` // harness - oha, at the fixed rate
	P95OK       bool    `json:"p95_within"`
}

// OK is whether the target meets both requirements.
func (r Row) OK() bool { return r.PeakOK && r.P95OK }

// Compare applies the requirements: peaks on the like-for-like pair,
// p95 on the harness as `make bench` runs it. A pair with a side that
// measured nothing fails: there is nothing to agree with.
func Compare(target string, h, shaped, o Side) Row {
	r := Row{Target: target, Harness: h, Shaped: shaped, Oha: o}
	if !o.OK {
		return r
	}
	ratio := func(s Side) float64 {
		if !s.OK || s.Peak <= 0 || o.Peak <= 0 {
			return 0
		}
		return s.Peak / o.Peak
	}
	r.Ratio, r.ShapedRatio = ratio(h), ratio(shaped)
	// The epsilons keep a figure exactly on the line inside it.
	r.PeakOK = r.ShapedRatio > 0 && math.Abs(r.ShapedRatio-1) <= PeakTolerance+1e-9
	if h.OK {
		r.P95Diff = h.FixedP95 - o.FixedP95
		r.P95OK = math.Abs(r.P95Diff) <= P95ToleranceMS+1e-9
	}
	return r
}

// Verdict is one line over every row, and whether all of them pass.
func Verdict(rows []Row) (string, bool) {
	if len(rows) == 0 {
		return "nothing was compared", false
	}
	var bad []string
	for _, r := range rows {
		if why := unmeasured(r); why != "" {
			bad = append(bad, fmt.Sprintf("%s not measured (%s)", r.Target, why))
			continue
		}
		if !r.PeakOK && r.ShapedRatio == 0 {
			bad = append(bad, fmt.Sprintf("%s has no peak to compare (harness with oha's arrivals %.0f, oha %.0f req/s)", r.Target, r.Shaped.Peak, r.Oha.Peak))
		} else if !r.PeakOK {
			s := fmt.Sprintf("%s peak, same arrivals, %.2fx oha's", r.Target, r.ShapedRatio)
			if b := lowerBounds(r.Shaped, r.Oha); b != "" {
				s += " (" + b + ")"
			}
			bad = append(bad, s)
		}
		if !r.P95OK {
			bad = append(bad, fmt.Sprintf("%s fixed-rate p95 %+.2f ms from oha's", r.Target, r.P95Diff))
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("the harness agrees with oha on all %d targets: peaks within %.0f %% on the same arrivals, fixed-rate p95 within %.1f ms",
			len(rows), 100*PeakTolerance, P95ToleranceMS), true
	}
	return "the harness disagrees with oha: " + strings.Join(bad, "; "), false
}

// unmeasured says which sides a row lacks, or "" when it has all three.
func unmeasured(r Row) string {
	var why []string
	for _, s := range []struct {
		name string
		side Side
	}{{"harness", r.Harness}, {"harness with oha's arrivals", r.Shaped}, {"oha", r.Oha}} {
		if !s.side.OK {
			why = append(why, s.name+": "+s.side.Reason)
		}
	}
	return strings.Join(why, "; ")
}

// lowerBounds says which side's peak is only a lower bound, since a
// disagreement then says more about that loader than about the target.
func lowerBounds(harness, oha Side) string {
	var s []string
	if peak.LowerBound(harness.Bound) {
		s = append(s, "the harness's peak is loader-bound")
	}
	if peak.LowerBound(oha.Bound) {
		s = append(s, "oha's peak is loader-bound")
	}
	return strings.Join(s, ", ")
}

// Markdown is the comparison table and its verdict.
func Markdown(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| target | harness peak req/s | harness peak, oha's arrivals | oha peak req/s | harness / oha | same arrivals: harness / oha | peak within %.0f %% | harness p95 ms @ fixed | oha p95 ms @ fixed | Δ p95 ms | p95 within %.1f ms |\n",
		100*PeakTolerance, P95ToleranceMS)
	b.WriteString("|---|--:|--:|--:|--:|--:|:-:|--:|--:|--:|:-:|\n")
	for _, r := range rows {
		diff := "–"
		if r.Harness.OK && r.Oha.OK {
			diff = fmt.Sprintf("%+.2f", r.P95Diff)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Target,
			peakCell(r.Harness), peakCell(r.Shaped), peakCell(r.Oha), ratioCell(r.Ratio), ratioCell(r.ShapedRatio), yesNo(r.PeakOK),
			p95Cell(r.Harness), p95Cell(r.Oha), diff, yesNo(r.P95OK))
	}
	v, _ := Verdict(rows)
	fmt.Fprintf(&b, "\n**Verdict:** %s.\n", v)
	return b.String()
}

func ratioCell(r float64) string {
	if r <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", r)
}

// peakCell marks a lower bound with ≥, as summary.md does.
func peakCell(s Side) string {
	if !s.OK {
		return "–"
	}
	ge := ""
	if peak.LowerBound(s.Bound) {
		ge = "≥ "
	}
	cell := fmt.Sprintf("%s%.0f (%s)", ge, s.Peak, s.Bound)
	if len(s.Peaks) > 1 {
		each := make([]string, len(s.Peaks))
		for i, p := range s.Peaks {
			each[i] = fmt.Sprintf("%.0f", p)
		}
		cell += ", median of " + strings.Join(each, ", ")
	}
	return cell
}

func p95Cell(s Side) string {
	if !s.OK {
		return "–"
	}
	return fmt.Sprintf("%.2f", s.FixedP95)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
