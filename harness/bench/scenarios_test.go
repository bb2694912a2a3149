package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/database"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// TestDatabaseScenario is a short db run of one real target against a real
// PostgreSQL: chi serves the /db/ routes through pgx, the database's CPU is
// recorded beside the target's, erlang (whose driver is on hex.pm) is
// skipped with its fix, and nothing of the database is left afterwards.
func TestDatabaseScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and builds chi; run without -short")
	}
	if _, err := database.Binaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have PostgreSQL: %v", err)
		}
		t.Skip(err)
	}
	p, s := shippedRun(t, "db")
	second := scenario.Duration(time.Second)
	p.Warmup, p.Step, p.FixedDuration, p.Cooldown = second, second, 2*second, scenario.Duration(200*time.Millisecond)
	p.Search.MaxSteps, p.Search.Precision = 3, 0.25
	runID := "dbtest-" + time.Now().UTC().Format("150405")
	run, out := runShipped(t, p, s, runID, "chi", "erlang")
	got := byName(run)
	chi := got["chi"]
	if chi.Status != results.StatusOK {
		t.Fatalf("chi: %s: %s\n%s", chi.Status, chi.Reason, chi.LogTail)
	}
	dbChecks := 0
	for _, c := range chi.Verify.Checks {
		if strings.HasPrefix(c.Name, "db ") {
			dbChecks++
		}
	}
	if dbChecks < 10 {
		t.Errorf("chi: %d database checks in verify, want the /db/ routes checked", dbChecks)
	}
	row := readCSV(t, out)["chi"]
	for _, col := range []string{"db_cpu_pct", "db_rss_mean_mb", "db_cpu_at_peak_pct", "cpu_at_peak_pct", "peak_rps"} {
		if row[col] == "" || row[col] == "0.0" {
			t.Errorf("chi: summary.csv %s = %q, want a measured figure", col, row[col])
		}
	}
	if run.Manifest.Database == nil || run.Manifest.Database.SeedSeconds <= 0 {
		t.Errorf("manifest.database: %+v", run.Manifest.Database)
	}
	if e := got["erlang"]; e.Status != results.StatusSkipped || !strings.Contains(e.Reason, "epgsql") {
		t.Errorf("erlang: %s %q, want skipped naming epgsql", e.Status, e.Reason)
	}
	if procs := inCgroup("bench-db-" + runID); len(procs) > 0 {
		t.Errorf("database processes left after the run: %v", procs)
	}
}

// inCgroup lists the processes whose cgroup path names group.
func inCgroup(group string) []string {
	var out []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), group) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

// TestConnectionScenarioOnChi is a small connections run of one real
// target: a few hundred held connections against chi, each answering, the
// probe measured at every step, and the connections closed afterwards.
func TestConnectionScenarioOnChi(t *testing.T) {
	if testing.Short() {
		t.Skip("builds chi; run without -short")
	}
	p, s := shippedRun(t, "connections")
	d := func(v time.Duration) scenario.Duration { return scenario.Duration(v) }
	p.Warmup = d(time.Second)
	s.Hold.Steps, s.Hold.Every, s.Hold.Measure = []int{200, 400}, d(time.Second), d(time.Second)
	run, out := runShipped(t, p, s, "conntest-"+time.Now().UTC().Format("150405"), "chi")
	chi := byName(run)["chi"]
	if chi.Status != results.StatusOK || chi.Hold == nil {
		t.Fatalf("chi: %s: %s\n%s", chi.Status, chi.Reason, chi.LogTail)
	}
	h := chi.Hold
	if h.MaxConnections != 400 || h.Bound != "steps" {
		t.Fatalf("chi held %d (%s: %s), want both steps passed", h.MaxConnections, h.Bound, h.Note)
	}
	for _, st := range h.Steps {
		if st.Held != st.Connections || st.Probe == nil || st.Probe.Target == nil || st.Probe.Target.RSSMeanMB <= 0 {
			t.Errorf("step %d: held %d, probe %v", st.Connections, st.Held, st.Probe)
		}
	}
	if row := readCSV(t, out)["chi"]; row["max_connections"] != "400" || row["max_connections_bound"] != "steps" {
		t.Errorf("summary.csv: max_connections %q bound %q", row["max_connections"], row["max_connections_bound"])
	}
}

// shippedRun is the quick profile with one shipped scenario's rates applied.
func shippedRun(t *testing.T, name string) (*scenario.Profile, *scenario.Scenario) {
	t.Helper()
	dir := filepath.Join("..", "..", "scenarios")
	p, err := scenario.LoadProfile(dir, "quick")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.LoadScenario(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(s)
	return p, s
}

// runShipped runs the named reference targets in scenario s.
func runShipped(t *testing.T, p *scenario.Profile, s *scenario.Scenario, runID string, names ...string) (*results.Run, string) {
	t.Helper()
	all, err := targets.Discover(filepath.Join("..", "..", "targets"))
	if err != nil {
		t.Fatal(err)
	}
	picked, err := targets.Select(all, names)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run, out, err := Run(ctx, Options{Targets: picked, Profile: p, Scenario: s, Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: runID, Progress: testProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	return run, out
}
