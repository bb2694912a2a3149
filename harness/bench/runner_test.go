package bench

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

func tinyProfile() *scenario.Profile {
	d := func(v time.Duration) scenario.Duration { return scenario.Duration(v) }
	return &scenario.Profile{Name: "tiny", Scenario: "api", Budget: "auto", LoaderRatio: 3, QuotaPeriod: d(10 * time.Millisecond),
		Warmup: d(300 * time.Millisecond), Step: d(500 * time.Millisecond), Cooldown: d(50 * time.Millisecond),
		FixedRatePerVCPU: 1250, FixedDuration: d(800 * time.Millisecond),
		Search: scenario.Search{SLOP95: d(50 * time.Millisecond), MinSuccess: 0.999, MinAchieved: 0.95, StartPerVCPU: 600,
			MaxRate: 200000, Growth: 2, Precision: 0.25, MaxSteps: 3, LoaderCPUGuard: 0.85},
		Loader: testLoader}
}

func apiScenario(t *testing.T) *scenario.Scenario {
	s, err := scenario.LoadScenario(filepath.Join("..", "..", "scenarios"), "api")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runBench(t *testing.T, ctx context.Context, root string, p *scenario.Profile) (*results.Run, string) {
	t.Helper()
	return runScenario(t, ctx, root, p, apiScenario(t))
}

func runScenario(t *testing.T, ctx context.Context, root string, p *scenario.Profile, s *scenario.Scenario) (*results.Run, string) {
	t.Helper()
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	run, dir, err := Run(ctx, Options{Targets: all, Profile: p, Scenario: s, Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: "test-" + strconv.Itoa(os.Getpid()), Progress: testProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	return run, dir
}

func byName(run *results.Run) map[string]results.Target {
	out := map[string]results.Target{}
	for _, t := range run.Targets {
		out[t.Name] = t
	}
	return out
}

func readCSV(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		out[row["target"]] = row
	}
	return out
}

func pidFrom(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("target never wrote its PID: %v", err)
	}
	pid, _ := strconv.Atoi(string(b))
	return pid
}

func TestRunMeasuresSkipsAndSurvivesCrashes(t *testing.T) {
	root := t.TempDir()
	pids := t.TempDir()
	writeTarget(t, root, "good", "release: [target.yaml]\n", map[string]string{"PIDFILE": filepath.Join(pids, "good")})
	writeTarget(t, root, "crashy", "", map[string]string{"PIDFILE": filepath.Join(pids, "crashy"), "DIE_AFTER": "400"})
	writeTarget(t, root, "broken", "", map[string]string{"BREAK": "json"})
	writeTarget(t, root, "notool", "toolchain:\n  - bin: no-such-compiler-xyz\n    hint: apt-get install -y xyz-compiler\n", nil)

	prof := tinyProfile()
	prof.Loader.ConnectionsPerVCPU = 60
	run, dir := runBench(t, context.Background(), root, prof)
	got := byName(run)

	good := got["good"]
	if good.Status != results.StatusOK || good.Peak == nil || good.Peak.Peak <= 0 || good.Fixed == nil {
		t.Fatalf("good: %+v", good)
	}
	// Its release is what its target.yaml lists (here the file itself).
	if fi, err := os.Stat(filepath.Join(root, "good", "target.yaml")); err != nil || good.ReleaseMB != float64(fi.Size())/(1<<20) {
		t.Errorf("good: release %.6f MB, want its target.yaml's size (%v)", good.ReleaseMB, err)
	}
	// Its connections are capped by its budget, and no step exceeds the cap.
	if want := prof.Loader.For(good.VCPUs, nil).Connections; good.Connections != want || want >= prof.Loader.Connections {
		t.Errorf("good: the loader could open %d connections, want %d (60 per vCPU of %.3g)", good.Connections, want, good.VCPUs)
	}
	for _, s := range good.Peak.Steps {
		if s.Step.Connections > good.Connections {
			t.Errorf("step at %.0f req/s opened %d connections, over the cap of %d", s.Rate, s.Step.Connections, good.Connections)
		}
	}
	crashy := got["crashy"]
	if crashy.Status != results.StatusFailed || !strings.Contains(crashy.Reason, "target exited") ||
		!strings.Contains(crashy.LogTail, "dying on purpose") {
		t.Fatalf("crashy: status %s reason %q log tail %q", crashy.Status, crashy.Reason, crashy.LogTail)
	}
	if broken := got["broken"]; broken.Status != results.StatusFailed || !strings.Contains(broken.Reason, "verify: json") || broken.Fixed != nil {
		t.Fatalf("broken: measured or wrong reason: %s %q", broken.Status, broken.Reason)
	}
	notool := got["notool"]
	if notool.Status != results.StatusSkipped || notool.Hint != "apt-get install -y xyz-compiler" || !strings.Contains(notool.Reason, "no-such-compiler-xyz") {
		t.Fatalf("notool: %+v", notool)
	}

	rows := readCSV(t, dir)
	g := rows["good"]
	for _, col := range []string{"peak_rps", "fixed_rps", "p50_ms", "p95_ms", "p99_ms", "success", "cpu_pct", "rss_mean_mb", "rss_peak_mb"} {
		if v, _ := strconv.ParseFloat(g[col], 64); v <= 0 {
			t.Errorf("summary.csv good.%s = %q, want > 0", col, g[col])
		}
	}
	if g["status"] != "ok" || rows["notool"]["status"] != "skipped" || rows["crashy"]["status"] != "failed" || rows["crashy"]["peak_bound"] != "error" {
		t.Errorf("csv statuses: %v", rows)
	}
	for _, name := range []string{"good", "crashy"} {
		if pid := pidFrom(t, filepath.Join(pids, name)); alive(pid) {
			t.Errorf("%s (pid %d) still running after the run", name, pid)
		}
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "latest")); err != nil {
		t.Errorf("results/latest: %v", err)
	}
}

func TestInterruptWritesPartialResultsAndLeavesNoProcess(t *testing.T) {
	root := t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "pid")
	writeTarget(t, root, "slow", "", map[string]string{"PIDFILE": pidfile})
	writeTarget(t, root, "zlater", "", nil)
	p := tinyProfile()
	p.FixedDuration = scenario.Duration(time.Minute) // interrupted long before it ends

	ctx := interruptUnderLoad(t, pidfile)
	start := time.Now()
	run, dir := runBench(t, ctx, root, p)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("interrupted run took %s to stop", d)
	}
	disk, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !disk.Manifest.Interrupted || len(disk.Targets) != 1 || len(run.Targets) != 1 {
		t.Fatalf("interrupted=%v, %d targets on disk", disk.Manifest.Interrupted, len(disk.Targets))
	}
	slow := disk.Targets[0]
	if slow.Status != results.StatusFailed || !strings.HasPrefix(slow.Reason, "interrupted") || slow.Warmup == nil {
		t.Fatalf("slow: status %s reason %q warmup kept: %v", slow.Status, slow.Reason, slow.Warmup != nil)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, "summary.md")); !strings.Contains(string(md), "Interrupted") {
		t.Error("summary.md does not say the run was interrupted")
	}
	if pid := pidFrom(t, pidfile); alive(pid) {
		t.Fatalf("target pid %d survived the interrupt", pid)
	}
}

// unpinnedRuntime starts targets as the local runtime does, but reports
// them as a machine without a usable cgroup would: unpinned.
type unpinnedRuntime struct{ *runtimes.Local }

type unpinnedInstance struct{ runtimes.Instance }

func (unpinnedInstance) Unpinned() bool { return true }

func (r unpinnedRuntime) Start(ctx context.Context, m *targets.Manifest, spec runtimes.Spec) (runtimes.Instance, error) {
	inst, err := r.Local.Start(ctx, m, spec)
	if err != nil {
		return nil, err
	}
	return unpinnedInstance{inst}, nil
}

// A target whose budget the runtime could not enforce is still measured,
// and its record and summary.csv row say it ran unpinned.
func TestRunRecordsAnUnpinnedTarget(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "loose", "", nil)
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	run, dir, err := Run(context.Background(), Options{Targets: all, Profile: tinyProfile(), Scenario: apiScenario(t),
		Runtime: unpinnedRuntime{&runtimes.Local{}}, ResultsDir: t.TempDir(), RunID: "test-unpinned-" + strconv.Itoa(os.Getpid()),
		Progress: testProgress(t)})
	if err != nil {
		t.Fatal(err)
	}
	loose := byName(run)["loose"]
	if loose.Status != results.StatusOK || !loose.Unpinned {
		t.Fatalf("loose: status %s, unpinned %v; want measured and unpinned", loose.Status, loose.Unpinned)
	}
	if got := readCSV(t, dir)["loose"]["unpinned"]; got != "true" {
		t.Errorf("summary.csv loose.unpinned = %q, want true", got)
	}
}

// The scenario's env reaches the target, and the runtime's GC figures
// cover the fixed run exactly: not the verification, the warm-up or the
// peak search.
func TestFixedRunCarriesTheRuntimesGCFigures(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "collected", "", nil)
	writeTarget(t, root, "plain", "", map[string]string{"NO_GC": "1"})
	s := apiScenario(t)
	s.Env = map[string]string{contract.LiveObjectsEnv: "1234"}
	prof := tinyProfile()
	prof.Search.MaxSteps = 1
	run, dir := runScenario(t, context.Background(), root, prof, s)
	got := byName(run)

	c := got["collected"]
	if c.Status != results.StatusOK || c.Fixed == nil || c.Fixed.GC == nil {
		t.Fatalf("collected: status %s, fixed %+v", c.Status, c.Fixed)
	}
	g := c.Fixed.GC
	if g.LiveObjects != 1234 {
		t.Errorf("live objects %d, want the scenario's 1234", g.LiveObjects)
	}
	if g.Collections == nil || uint64(*g.Collections) != c.Fixed.Step.Requests {
		t.Errorf("the GC window saw %v requests, the fixed run sent %d", g.Collections, c.Fixed.Step.Requests)
	}
	// The plain target is the reference handler alone: it reports no
	// collector, and its GC cells stay empty.
	p := got["plain"]
	if p.Fixed == nil || p.Fixed.GC == nil || p.Fixed.GC.Runtime != contract.GCRuntimeNone {
		t.Fatalf("plain: %+v", p.Fixed)
	}
	rows := readCSV(t, dir)
	if want := strconv.FormatUint(c.Fixed.Step.Requests, 10); rows["collected"]["gc_collections"] != want || rows["collected"]["gc_pause_p99_ms"] != "0.020" {
		t.Errorf("collected: gc_collections %q (want %s), gc_pause_p99_ms %q", rows["collected"]["gc_collections"], want, rows["collected"]["gc_pause_p99_ms"])
	}
	for _, col := range []string{"gc_collections", "gc_pause_p99_ms", "gc_pause_max_ms", "gc_largest_process_ms"} {
		if v := rows["plain"][col]; v != "" {
			t.Errorf("plain: %s = %q, want empty (no collector reported)", col, v)
		}
	}
}

// A connection-scale scenario holds each step's connections against a
// real server process, probes it, and stops at a step the machine's limits
// refuse, naming the limit: here a million connections against
// RLIMIT_NOFILE.
func TestHoldRunStepsUpToTheLoadersLimit(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "held", "", nil)
	s := apiScenario(t)
	d := func(v time.Duration) scenario.Duration { return scenario.Duration(v) }
	s.Hold = &scenario.Hold{Steps: []int{50, 120, 1000000}, Every: d(200 * time.Millisecond), Path: "/json", Measure: d(500 * time.Millisecond),
		SLOP99: d(50 * time.Millisecond), DialRate: 2000, Sources: 2}
	run, dir := runScenario(t, context.Background(), root, tinyProfile(), s)
	h := byName(run)["held"]
	if h.Status != results.StatusOK || h.Hold == nil {
		t.Fatalf("held: status %s (%s), hold %+v", h.Status, h.Reason, h.Hold)
	}
	res := h.Hold
	if res.MaxConnections != 120 || res.Bound != peak.BoundLoader || !res.LowerBound() || len(res.Steps) != 3 {
		t.Fatalf("max %d bound %s steps %d, want 120, loader, 3 (note %q)", res.MaxConnections, res.Bound, len(res.Steps), res.Note)
	}
	for _, st := range res.Steps[:2] {
		if !st.Pass || st.Held != st.Connections || st.Probe == nil || st.HeldRequests < int64(st.Connections) {
			t.Errorf("step %d: pass %v held %d probe %v held requests %d (%s)", st.Connections, st.Pass, st.Held, st.Probe != nil, st.HeldRequests, st.Why)
		}
	}
	if last := res.Steps[2]; last.Probe != nil || last.Limit != peak.BoundLoader || !strings.Contains(last.Why, "RLIMIT_NOFILE") {
		t.Errorf("the million step: limit %q why %q, want it refused by RLIMIT_NOFILE", last.Limit, last.Why)
	}
	row := readCSV(t, dir)["held"]
	if row["max_connections"] != "120" || row["max_connections_bound"] != "loader" || row["peak_bound"] != "" {
		t.Errorf("summary.csv: max_connections %q bound %q peak_bound %q", row["max_connections"], row["max_connections_bound"], row["peak_bound"])
	}
}
