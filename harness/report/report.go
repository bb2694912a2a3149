package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/benchharness/harness/harness/results"
)

// ChartsDir is where a run's charts go, below the run directory.
const ChartsDir = "charts"

// Generated lists what Generate wrote.
type Generated struct {
	Files    []string
	Charts   []Chart
	Verdicts []Verdict
}

// Generate rewrites a run's summary.md, charts/ and report.md from its
// results.json alone: nothing is measured again, so a report can be redone
// after the claims or the charts change. claims may be nil (no verdicts).
func Generate(dir string, claims *Claims) (*Generated, error) {
	run, err := results.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	if run.Manifest == nil {
		return nil, fmt.Errorf("%s: results.json has no manifest", dir)
	}
	g := &Generated{}
	var chartErr error
	var summary bytes.Buffer
	if err := results.WriteMarkdown(&summary, run); err != nil {
		return nil, fmt.Errorf("render summary.md: %w", err)
	}
	if err := writeFile(dir, "summary.md", summary.Bytes(), g); err != nil {
		return nil, err
	}
	// A chart that cannot be drawn fails the command, after report.md is
	// written with the others.
	g.Charts, chartErr = WriteCharts(run, filepath.Join(dir, ChartsDir))
	for _, c := range g.Charts {
		g.Files = append(g.Files, filepath.Join(dir, ChartsDir, c.Name+".png"), filepath.Join(dir, ChartsDir, c.Name+".svg"))
	}
	if claims != nil {
		g.Verdicts = Judge(run, claims)
	}
	var rep bytes.Buffer
	if err := WriteReport(&rep, run, g.Charts, claims, g.Verdicts); err != nil {
		return nil, fmt.Errorf("render report.md: %w", err)
	}
	if err := writeFile(dir, "report.md", rep.Bytes(), g); err != nil {
		return nil, err
	}
	if chartErr != nil {
		return g, fmt.Errorf("charts: %w", chartErr)
	}
	return g, nil
}

func writeFile(dir, name string, b []byte, g *Generated) error {
	path := filepath.Join(dir, name)
	// Write then rename, so a reader never sees half a file.
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	g.Files = append(g.Files, path)
	return nil
}

// WriteReport writes report.md: how the run was made, the figures with their
// spread, every claim's verdict, and the charts as relative links.
func WriteReport(w io.Writer, run *results.Run, charts []Chart, claims *Claims, verdicts []Verdict) error {
	m := run.Manifest
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report: %s\n\n", m.RunID)
	b.WriteString("## How this run was made\n\n")
	b.WriteString(manifestInWords(run) + "\n\n")

	b.WriteString("## Figures\n\n")
	writeFigures(&b, run)

	if claims != nil {
		b.WriteString("\n## Claims\n\n")
		writeVerdicts(&b, claims, verdicts)
	}

	if len(charts) > 0 {
		b.WriteString("\n## Charts\n\n")
		b.WriteString("Each target keeps its colour in every chart. A hatched, lighter bar with `≥` is a loader-bound peak: a lower bound, not the target's peak.\n\n")
		for _, c := range charts {
			fmt.Fprintf(&b, "### %s\n\n%s ([SVG](%s/%s.svg)).\n\n![%s](%s/%s.png)\n\n", c.Title, c.About, ChartsDir, c.Name, c.Title, ChartsDir, c.Name)
		}
	}
	b.WriteString("The per-target notes (skipped, failed, loader-bound) are in [summary.md](summary.md); every measurement is in results.json.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// manifestInWords tells how the run was made, as a paragraph.
func manifestInWords(run *results.Run) string {
	m := run.Manifest
	var s []string
	mc := m.Machine
	cpu := mc.CPUModel
	if cpu == "" {
		cpu = "an unknown CPU"
	}
	s = append(s, fmt.Sprintf("Measured on %s with %d cores and %.0f GiB of memory (%s, kernel %s), from %s to %s UTC.",
		cpu, mc.Cores, mc.MemoryGB, orUnknown(mc.OS), orUnknown(mc.Kernel), m.Start.Format("2006-01-02 15:04"), m.End.Format("15:04")))
	if p := m.Profile; p != nil {
		s = append(s, fmt.Sprintf("Profile `%s` with scenario `%s` on the `%s` runtime: each target got %s vCPU (on CPU %s) and the loader CPU %s (a capacity of %s CPU); "+
			"a %s warm-up, a %s fixed-rate run at %s req/s per vCPU, then a peak search of %s steps (×%s ramp, bisected to %s%%) "+
			"where a step passes with ≥ %s%% success, ≥ %s%% of the offered rate achieved and p95 ≤ %s.",
			p.Name, scenarioName(m), m.Runtime, fmtNum(m.VCPUs), m.TargetCPUs, m.LoaderCPUs, fmtNum(m.LoaderCap),
			p.Warmup.D(), p.FixedDuration.D(), fmtNum(p.FixedRatePerVCPU), p.Step.D(), fmtNum(p.Search.Growth), fmtNum(100*p.Search.Precision),
			fmtNum(100*p.Search.MinSuccess), fmtNum(100*p.Search.MinAchieved), p.Search.SLOP95.D()))
	}
	reps := 1
	for _, t := range run.Targets {
		reps = max(reps, len(t.Repeats))
	}
	if reps > 1 {
		s = append(s, fmt.Sprintf("Each target was measured %d times against one running server; figures are medians, with min–max and the 95 %% confidence interval of the mean.", reps))
	} else {
		s = append(s, "Each target was measured once (no repetitions: no spread to report).")
	}
	dirty := ""
	if m.GitDirty {
		dirty = " with uncommitted changes"
	}
	s = append(s, fmt.Sprintf("Harness at git %s%s, built with %s; command `%s`.", orUnknown(m.GitSHA), dirty, orUnknown(m.GoVersion), strings.Join(m.Command, " ")))
	var tc []string
	for _, name := range sortedKeys(m.Toolchains) {
		var vs []string
		for _, bin := range sortedKeys(m.Toolchains[name]) {
			vs = append(vs, fmt.Sprintf("%s %s", bin, m.Toolchains[name][bin]))
		}
		if len(vs) > 0 {
			tc = append(tc, fmt.Sprintf("%s (%s)", name, strings.Join(vs, "; ")))
		}
	}
	if len(tc) > 0 {
		s = append(s, "Toolchains: "+strings.Join(tc, ", ")+".")
	}
	if r := m.Reference; r != nil {
		s = append(s, fmt.Sprintf("The article's figures are from %s, measured on %s vCPUs.", r.Source, fmtNum(r.VCPUs)))
	}
	if m.Interrupted {
		s = append(s, "**The run was interrupted**: the figures are what was measured before it stopped.")
	}
	return strings.Join(s, " ")
}

func scenarioName(m *results.Manifest) string {
	if m.Scenario == nil {
		return "?"
	}
	return m.Scenario.Name
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func writeFigures(b *strings.Builder, run *results.Run) {
	if isHold(run) {
		writeHoldFigures(b, run)
		return
	}
	b.WriteString("Medians over repetitions; with repetitions, the cell adds min–max. `≥` marks a loader-bound peak (a lower bound).\n\n")
	b.WriteString("| target | status | vCPU | n | peak req/s | peak / vCPU | p50 ms | p95 ms | p99 ms | CPU % | RSS peak MB |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, t := range run.Targets {
		if t.Status != results.StatusOK {
			fmt.Fprintf(b, "| %s | %s | %s | – | – | – | – | – | – | – | – |\n", t.Name, t.Status, fmtNum(t.VCPUs))
			continue
		}
		cell := func(fig string, scale float64) string {
			m := measure(run, t.Name, fig, scale)
			if !m.OK {
				return "–"
			}
			s := fmtNum(m.Value)
			if m.LowerBound {
				s = "≥ " + s
			}
			if m.Spread.N > 1 {
				s += fmt.Sprintf(" (%s–%s)", fmtNum(m.Spread.Min), fmtNum(m.Spread.Max))
			}
			return s
		}
		status := "ok"
		if t.Unpinned {
			status = "ok, unpinned"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", t.Name, status, fmtNum(t.VCPUs), len(t.Repetitions()),
			cell(results.FigPeakRPS, 1), cell(results.FigPeakRPS, perVCPU(run, t.Name)), cell(results.FigP50, 1), cell(results.FigP95, 1),
			cell(results.FigP99, 1), cell(results.FigCPUPct, 1), cell(results.FigRSSPeakMB, 1))
	}
}

// writeHoldFigures is a connection-scale run's figures: the most
// connections each target held, whose limit ended it, and what they cost.
func writeHoldFigures(b *strings.Builder, run *results.Run) {
	b.WriteString("`≥` marks a count ended by the loader's or the kernel's limit, or by the last step: a lower bound. summary.md has every step.\n\n")
	b.WriteString("| target | status | vCPU | max connections | bound | RSS per connection KiB | probe p99 ms at max | RSS peak MB |\n")
	b.WriteString("|---|---|--:|--:|---|--:|--:|--:|\n")
	for _, t := range run.Targets {
		if t.Status != results.StatusOK || t.Hold == nil {
			fmt.Fprintf(b, "| %s | %s | %s | – | – | – | – | – |\n", t.Name, t.Status, fmtNum(t.VCPUs))
			continue
		}
		h := t.Hold
		max := fmt.Sprintf("%d", h.MaxConnections)
		if h.LowerBound() {
			max = "≥ " + max
		}
		perConn := "–"
		if h.RSSPerConnKB > 0 {
			perConn = fmtNum(h.RSSPerConnKB)
		}
		fmt.Fprintf(b, "| %s | ok | %s | %s | %s | %s | %s | %s |\n", t.Name, fmtNum(t.VCPUs), max, h.Bound, perConn, fmtNum(h.P99AtMaxMS), fmtNum(t.RSSPeakMB))
	}
}

func writeVerdicts(b *strings.Builder, claims *Claims, verdicts []Verdict) {
	count := map[string]int{}
	for _, v := range verdicts {
		count[v.Verdict]++
	}
	fmt.Fprintf(b, "%d claims from `%s`: **%d hold, %d do not hold, %d not measured.** "+
		"A rule is applied to the median; a loader-bound peak counts as a lower bound, so it can confirm only \"at least\"; "+
		"a claim about something no scenario measures, about a target that did not run or ran unpinned, "+
		"or about one instance's absolute figure (peak req/s, memory) at a budget other than the claim's, is \"not measured\".\n\n",
		len(verdicts), claims.Name, count[Holds], count[DoesNotHold], count[NotMeasured])
	b.WriteString("| claim | says | verdict | measured | spread | rule |\n|---|---|---|---|---|---|\n")
	for _, v := range verdicts {
		verdict := v.Text()
		if v.Verdict == DoesNotHold {
			verdict = "**" + verdict + "**"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n", v.Claim.ID, cellText(v.Claim.Says), verdict, cellText(v.Measured),
			cellText(v.Spread), cellText(v.Rule))
	}
	b.WriteString("\nSources: ")
	var srcs []string
	for _, id := range sortedKeys(claims.Sources) {
		srcs = append(srcs, fmt.Sprintf("`%s` = %s", id, claims.Sources[id].Cite()))
	}
	b.WriteString(strings.Join(srcs, "; ") + ".\n\n### What each verdict rests on\n\n")
	for _, v := range verdicts {
		fmt.Fprintf(b, "- `%s` [%s] “%s”", v.Claim.ID, v.Claim.Source, strings.TrimSpace(v.Claim.Quote))
		if len(v.Notes) > 0 {
			b.WriteString(" — " + strings.Join(v.Notes, "; "))
		}
		b.WriteString("\n")
	}
}

// cellText keeps a table cell on one line and its pipes literal.
func cellText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
}
