package results

import (
	"fmt"
	"io"
	"strings"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/scenario"
)

// WriteMarkdown writes summary.md: the measured figures with the published
// ones beside them, normalised per vCPU where the budgets differ.
func WriteMarkdown(w io.Writer, run *Run) error {
	m := run.Manifest
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark summary: %s\n\n", m.RunID)
	fmt.Fprintf(&b, "Profile `%s`, scenario `%s`, runtime `%s` on %s (%d cores, %.0f GiB, kernel %s).  \n",
		m.Profile.Name, m.Scenario.Name, m.Runtime, m.Machine.CPUModel, m.Machine.Cores, m.Machine.MemoryGB, m.Machine.Kernel)
	fmt.Fprintf(&b, "Each target: %.3g vCPU on CPUs %s; loader on CPUs %s (%.2g CPUs). Git %s%s.\n\n",
		m.VCPUs, m.TargetCPUs, m.LoaderCPUs, m.LoaderCap, short(m.GitSHA), map[bool]string{true: " (dirty)"}[m.GitDirty])
	if m.Interrupted {
		b.WriteString("**Interrupted: the figures below are what was measured before the run was stopped.**\n\n")
	}
	writeUnpinned(&b, run)
	writeInstrument(&b, m)
	if m.Scenario != nil && m.Scenario.Hold != nil {
		writeHold(&b, run)
	} else {
		writeMain(&b, run)
	}
	writeDatabase(&b, run)
	writeTail(&b, run)
	writeRepetitions(&b, run)
	var notes []string
	for _, t := range run.Targets {
		switch {
		case t.Reason != "":
			n := fmt.Sprintf("- **%s** %s: %s", t.Name, t.Status, t.Reason)
			if t.Hint != "" {
				n += " — fix: `" + t.Hint + "`"
			}
			notes = append(notes, n)
		case t.Peak != nil && t.Peak.Note != "":
			notes = append(notes, fmt.Sprintf("- **%s** peak (%s): %s", t.Name, t.Peak.Bound, t.Peak.Note))
		}
		if t.Fixed != nil && t.Fixed.Step.CODiverges {
			notes = append(notes, fmt.Sprintf("- **%s** fixed run: corrected p95 %.2f ms vs vegeta's %.2f ms (more than 10%% and 2 ms apart: the loader fell behind and queueing would have been hidden)",
				t.Name, t.Fixed.Step.Corrected.P95, t.Fixed.Step.Vegeta.P95))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n" + strings.Join(notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMain is the main table: each target's peak, p95, CPU and memory at
// the fixed rate beside the article's.
func writeMain(b *strings.Builder, run *Run) {
	m := run.Manifest
	fixedPerVCPU := m.Profile.FixedRatePerVCPU
	b.WriteString("| target | status | peak req/s | bound | peak / vCPU | article peak / vCPU | p95 ms @ fixed | loader adds p95 ms (calibrated / live) | article p95 ms | CPU % | article CPU % | RSS mean / peak, PSS MB @ fixed | article MB |\n")
	b.WriteString("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, t := range run.Targets {
		r := SummaryRow(t)
		art := func(v float64, format string) string {
			if v == 0 {
				return "–"
			}
			return fmt.Sprintf(format, v)
		}
		var a scenario.ReferenceRow
		var artPeak float64
		if t.Article != nil {
			a = *t.Article
			if m.Reference != nil {
				artPeak = a.PeakRPS / m.Reference.VCPUs
			}
		}
		if r.Status != StatusOK {
			fmt.Fprintf(b, "| %s | %s | – | %s | – | %s | – | – | %s | – | %s | – | %s |\n", r.Target, r.Status, dash(r.PeakBound),
				art(artPeak, "%.0f"), art(a.P95MS, "%.0f"), art(a.CPUPct, "%.0f"), art(a.RSSMB, "%.0f"))
			continue
		}
		peakCell := fmt.Sprintf("%.0f", r.PeakRPS)
		if peak.LowerBound(r.PeakBound) {
			peakCell = "≥ " + peakCell
		}
		loaderCell := "–"
		if c := m.Calibration; c != nil {
			loaderCell = fmt.Sprintf("%.2f", c.Added.P95)
		}
		if r.LoaderAddedP95 >= 0 {
			loaderCell += fmt.Sprintf(" / %.2f", r.LoaderAddedP95)
		} else {
			loaderCell += " / –"
		}
		status := "ok"
		if r.Unpinned {
			status = "ok, unpinned"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.0f | %s | %.2f | %s | %s | %.0f | %s | %s | %s |\n", r.Target, status, peakCell, r.PeakBound,
			r.PeakPerVCPU(), art(artPeak, "%.0f"), r.P95, loaderCell, art(a.P95MS, "%.0f"), r.CPUPct, art(a.CPUPct, "%.0f"),
			memoryCell(r), art(a.RSSMB, "%.0f"))
	}
	if m.Reference != nil {
		fmt.Fprintf(b, "\nFixed rate: %.0f req/s per vCPU (the article's 10,000 req/s on 8 vCPUs), so p95 and CPU %% compare directly; ", fixedPerVCPU)
	} else {
		fmt.Fprintf(b, "\nFixed rate: %.0f req/s per vCPU, this scenario's light load (no published table stands beside this scenario); ", fixedPerVCPU)
	}
	b.WriteString("latencies are measured from each request's intended send time to its response's arrival at the loader's socket (the kernel's receive stamp). CPU % is of the target's vCPU budget. ")
	b.WriteString("A peak marked `≥` was capped by the loader or by the search's max_rate, not by the target: it is a lower bound. ")
	b.WriteString("\"Loader adds\" is the loader's own share of that p95: first as calibrated against the instant reference server at this fixed rate (its precision), then as read live during this target's fixed run by its sentinel, " +
		"which does not busy-wait and so, on CPUs that halt when idle, also carries this machine's wake-up latency on both of its ends: an upper bound that flags a disturbed run, not a share to subtract. ")
	b.WriteString("Memory is the target's whole process tree during the fixed-rate run, the article's condition, and is not normalised: " +
		"RSS counts pages shared between forked workers once per worker, PSS once (– where PSS could not be read); " +
		"summary.csv's `rss_peak_mb` is the highest RSS of the whole run.\n")
	if m.Reference != nil {
		fmt.Fprintf(b, "\nArticle figures: %s (%.0f vCPUs).\n", m.Reference.Source, m.Reference.VCPUs)
	}
}

// writeDatabase is a database scenario's bottleneck table: each target's
// CPU and its database's, at the fixed rate and at the peak.
func writeDatabase(b *strings.Builder, run *Run) {
	m := run.Manifest
	if m.Scenario == nil || m.Scenario.Database == nil {
		return
	}
	b.WriteString("\n## The database (PostgreSQL, its own budget)\n\n")
	b.WriteString("| target | database CPU % @ fixed | database RSS / PSS MB @ fixed | target CPU % at peak | database CPU % at peak | bottleneck at peak |\n")
	b.WriteString("|---|--:|--:|--:|--:|---|\n")
	for _, t := range run.Targets {
		if t.Status != StatusOK {
			continue
		}
		r := SummaryRow(t)
		neck := "–"
		if r.CPUAtPeakPct >= 0 && r.DBCPUAtPeakPct >= 0 {
			neck = Bottleneck(r.CPUAtPeakPct, r.DBCPUAtPeakPct)
			if neck == "" {
				neck = fmt.Sprintf("neither clearly (both or neither at %d %%)", BottleneckPct)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s / %s | %s | %s | %s |\n", r.Target, dashed(r.DBCPUPct, "%.0f"), dashed(r.DBRSSMeanMB, "%.0f"), dashed(r.DBPSSMeanMB, "%.0f"),
			dashed(r.CPUAtPeakPct, "%.0f"), dashed(r.DBCPUAtPeakPct, "%.0f"), neck)
	}
	fmt.Fprintf(b, "\nCPU is each one's share of its own budget (the target's vCPUs; the profile's `database.vcpus`), over the fixed-rate run and over the last passing step at the peak. "+
		"A resource at %d %% or more of its budget at the peak, with the other below, is the bottleneck; the database claims are judged only when it is the database for every target. "+
		"The database's RSS counts its shared buffers once in every backend that touched them; PSS counts them once.\n", BottleneckPct)
}

// writeTail is the fixed run's tail beside what each runtime says of its
// own garbage collection, when any target reported a collector.
func writeTail(b *strings.Builder, run *Run) {
	any := false
	for _, t := range run.Targets {
		any = any || t.Status == StatusOK && t.Fixed != nil && t.Fixed.GC != nil && t.Fixed.GC.Runtime != contract.GCRuntimeNone
	}
	if !any {
		return
	}
	b.WriteString("\n## Tail latency and garbage collection (fixed-rate run)\n\n")
	b.WriteString("| target | p50 ms | p99 ms | p99.9 ms | max ms | > 10 ms | p99.9 / p50 | runtime | live objects | collections | GC pause p99 / max ms | largest process GC ms |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|\n")
	for _, t := range run.Targets {
		if t.Status != StatusOK || t.Fixed == nil {
			continue
		}
		r := SummaryRow(t)
		runtime, live := "–", "–"
		if g := t.Fixed.GC; g != nil {
			runtime, live = g.Runtime, fmt.Sprintf("%d", g.LiveObjects)
		}
		pause := "–"
		if r.GCPauseP99 >= 0 && r.GCPauseMax >= 0 {
			pause = fmt.Sprintf("%.3f / %.3f", r.GCPauseP99, r.GCPauseMax)
		}
		fmt.Fprintf(b, "| %s | %.2f | %.2f | %.2f | %.2f | %.0f | %s | %s | %s | %s | %s | %s |\n", r.Target, r.P50, r.P99, r.P999, r.Max,
			r.Over10ms, dashed(r.P999OverP50, "%.1f"), runtime, live, dashed(r.GCCollections, "%.0f"), pause, dashed(r.GCLargestProc, "%.0f"))
	}
	b.WriteString("\nLatencies are the target's, from each request's intended send time, with the loader's calibrated share in them (above). " +
		"The GC columns are each runtime's own account of the fixed run (`GET /gc/stats` after `POST /gc/reset`; results/README.md): " +
		"Go's and Node's stop-the-world pauses; the BEAM has none that stops every process, and reports instead its longest single-process collection of 1 ms or more (0: none); Rust has no collector.\n")
}

// dashed formats v, or – for a figure not measured (< 0).
func dashed(v float64, format string) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

// writeUnpinned says in bold which targets ran without their budget: the
// table still divides their figures by it, so a reader must not take them
// for figures at that budget.
func writeUnpinned(b *strings.Builder, run *Run) {
	var names []string
	for _, t := range run.Targets {
		if t.Unpinned {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(b, "**Unpinned: the %.3g-vCPU budget could not be enforced for %s (no usable cgroup: the harness needs root and cgroup v1 cpu+cpuset or v2). "+
		"They ran on whole CPUs, yet their CPU %% and per-vCPU figures are divided by that budget: their rows are marked `unpinned` and no claim is judged on them.**\n\n",
		run.Manifest.VCPUs, strings.Join(names, ", "))
}

// writeIdle says in which idle state the loader's CPUs waited: a loader on
// CPUs that halt when idle adds a VM's wake-up to what it measures.
func writeIdle(b *strings.Builder, r cpuset.IdleRecord) {
	switch {
	case r.Policy == "": // a manifest from before the setting
	case r.Policy == cpuset.IdlePoll:
		fmt.Fprintf(b, "The loader's CPUs (%s) were held in the polling idle state for the run (profile `loader.cpu_idle: poll`): waking them cost no VM exit.\n\n", cpuset.List(r.CPUs))
	case r.Why != "":
		fmt.Fprintf(b, "**The loader's CPUs could not be held in the polling idle state (%s): each wake-up of the loader paid this machine's idle exit, which shows in the calibration below.**\n\n", r.Why)
	default:
		b.WriteString("The loader's CPUs were left in the machine's own idle states (profile `loader.cpu_idle: default`).\n\n")
	}
}

// writeInstrument says what the loader measured of itself, so that every
// figure below has an owner: the target's, the loader's or the machine's.
func writeInstrument(b *strings.Builder, m *Manifest) {
	b.WriteString("## The instrument\n\n")
	writeIdle(b, m.LoaderIdle)
	if m.LoaderChoice != "" {
		fmt.Fprintf(b, "The loader ran %s (both ways were calibrated; the calibration below is of the one kept).\n\n", m.LoaderChoice)
	}
	writeAgents(b, m.Agents)
	c := m.Calibration
	if c == nil {
		if m.AssumedCapacity > 0 {
			fmt.Fprintf(b, "**The loader was not calibrated in this run.** Peaks are capped by a capacity of %.0f req/s taken from %s, not measured here.\n\n",
				m.AssumedCapacity, m.AssumedCapacitySource)
			return
		}
		if m.CalibrationError != "" {
			fmt.Fprintf(b, "**The loader's calibration failed (%s): peaks are not capped by a measured loader capacity.**\n\n", m.CalibrationError)
		} else {
			b.WriteString("**The loader was not calibrated in this run (skipped): its capacity is unknown, so a peak may be the loader's even when labelled `target`.**\n\n")
		}
		return
	}
	fmt.Fprintf(b, "Before the targets, the loader was measured against an instant reference server (%s). "+
		"At the fixed %.0f req/s it adds p50 %.3f / p95 %.3f / p99 %.3f ms and uses %.1f%% of a core (%.1f%% of it busy-waiting for precision). "+
		"Its capacity, the highest rate at which it kept the pace and added at most %.2f ms at p95, is **%.0f req/s** (%s), at %.1f µs of CPU per request. "+
		"A peak above it is never reported as a target's.\n\n",
		c.Server, c.FixedRate, c.Added.P50, c.Added.P95, c.Added.P99, c.FixedCPUPct, c.FixedSpinPct,
		c.AddedP95Limit, c.Capacity, capacityWord(c.CapacityBound), c.CPUPerRequestUS)
	b.WriteString("Owners: a peak labelled `target` is the target's; `≥` (loader) is the loader's limit, a lower bound for the target; " +
		"p95 includes the loader's calibrated share shown beside it; CPU % and memory are the target's, read from its cgroup and process tree; " +
		"run-to-run spread on a shared VM is the machine's.\n\n")
}

// writeAgents says what the loader was when it ran as several agents: each
// one's CPUs and its totals over the run.
func writeAgents(b *strings.Builder, agents []AgentRecord) {
	if len(agents) == 0 {
		return
	}
	fmt.Fprintf(b, "The loader ran as %d agent processes, each offering its share of every step, starting at one instant; "+
		"their latency histograms were merged into each step's (a step is the loader's when any agent's is).\n\n", len(agents))
	b.WriteString("| agent | CPUs | steps | requests | µs CPU / request | max CPU % of its CPUs | max added p95 ms | latest start ms |\n|--:|---|--:|--:|--:|--:|--:|--:|\n")
	for _, a := range agents {
		where := a.CPUs
		if a.Pod != "" {
			where = a.Pod
		}
		fmt.Fprintf(b, "| %d | %s | %d | %d | %.1f | %.0f | %.3f | %.3f |\n", a.Agent, where, a.Steps, a.Requests, a.CPUPerRequestUS,
			100*a.MaxLoaderCPU, a.MaxAddedP95MS, a.MaxStartOffsetMS)
	}
	b.WriteString("\n")
}

func capacityWord(bound string) string {
	if bound == "cap" {
		return "every rate passed up to the search's cap: a lower bound"
	}
	return "the next rate failed"
}

// writeRepetitions adds the spread over repetitions, when the run has any:
// the table above then holds medians.
func writeRepetitions(b *strings.Builder, run *Run) {
	repeated := false
	for _, t := range run.Targets {
		repeated = repeated || len(t.Repeats) > 1
	}
	if !repeated {
		return
	}
	b.WriteString("\n## Repetitions\n\n")
	b.WriteString("Each figure in the table above is the median over the target's repetitions (an observed value: the lower middle one for an even count). " +
		"Below: median, min–max and the 95 % confidence interval of the mean (Student's t); every repetition is in results.json `targets[].repeats` and spread.csv.\n\n")
	b.WriteString("| target | n | peak req/s | p95 ms @ fixed | CPU % | RSS peak MB |\n|---|--:|--:|--:|--:|--:|\n")
	for _, t := range run.Targets {
		if len(t.Repeats) < 2 {
			continue
		}
		cell := func(fig, format string) string {
			s := t.Spread(fig)
			if s.N == 0 {
				return "–"
			}
			f := func(v float64) string { return fmt.Sprintf(format, v) }
			return fmt.Sprintf("%s (%s–%s; CI %s–%s)", f(s.Median), f(s.Min), f(s.Max), f(s.CILo), f(s.CIHi))
		}
		peakCell := cell(FigPeakRPS, "%.0f")
		if n := t.LoaderBoundRepeats(); n > 0 {
			peakCell += fmt.Sprintf(", loader-bound in %d of %d", n, len(t.Repeats))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", t.Name, len(t.Repeats), peakCell,
			cell(FigP95, "%.2f"), cell(FigCPUPct, "%.0f"), cell(FigRSSPeakMB, "%.0f"))
	}
}

// memoryCell is the fixed run's RSS mean and peak and its PSS mean.
func memoryCell(r Row) string {
	pss := "–"
	if r.PSSFixedMeanMB > 0 {
		pss = fmt.Sprintf("%.0f", r.PSSFixedMeanMB)
	}
	return fmt.Sprintf("%.0f / %.0f, %s", r.RSSFixedMeanMB, r.RSSFixedPeakMB, pss)
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "unknown"
	}
	return sha
}
