package results

import (
	"fmt"
	"strings"

	"github.com/benchharness/harness/harness/peak"
)

// writeHold is summary.md's table of a connection-scale run: each target's
// most connections held and whose limit ended it, then every step.
func writeHold(b *strings.Builder, run *Run) {
	h := run.Manifest.Scenario.Hold
	b.WriteString("| target | status | max connections | bound | RSS per connection KiB | probe p99 ms at max | note |\n")
	b.WriteString("|---|---|--:|---|--:|--:|---|\n")
	for _, t := range run.Targets {
		r := SummaryRow(t)
		if t.Hold == nil {
			fmt.Fprintf(b, "| %s | %s | – | – | – | – | %s |\n", t.Name, t.Status, t.Reason)
			continue
		}
		maxCell := fmt.Sprintf("%d", t.Hold.MaxConnections)
		if t.Hold.LowerBound() {
			maxCell = "≥ " + maxCell
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", t.Name, t.Status, maxCell, t.Hold.Bound,
			dashed(r.RSSPerConnKB, "%.2f"), dashed(r.P99AtMaxMS, "%.2f"), t.Hold.Note)
	}
	fmt.Fprintf(b, "\nEach step holds that many HTTP/1.1 keep-alive connections, each sending GET %s every %s, then runs the paced probe "+
		"(%.0f req/s per vCPU, on the loader's own connections) for %s. A step passes when every connection is held with no error "+
		"and the probe's p99 (from the intended send time) is at most %s; the run stops at the first that does not. "+
		"`bound` says whose limit ended it: `target`; `loader` (its file descriptors, ports or CPU) or `kernel` (a kernel setting), "+
		"and then max connections is a lower bound (≥); `steps` when every step passed. "+
		"RSS per connection is the slope of the target's RSS over the connections held, over the steps that passed.\n",
		h.Path, h.Every.D(), run.Manifest.Profile.FixedRatePerVCPU, h.Measure.D(), h.SLOP99.D())
	b.WriteString("\n## Steps\n\n| target | connections | held | connect / request errors | probe p50 / p99 / max ms | target CPU % | RSS / PSS MB | loader CPU % | loader fds | step |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, t := range run.Targets {
		if t.Hold == nil {
			continue
		}
		for _, s := range t.Hold.Steps {
			b.WriteString(holdStepRow(t.Name, s))
		}
	}
}

func holdStepRow(name string, s peak.HoldStep) string {
	verdict := "pass"
	if !s.Pass {
		verdict = fmt.Sprintf("**%s**: %s", s.Limit, s.Why)
	}
	if s.Probe == nil {
		return fmt.Sprintf("| %s | %d | %d | %d / %d | – | – | – | – | %d | %s |\n", name, s.Connections, s.Held, s.ConnectErrors, s.RequestErrors, s.LoaderFDs, verdict)
	}
	c := s.Probe.Step.Corrected
	mem := "–"
	if t := s.Probe.Target; t != nil {
		pss := "–" // PSS could not be read
		if t.PSSMeanMB > 0 {
			pss = fmt.Sprintf("%.0f", t.PSSMeanMB)
		}
		mem = fmt.Sprintf("%.0f / %s", t.RSSMeanMB, pss)
	}
	return fmt.Sprintf("| %s | %d | %d | %d / %d | %.2f / %.2f / %.2f | %.0f | %s | %.0f | %d | %s |\n", name, s.Connections, s.Held,
		s.ConnectErrors, s.RequestErrors, c.P50, c.P99, c.Max, 100*s.Probe.TargetCPU, mem, 100*s.Probe.LoaderCPU, s.LoaderFDs, verdict)
}
