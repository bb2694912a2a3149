package crosscheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

// Scenario is the request mix a cross-check runs: oha sends one fixed
// request, so the mix must be a single GET without parameters.
const Scenario = "json"

// Options configure a cross-check.
type Options struct {
	Targets   []*targets.Manifest
	Profile   *scenario.Profile
	Scenario  *scenario.Scenario
	Reference *scenario.Reference
	// Runtime builds and starts the targets, for both sides.
	Runtime *runtimes.Local
	// ResultsDir is the parent of run directories (results/).
	ResultsDir string
	RunID      string
	Command    []string
	// Oha is the oha binary.
	Oha      string
	Progress *bench.Progress
	// KeepLoaderAwake holds the loader's CPUs in the polling idle state for
	// both sides (bench.Options.KeepLoaderAwake): oha waits on them too.
	KeepLoaderAwake bool
	// Pairs is how many times each target is measured on the same arrivals
	// by both loaders, alternating (at least once): the peaks compared are
	// the medians, since one search's peak at a knee moves by 20 % from run
	// to run here.
	Pairs int
}

// Report is crosscheck.json: both sides' raw steps and the comparison.
type Report struct {
	RunID    string      `json:"run_id"`
	Command  []string    `json:"command"`
	Profile  string      `json:"profile"`
	Scenario string      `json:"scenario"`
	Plan     cpuset.Plan `json:"plan"`
	// LoaderIdle is the loader CPUs' idle state, the same for both sides.
	LoaderIdle cpuset.IdleRecord `json:"loader_cpu_idle"`
	OhaPath    string            `json:"oha_path"`
	// Pairs is Options.Pairs as run.
	Pairs      int       `json:"pairs"`
	OhaVersion string    `json:"oha_version"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	// Arrivals is how each loader's requests reached a reference server
	// (probeArrivals); ArrivalsErr says why the probe could not be made.
	Arrivals    []ArrivalRow   `json:"arrivals"`
	ArrivalsErr string         `json:"arrivals_error,omitempty"`
	Targets     []TargetRecord `json:"targets"`
	Rows        []Row          `json:"rows"`
	Verdict     string         `json:"verdict"`
	Pass        bool           `json:"pass"`
}

// TargetRecord is everything measured for one target.
type TargetRecord struct {
	Target  string        `json:"target"`
	Harness HarnessRecord `json:"harness"`
	Pairs   []Pair        `json:"pairs"`
}

// Pair is one measurement of a target on the same arrivals by both
// loaders: the harness with oha's arrivals (ohaShaped), then oha.
type Pair struct {
	Shaped HarnessRecord `json:"harness_oha_arrivals"`
	Oha    OhaRecord     `json:"oha"`
}

// HarnessRecord is one of the harness's own runs of the target (bench.Run).
type HarnessRecord struct {
	// RunDir holds its results.json, summary.md and logs.
	RunDir string          `json:"run_dir"`
	Result *results.Target `json:"result,omitempty"`
	Err    string          `json:"error,omitempty"`
}

// OhaRecord is oha's run of the target: every step with oha's own CPU.
type OhaRecord struct {
	Pinning string       `json:"pinning,omitempty"`
	Warmup  *OhaObs      `json:"warmup,omitempty"`
	Fixed   *OhaObs      `json:"fixed,omitempty"`
	Peak    *peak.Result `json:"peak,omitempty"`
	// Runs are oha's invocations in order, with their CPU figures.
	Runs []OhaRun `json:"runs"`
	Err  string   `json:"error,omitempty"`
}

// OhaObs is one oha step as the peak search sees it.
type OhaObs struct {
	peak.Observation
	Phase string `json:"phase"`
}

// Run measures every target with the harness and with oha, writes
// crosscheck.md and crosscheck.json into results/<run-id>/ and returns the
// report and that directory. The error is non-nil when a requirement fails
// or the run could not be made; the files are written either way.
func Run(ctx context.Context, o Options) (*Report, string, error) {
	if err := checkScenario(o.Scenario); err != nil {
		return nil, "", err
	}
	plan, err := bench.PlanFor(o.Profile)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(o.ResultsDir, o.RunID)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, "", fmt.Errorf("create run dir: %w", err)
	}
	oha := Oha{Path: o.Oha}
	rep := &Report{RunID: o.RunID, Command: o.Command, Profile: o.Profile.Name, Scenario: o.Scenario.Name,
		Plan: plan, OhaPath: o.Oha, Pairs: max(o.Pairs, 1), Start: time.Now().UTC()}
	var release func()
	rep.LoaderIdle, release = bench.HoldLoaderAwake(o.KeepLoaderAwake, plan.LoaderCPUs, o.Progress.Logf)
	defer release()
	if rep.OhaVersion, err = oha.Version(ctx); err != nil {
		return nil, dir, err
	}
	o.Progress.Logf("crosscheck %s: profile %s, scenario %s, %s; oha %s", o.RunID, o.Profile.Name, o.Scenario.Name, plan, rep.OhaVersion)
	// The probe's own loader runs here: pinned like the targets' loaders.
	if err := bench.PinLoader(plan); err != nil {
		return rep, dir, err
	}
	if rep.Arrivals, err = probeArrivals(ctx, o, oha, plan); err != nil {
		rep.ArrivalsErr = err.Error()
		o.Progress.Logf("arrival probe FAILED: %v", err)
	}

	for _, m := range o.Targets {
		if ctx.Err() != nil {
			break
		}
		rec := measureTarget(ctx, o, oha, plan, dir, m)
		rep.Targets = append(rep.Targets, rec)
		var shaped, ohas []Side
		for _, p := range rec.Pairs {
			shaped, ohas = append(shaped, harnessSide(p.Shaped)), append(ohas, ohaSide(p.Oha))
		}
		rep.Rows = append(rep.Rows, Compare(m.Name, harnessSide(rec.Harness), Median(shaped), Median(ohas)))
	}
	rep.End = time.Now().UTC()
	rep.Verdict, rep.Pass = Verdict(rep.Rows)
	if err := write(dir, rep); err != nil {
		return rep, dir, err
	}
	if ctx.Err() != nil {
		return rep, dir, fmt.Errorf("interrupted: partial cross-check written: %w", ctx.Err())
	}
	if !rep.Pass {
		return rep, dir, errors.New(rep.Verdict)
	}
	return rep, dir, nil
}

// checkScenario refuses a mix oha cannot send: it repeats one request.
func checkScenario(s *scenario.Scenario) error {
	if len(s.Requests) != 1 {
		return fmt.Errorf("scenario %s has %d kinds of request; oha sends one fixed request", s.Name, len(s.Requests))
	}
	r := s.Requests[0]
	if r.Method != "GET" || r.Body != "" || strings.Contains(r.Path, "{") {
		return fmt.Errorf("scenario %s: %s %s is not one fixed GET, which is all oha sends here", s.Name, r.Method, r.Path)
	}
	return nil
}

// measureTarget measures a target with the harness as `make bench` runs
// it, then o.Pairs times with the harness on oha's arrivals and with oha,
// back to back: each pair offers the target the same load, so a drift of
// the machine's speed during the run reaches both loaders alike.
func measureTarget(ctx context.Context, o Options, oha Oha, plan cpuset.Plan, dir string, m *targets.Manifest) TargetRecord {
	rec := TargetRecord{Target: m.Name}
	// Calibrated, as `make bench` is: its capacity may label a peak.
	rec.Harness = runHarness(ctx, o, o.Profile, true, dir, "harness-"+m.Name, m)
	pairs := max(o.Pairs, 1)
	for i := range pairs {
		if ctx.Err() != nil {
			break
		}
		id, ohaLog := "harness-oha-arrivals-"+m.Name, m.Name+"-oha.log"
		if pairs > 1 {
			o.Progress.Logf("%s: same-arrivals pair %d of %d", m.Name, i+1, pairs)
			id, ohaLog = fmt.Sprintf("%s-%d", id, i+1), fmt.Sprintf("%s-oha-%d.log", m.Name, i+1)
		}
		var p Pair
		p.Shaped = runHarness(ctx, o, ohaShaped(o.Profile), false, dir, id, m)
		// bench.Run pinned this process to the loader's CPUs; pin it again
		// in case a later change stops doing so: the oha side's sampler and
		// waiting must stay off the target's CPUs too.
		if err := bench.PinLoader(plan); err != nil {
			p.Oha.Err = err.Error()
		} else if ctx.Err() == nil {
			like := p.Shaped
			if like.Result == nil {
				like = rec.Harness
			}
			p.Oha = runOha(ctx, o, oha, plan, m, filepath.Join(dir, "logs", ohaLog), matchConnections(like, o.Profile.Loader.For(plan.Budget, o.Scenario)))
		}
		rec.Pairs = append(rec.Pairs, p)
	}
	return rec
}

// runHarness is the harness measuring the target alone, as `make bench`
// does with profile p, into <dir>/<id>/.
func runHarness(ctx context.Context, o Options, p *scenario.Profile, calibrated bool, dir, id string, m *targets.Manifest) HarnessRecord {
	rec := HarnessRecord{RunDir: filepath.Join(dir, id)}
	o.Progress.Logf("%s: the harness's run %s (release-ahead %s, spin below %.0f req/s)", m.Name, rec.RunDir, p.Loader.ReleaseAhead.D(), p.Loader.SpinBelow)
	exe, _ := os.Executable()
	run, _, err := bench.Run(ctx, bench.Options{
		Targets: []*targets.Manifest{m}, Profile: p, Scenario: o.Scenario, Reference: o.Reference,
		Runtime: o.Runtime, ResultsDir: dir, RunID: id, Command: o.Command, Progress: o.Progress,
		Calibrate: calibrated && exe != "", HarnessExe: exe, KeepLoaderAwake: o.KeepLoaderAwake,
	})
	// bench.Run points <its results dir>/latest at its run; inside this
	// run's directory that link means nothing, and results/latest stays
	// the last `make bench`.
	if fi, lerr := os.Lstat(filepath.Join(dir, "latest")); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		_ = os.Remove(filepath.Join(dir, "latest"))
	}
	if run != nil && len(run.Targets) > 0 {
		rec.Result = &run.Targets[0]
	}
	if err != nil {
		rec.Err = err.Error()
	}
	return rec
}

// runOha starts the target as the harness does (same runtime, CPU plan and
// CFS period) and measures it with oha, step for step as runner.go does:
// warm-up, fixed-rate run, then peak.Search with the same config, a
// cooldown between steps.
func runOha(ctx context.Context, o Options, oha Oha, plan cpuset.Plan, m *targets.Manifest, logPath string,
	conns func(phase string, rate float64) int) (rec OhaRecord) {
	p := o.Progress
	fail := func(format string, a ...any) OhaRecord {
		rec.Err = fmt.Sprintf(format, a...)
		p.Logf("%s: oha side FAILED: %s", m.Name, rec.Err)
		return rec
	}
	if err := o.Runtime.Prepare(ctx, m, logPath); err != nil {
		return fail("prepare: %v", err)
	}
	inst, ctx, stop, err := bench.StartTarget(ctx, o.Runtime, o.Profile, o.Scenario.TargetEnv(), plan, m, logPath, o.RunID+"-oha-"+m.Name)
	if err != nil {
		return fail("%v", err)
	}
	defer stop(p.Logf)
	rec.Pinning = inst.Pinning()
	p.Logf("%s: oha side: up at %s (%s), oha on CPUs %s", m.Name, inst.URL(), rec.Pinning, cpuset.List(plan.LoaderCPUs))
	tsamp := sample.Start(ctx, inst.Usage(), 200*time.Millisecond)
	defer tsamp.Stop()

	lp := o.Profile.Loader
	url := strings.TrimRight(inst.URL(), "/") + o.Scenario.Requests[0].Path
	observe := func(phase string, rate float64, d time.Duration) (peak.Observation, error) {
		from := tsamp.Mark(ctx)
		run, err := oha.Run(ctx, OhaStep{URL: url, Rate: rate, Duration: d, Connections: conns(phase, rate),
			Timeout: lp.Timeout.D(), CPUs: plan.LoaderCPUs})
		to := tsamp.Mark(ctx)
		rec.Runs = append(rec.Runs, run)
		// The step's Vegeta (uncorrected) latencies stay zero: oha gives
		// only corrected ones. peak.Judge then blames a step that fell
		// behind on the loader whenever the target used under half its
		// budget, which is the rule's intent.
		obs := peak.Observation{Step: run.Step, LoaderCPU: run.LoaderCPU, TargetCPU: -1}
		if ts := tsamp.Between(from, to); ts.Samples > 0 {
			obs.TargetCPU = ts.CPUMean / 100 / plan.Budget
			obs.Target = &ts
		}
		select {
		case <-inst.Done():
			err = fmt.Errorf("target exited during %s: %v", phase, inst.Err())
		default:
		}
		if err == nil {
			s := obs.Step
			p.Logf("%s: oha %-7s offered %7.0f/s achieved %7.0f/s success %.4f p95 %7.2f ms CPU %3.0f%% oha %3.0f%%",
				m.Name, phase, s.Offered, s.Achieved, s.Success, s.Corrected.P95, 100*obs.TargetCPU, 100*obs.LoaderCPU)
		}
		return obs, err
	}
	cooldown := func() {
		select {
		case <-ctx.Done():
		case <-time.After(o.Profile.Cooldown.D()):
		}
	}

	fixedRate := o.Profile.FixedRatePerVCPU * plan.Budget
	if w := o.Profile.Warmup.D(); w > 0 {
		obs, err := observe("warmup", fixedRate, w)
		rec.Warmup = &OhaObs{Observation: obs, Phase: "warmup"}
		if err != nil {
			return fail("warmup: %v", err)
		}
		cooldown()
	}
	obs, err := observe("fixed", fixedRate, o.Profile.FixedDuration.D())
	rec.Fixed = &OhaObs{Observation: obs, Phase: "fixed"}
	if err != nil {
		return fail("fixed-rate run: %v", err)
	}
	cooldown()

	// The search as runner.go configures it, with the criteria that apply
	// to any loader; peak.Criteria's loader-latency guard and calibrated
	// capacity, if present, describe the harness's own loader (its sentinel,
	// its calibration) and stay zero (off) for oha.
	s := o.Profile.Search
	first := true
	res, err := peak.Search(ctx, peak.Config{
		Start: s.StartPerVCPU * plan.Budget, Max: s.MaxRate, Growth: s.Growth, Precision: s.Precision, MaxSteps: s.MaxSteps,
		Criteria: peak.Criteria{SLOP95: s.SLOP95.D(), MinSuccess: s.MinSuccess, MinAchieved: s.MinAchieved, LoaderGuard: s.LoaderCPUGuard},
	}, func(ctx context.Context, rate float64) (peak.Observation, error) {
		if !first {
			cooldown()
		}
		first = false
		return observe("peak", rate, o.Profile.Step.D())
	})
	rec.Peak = &res
	if err != nil {
		return fail("peak search: %v", err)
	}
	p.Logf("%s: oha peak %.0f req/s (%s-bound): %s", m.Name, res.Peak, res.Bound, res.Note)
	return rec
}

// connections is oha's -c for a phase. oha opens all of them and rotates
// requests through them, and each one's first request pays its TCP
// connect, while the harness's loader reuses the few it needs (2-3 at the
// fixed rate, up to its cap near a peak). At the fixed rate, -c at the cap
// would put a connect into 12 % of the requests, right in the p95
// (measured here: chi on 1/3 CPU at 417 req/s, oha p95 0.59-0.67 ms with
// -c 512, 0.39-0.46 ms with -c 16); the peak search needs the cap, or oha's
// queue for a free connection would stand in for the target's.
func connections(phase string, lp scenario.Loader) int {
	if phase == "peak" {
		return lp.Connections
	}
	return lp.Workers
}

// matchConnections gives oha, step for step, as many connections as the
// harness's loader had open at the nearest rate it measured. A target
// holding 512 busy connections is not the target holding the 30 its load
// needs: measured here, chi on 1/3 CPU passed 8,000 req/s at p95 20 ms
// over the harness's ~30 connections and failed it at 83 ms over oha's
// 512, so unmatched counts compare the connection count, not the loaders.
// Without the harness's record, it falls back to connections.
func matchConnections(h HarnessRecord, lp scenario.Loader) func(phase string, rate float64) int {
	type point struct {
		rate  float64
		conns int
	}
	var pts []point
	if t := h.Result; t != nil {
		if t.Fixed != nil {
			pts = append(pts, point{t.Fixed.Step.Offered, t.Fixed.Step.Connections})
		}
		if t.Peak != nil {
			for _, s := range t.Peak.Steps {
				pts = append(pts, point{s.Rate, s.Step.Connections})
			}
		}
	}
	return func(phase string, rate float64) int {
		best, n := math.Inf(1), 0
		for _, p := range pts {
			if d := math.Abs(p.rate - rate); d < best && p.conns > 0 {
				best, n = d, p.conns
			}
		}
		if n == 0 {
			return connections(phase, lp)
		}
		return max(n, 2)
	}
}

func harnessSide(h HarnessRecord) Side {
	t := h.Result
	switch {
	case t == nil:
		return Side{Reason: orElse(h.Err, "no result")}
	case t.Status != results.StatusOK:
		return Side{Reason: fmt.Sprintf("%s: %s", t.Status, t.Reason)}
	case t.Peak == nil || t.Fixed == nil:
		return Side{Reason: "no peak or fixed-rate run recorded"}
	}
	return Side{OK: true, Peak: t.Peak.Peak, Bound: t.Peak.Bound, FixedP95: t.Fixed.Step.Corrected.P95}
}

func ohaSide(r OhaRecord) Side {
	if r.Err != "" || r.Peak == nil || r.Fixed == nil {
		return Side{Reason: orElse(r.Err, "not run")}
	}
	return Side{OK: true, Peak: r.Peak.Peak, Bound: r.Peak.Bound, FixedP95: r.Fixed.Step.Corrected.P95}
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// write saves crosscheck.json and crosscheck.md.
func write(dir string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode crosscheck.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crosscheck.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write crosscheck.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crosscheck.md"), []byte(rep.Markdown()), 0o644); err != nil {
		return fmt.Errorf("write crosscheck.md: %w", err)
	}
	return nil
}

// Markdown is crosscheck.md: how the run was made, the arrival probe, the
// table, the verdict.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Cross-check %s\n\n", r.RunID)
	fmt.Fprintf(&b, "The harness against oha (%s, `%s`), profile `%s`, scenario `%s`: %s. "+
		"oha runs `-q RATE --latency-correction` (open model; each latency counted from when oha's pacer released the request, "+
		"so time waiting for a free connection counts), with `-c`, step for step, the connections the harness had open at the nearest rate it measured (a target holding 512 busy connections is not the target holding the 30 its load needs), "+
		"pinned with taskset to the loader's CPUs. Each target is measured by the harness as `make bench` runs it, then %d time(s) by the pair of "+
		"the harness sending oha's load (hits due within %s leave together, no spinning, requests rotated over every open connection) and oha, back to back; the pairs' peaks are compared by their medians. "+
		"Every measurement starts the target afresh and puts it through the same warm-up, fixed-rate run and peak search. "+
		"The loader's CPUs idled %s for all.\n\n",
		r.OhaVersion, r.OhaPath, r.Profile, r.Scenario, r.Plan, r.Pairs, OhaTick, r.LoaderIdle)
	b.WriteString("## Arrivals\n\nHow each loader's requests reached a reference server on the target's CPUs (gaps between consecutive requests as the server's event loop saw them). " +
		"A target pays a wake-up per burst, so the same rate costs it less CPU in bunched arrivals than in evenly paced ones.\n\n")
	if r.ArrivalsErr != "" {
		fmt.Fprintf(&b, "**The arrival probe failed:** %s\n\n", r.ArrivalsErr)
	}
	b.WriteString(ArrivalsMarkdown(r.Arrivals))
	b.WriteString("\n## Peaks and fixed-rate p95\n\nThe loaders are compared on the same arrivals (the harness with oha's against oha); " +
		"the harness's own peak beside oha's is the loaders and the arrivals' shape together.\n\n")
	b.WriteString(Markdown(r.Rows))
	return b.String()
}
