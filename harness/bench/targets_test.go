package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
)

// buildable are the reference targets every machine of this project's kind
// builds and measures; phoenix needs hex.pm, which such a machine cannot reach.
var buildable = []string{"chi", "fastify", "axum", "erlang"}

// TestReferenceTargets is the conformance run: each real target is built,
// started in its budget, verified against the contract and given a short
// quick-profile run whose figures must all be positive.
func TestReferenceTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every target; run without -short")
	}
	root := filepath.Join("..", "..")
	p, err := scenario.LoadProfile(filepath.Join(root, "scenarios"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	second := scenario.Duration(time.Second)
	p.Warmup, p.Step, p.FixedDuration, p.Cooldown = second, second, 2*second, scenario.Duration(200*time.Millisecond)
	p.Search.MaxSteps, p.Search.Precision = 4, 0.25

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	run, dir := runBench(t, ctx, filepath.Join(root, "targets"), p)
	got := byName(run)
	rows := readCSV(t, dir)

	for _, name := range buildable {
		tr, ok := got[name]
		if !ok {
			t.Errorf("%s: no result (is targets/%s missing?)", name, name)
			continue
		}
		if tr.Status != results.StatusOK {
			t.Errorf("%s: status %s: %s\n%s", name, tr.Status, tr.Reason, tr.LogTail)
			continue
		}
		if !tr.Verify.OK() {
			t.Errorf("%s: verify: %s", name, tr.Verify.Problems())
		}
		for _, col := range []string{"peak_rps", "fixed_rps", "p95_ms", "success", "cpu_pct", "rss_mean_mb", "rss_peak_mb"} {
			if v, _ := strconv.ParseFloat(rows[name][col], 64); v <= 0 {
				t.Errorf("%s: summary.csv %s = %q, want > 0", name, col, rows[name][col])
			}
		}
		t.Logf("%s: peak %.0f req/s (%s), fixed p95 %.2f ms, CPU %.0f%%, RSS %.0f MB, %s", name, tr.Peak.Peak, tr.Peak.Bound,
			tr.Fixed.Step.Corrected.P95, tr.Fixed.CPUPct, tr.Fixed.Sample.RSSMeanMB, tr.Pinning)
	}

	phx, ok := got["phoenix"]
	if !ok {
		t.Fatal("phoenix: no result; it must be reported, not dropped")
	}
	if _, err := os.Stat(filepath.Join(root, "targets", "phoenix", "deps", "phoenix")); err != nil {
		if phx.Status != results.StatusSkipped || !strings.Contains(phx.Hint, "mix deps.get") || phx.Reason == "" {
			t.Errorf("phoenix without deps: status %s reason %q hint %q, want skipped with the mix deps.get hint", phx.Status, phx.Reason, phx.Hint)
		}
		if rows["phoenix"]["status"] != "skipped" {
			t.Errorf("phoenix missing from summary.csv as skipped: %v", rows["phoenix"])
		}
	} else if phx.Status != results.StatusOK {
		t.Errorf("phoenix with deps present: %s: %s", phx.Status, phx.Reason)
	}
}
