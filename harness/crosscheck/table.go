package crosscheck

import (
	"fmt"
	"math"
	"strings"

	"github.com/benchharness/harness/harness/peak"
)

// The requirements: the harness's peak within 15 % of oha's, and its
// fixed-rate p95 within 0.1 ms of oha's. Both loaders are open-model and
// latency-correcting, so beyond run-to-run noise they should agree.
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
}

// Row compares the two sides for one target.
type Row struct {
	Target  string  `json:"target"`
	Harness Side    `json:"harness"`
	Oha     Side    `json:"oha"`
	Ratio   float64 `json:"peak_ratio"` // harness / oha; 0 when either peak is missing
	PeakOK  bool    `json:"peak_within"`
	P95Diff float64 `json:"p95_diff_ms"` // harness - oha
	P95OK   bool    `json:"p95_within"`
}

// OK is whether the target meets both requirements.
func (r Row) OK() bool { return r.PeakOK && r.P95OK }

// Compare applies the requirements. A side that measured nothing fails
// both: there is nothing to agree with.
func Compare(target string, h, o Side) Row {
	r := Row{Target: target, Harness: h, Oha: o}
	if !h.OK || !o.OK {
		return r
	}
	if h.Peak > 0 && o.Peak > 0 {
		r.Ratio = h.Peak / o.Peak
		// The epsilons keep a figure exactly on the line inside it.
		r.PeakOK = math.Abs(r.Ratio-1) <= PeakTolerance+1e-9
	}
	r.P95Diff = h.FixedP95 - o.FixedP95
	r.P95OK = math.Abs(r.P95Diff) <= P95ToleranceMS+1e-9
	return r
}

// Verdict is one line over every row, and whether all of them pass.
func Verdict(rows []Row) (string, bool) {
	if len(rows) == 0 {
		return "nothing was compared", false
	}
	var bad []string
	for _, r := range rows {
		if !r.Harness.OK || !r.Oha.OK {
			var why []string
			if !r.Harness.OK {
				why = append(why, "harness: "+r.Harness.Reason)
			}
			if !r.Oha.OK {
				why = append(why, "oha: "+r.Oha.Reason)
			}
			bad = append(bad, fmt.Sprintf("%s not measured (%s)", r.Target, strings.Join(why, "; ")))
			continue
		}
		if !r.PeakOK && r.Ratio == 0 {
			bad = append(bad, fmt.Sprintf("%s has no peak to compare (harness %.0f, oha %.0f req/s)", r.Target, r.Harness.Peak, r.Oha.Peak))
		} else if !r.PeakOK {
			s := fmt.Sprintf("%s peak %.2fx oha's", r.Target, r.Ratio)
			if b := lowerBounds(r); b != "" {
				s += " (" + b + ")"
			}
			bad = append(bad, s)
		}
		if !r.P95OK {
			bad = append(bad, fmt.Sprintf("%s fixed-rate p95 %+.2f ms from oha's", r.Target, r.P95Diff))
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("the harness agrees with oha on all %d targets: peaks within %.0f %%, fixed-rate p95 within %.1f ms",
			len(rows), 100*PeakTolerance, P95ToleranceMS), true
	}
	return "the harness disagrees with oha: " + strings.Join(bad, "; "), false
}

// lowerBounds says which side's peak is only a lower bound, since a
// disagreement then says more about that loader than about the target.
func lowerBounds(r Row) string {
	var s []string
	if peak.LowerBound(r.Harness.Bound) {
		s = append(s, "the harness's peak is loader-bound")
	}
	if peak.LowerBound(r.Oha.Bound) {
		s = append(s, "oha's peak is loader-bound")
	}
	return strings.Join(s, ", ")
}

// Markdown is the comparison table and its verdict.
func Markdown(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| target | harness peak req/s | oha peak req/s | harness / oha | peak within %.0f %% | harness p95 ms @ fixed | oha p95 ms @ fixed | Δ p95 ms | p95 within %.1f ms |\n",
		100*PeakTolerance, P95ToleranceMS)
	b.WriteString("|---|--:|--:|--:|:-:|--:|--:|--:|:-:|\n")
	for _, r := range rows {
		ratio, diff := "–", "–"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.Harness.OK && r.Oha.OK {
			diff = fmt.Sprintf("%+.2f", r.P95Diff)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Target,
			peakCell(r.Harness), peakCell(r.Oha), ratio, yesNo(r.PeakOK),
			p95Cell(r.Harness), p95Cell(r.Oha), diff, yesNo(r.P95OK))
	}
	v, _ := Verdict(rows)
	fmt.Fprintf(&b, "\n**Verdict:** %s.\n", v)
	return b.String()
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
	return fmt.Sprintf("%s%.0f (%s)", ge, s.Peak, s.Bound)
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
