// Package bench runs the pipeline for every target: prepare, start, verify,
// warm up, fixed-rate run, peak search, stop, and records the results.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/database"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/logline"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
	"github.com/benchharness/harness/harness/verify"
)

// Options configure a run.
type Options struct {
	Targets   []*targets.Manifest
	Profile   *scenario.Profile
	Scenario  *scenario.Scenario
	Reference *scenario.Reference
	Runtime   runtimes.Runtime
	// ResultsDir is the parent of run directories (results/).
	ResultsDir string
	RunID      string
	Command    []string
	Progress   *Progress
	// SampleEvery is the sampling interval; 200 ms when zero.
	SampleEvery time.Duration
	// Repeat is how many times each target's fixed-rate run and peak search
	// are made (1 when zero), against the same server after one warm-up.
	Repeat int
	// Calibrate measures the loader against the instant reference server
	// before the first target (package calibrate); HarnessExe is the
	// binary whose `refserver` command serves it on the target's CPUs.
	Calibrate  bool
	HarnessExe string
	// Plan, if set, is the CPU split to use instead of sizing the profile
	// to this machine (PlanFor): a cluster's target runs elsewhere, and the
	// loader is its agents (no LoaderCPUs: this process is not pinned).
	Plan *cpuset.Plan
	// Fleet, if set, is the loader: agents started by the caller (a
	// cluster's Job); Run records and closes it. It overrides Loaders.
	Fleet Fleet
	// Capacity, with Calibrate off, is the loader's capacity (req/s) the
	// caller knows from elsewhere, CapacitySource says where; 0: none.
	Capacity       float64
	CapacitySource string
	// Loaders is how many agent processes (package agent) make the loader,
	// each pinned to its share of the loader CPUs (agent.Groups); 0 keeps
	// the loader in this process; AutoLoaders picks (LoadersFor).
	Loaders int
	// KeepLoaderAwake holds the loader's CPUs in the polling idle state
	// for the run (cpuset.KeepAwake), as profile loader.cpu_idle: poll
	// asks. The command sets it; tests leave it off, since it writes to
	// the machine's sysfs.
	KeepLoaderAwake bool
}

// PlanFor sizes the CPU split of a profile to this machine.
func PlanFor(p *scenario.Profile) (cpuset.Plan, error) {
	cpus, err := cpuset.Given()
	if err != nil {
		return cpuset.Plan{}, err
	}
	if p.Budget == "auto" {
		return cpuset.Auto(cpus, p.LoaderRatio)
	}
	v, err := scenario.ParseBudget(p.Budget)
	if err != nil {
		return cpuset.Plan{}, err
	}
	plan, err := cpuset.Fixed(cpus, v, p.LoaderRatio)
	if err != nil {
		return cpuset.Plan{}, fmt.Errorf("profile %s: %w; use PROFILE=quick, which sizes itself to the machine", p.Name, err)
	}
	return plan, nil
}

// Run measures every target and writes results/<run-id>/. It returns the
// run directory; a cancelled ctx ends it early with what was measured.
func Run(ctx context.Context, o Options) (*results.Run, string, error) {
	if o.Plan != nil {
		return runWithPlan(ctx, o, *o.Plan)
	}
	plan, err := PlanFor(o.Profile)
	if err != nil {
		return nil, "", err
	}
	return runWithPlan(ctx, o, plan)
}

// runWithPlan is Run with the CPU split decided: sized from the profile, or
// an external server's CPUs, which are whatever it was started on.
func runWithPlan(ctx context.Context, o Options, plan cpuset.Plan) (*results.Run, string, error) {
	if len(plan.LoaderCPUs) > 0 {
		if err := PinLoader(plan); err != nil {
			return nil, "", err
		}
	}

	dir := filepath.Join(o.ResultsDir, o.RunID)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, "", fmt.Errorf("create run dir: %w", err)
	}
	man := newManifest(ctx, o, plan)
	run := &results.Run{Manifest: man}
	idle, release := HoldLoaderAwake(o.KeepLoaderAwake, plan.LoaderCPUs, o.Progress.Logf)
	defer release()
	man.LoaderIdle = idle
	o.Progress.Logf("run %s: profile %s, scenario %s, %s runtime, %s", o.RunID, o.Profile.Name, o.Scenario.Name, o.Runtime.Name(), plan)
	if err := results.Write(dir, run); err != nil {
		return nil, dir, err
	}
	defer raiseNoFile(o.Scenario, o.Progress.Logf)()
	if !o.Calibrate && o.Capacity > 0 {
		man.AssumedCapacity, man.AssumedCapacitySource = o.Capacity, o.CapacitySource
	}
	fleet, err := setUpLoader(ctx, o, plan, man, filepath.Join(dir, "logs"))
	if err != nil {
		return run, dir, err
	}
	if fleet != nil {
		defer fleet.Close()
		defer recordAgents(man, fleet, run)
	}
	if err := results.Write(dir, run); err != nil {
		return run, dir, err
	}
	db, err := startDatabase(ctx, o, plan, dir, man)
	if err != nil {
		return run, dir, err
	}
	if db != nil {
		defer func() {
			if err := db.Stop(context.Background()); err != nil {
				o.Progress.Logf("database: stop: %v", err)
			}
		}()
	}
	for _, m := range o.Targets {
		if ctx.Err() != nil {
			break
		}
		t := runTarget(ctx, o, plan, m, filepath.Join(dir, "logs", m.Name+".log"), shared{man.LoaderCapacity(), db, fleet})
		run.Targets = append(run.Targets, t)
		recordAgents(man, fleet, run)
		man.Toolchains[m.Name] = m.Versions(context.Background())
		if err := results.Write(dir, run); err != nil {
			return run, dir, err
		}
	}
	man.End = time.Now().UTC()
	man.Interrupted = ctx.Err() != nil
	recordAgents(man, fleet, run)
	if err := results.Write(dir, run); err != nil {
		return run, dir, err
	}
	return run, dir, results.PointLatest(dir)
}

// errTargetExited cancels a step when the target dies under it.
var errTargetExited = errors.New("target exited")

// StartTarget starts a prepared target as a run does (its runtime, the CPU
// plan, the profile's CFS period and memory limit, the scenario's env
// given as env) and returns a context
// that is cancelled, with cause errTargetExited, as soon as the target
// dies, so that a step stops at once instead of timing out. stop ends the
// target and logs a failure to.
func StartTarget(ctx context.Context, rt runtimes.Runtime, prof *scenario.Profile, env map[string]string, plan cpuset.Plan, m *targets.Manifest,
	logPath, name string) (inst runtimes.Instance, watched context.Context, stop func(logf func(string, ...any)), err error) {
	inst, err = rt.Start(ctx, m, runtimes.Spec{Plan: plan, QuotaPeriod: prof.QuotaPeriod.D(),
		MemoryBytes: int64(prof.MemoryLimitMB) << 20, LogPath: logPath, Name: name, Env: env})
	if err != nil {
		return nil, ctx, nil, err
	}
	watched, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-inst.Done():
			cancel(errTargetExited)
		case <-watched.Done():
		}
	}()
	stop = func(logf func(string, ...any)) {
		cancel(nil)
		if err := inst.Stop(context.Background()); err != nil {
			logf("%s: stop: %v", m.Name, err)
		}
	}
	return inst, watched, stop, nil
}

// HoldLoaderAwake holds cpus, the loader's, in the polling idle state
// when asked (cpuset.KeepAwake), for a run, a calibration or a loader
// bench; the record says what was done, and why not when it could not be.
// release ends the hold, saying so if the values found cannot be put back.
func HoldLoaderAwake(asked bool, cpus []int, logf func(string, ...any)) (cpuset.IdleRecord, func()) {
	switch {
	case !asked:
		return cpuset.IdleRecord{Policy: cpuset.IdleDefault}, func() {}
	case len(cpus) == 0:
		return cpuset.IdleRecord{Policy: cpuset.IdleDefault, Why: "the loader does not run on this machine"}, func() {}
	}
	hold := cpuset.KeepAwake(cpus)
	logf("loader CPUs %s: idle %s", cpuset.List(cpus), hold.Record)
	return hold.Record, func() {
		if err := hold.Release(); err != nil {
			logf("loader CPUs %s: restore their idle setting: %v", cpuset.List(cpus), err)
		}
	}
}

// PinLoader keeps the loader, this process, on the plan's loader CPUs
// (load.PinProcess).
func PinLoader(plan cpuset.Plan) error { return load.PinProcess(plan.LoaderCPUs) }

// CalibrationConfig is the calibration of the loader a profile implies:
// its scenario, loader settings, fixed rate and step length.
func CalibrationConfig(p *scenario.Profile, s *scenario.Scenario, plan cpuset.Plan, exe string, logf func(string, ...any)) calibrate.Config {
	return calibrate.Config{Plan: plan, Scenario: s, Loader: p.Loader,
		FixedRate: p.FixedRatePerVCPU * plan.Budget, FixedDuration: p.FixedDuration.D(), Step: p.Step.D(), MaxRate: p.Search.MaxRate,
		AddedP95Limit: p.Loader.CapacityAddedP95.D(), Exe: exe, Logf: logf}
}

// calibrateLoader records the loader's calibration in the manifest; a
// failed calibration is recorded and the run goes on without a capacity.
func calibrateLoader(ctx context.Context, o Options, plan cpuset.Plan, man *results.Manifest, fleet Fleet) {
	o.Progress.Logf("calibrate: the loader against an instant reference server on CPUs %s", cpuset.List(plan.TargetCPUs))
	cfg := CalibrationConfig(o.Profile, o.Scenario, plan, o.HarnessExe, o.Progress.Logf)
	if fleet != nil {
		cfg.Sender = AgentSteps(fleet, o.Scenario)
	}
	cal, err := calibrate.Run(ctx, cfg)
	if err != nil {
		man.CalibrationError = err.Error()
		o.Progress.Logf("calibrate: FAILED: %v (peaks will not be capped by a loader capacity)", err)
		return
	}
	man.Calibration = &cal
}

// runTarget measures one target, and records what it measured even when a
// phase fails: the run goes on to the next target.
func runTarget(ctx context.Context, o Options, plan cpuset.Plan, m *targets.Manifest, logPath string, sh shared) results.Target {
	m = m.ForScenario(o.Scenario.Name)
	r := &targetRun{o: o, plan: plan, m: m, logPath: logPath, capacity: sh.capacity, p: o.Progress, parent: ctx, db: sh.db, fleet: sh.fleet}
	r.t = results.Target{Name: m.Name, Language: m.Language, Framework: m.Framework, Runtime: o.Runtime.Name(),
		VCPUs: plan.Budget, Workers: plan.Workers(), Start: time.Now().UTC()}
	if o.Reference != nil && m.Article != "" {
		if row, ok := o.Reference.Row(m.Article); ok {
			r.t.Article = &row
		}
	}
	r.run(ctx)
	r.t.End = time.Now().UTC()
	return r.t
}

// shared is what a run's targets share: the loader's calibrated capacity
// (0 when not calibrated), the scenario's database and the loader's agents
// (nil when none).
type shared struct {
	capacity float64
	db       *database.Server
	fleet    Fleet
}

// targetRun is one target's way through the pipeline; its methods are the
// phases run calls in order.
type targetRun struct {
	o        Options
	plan     cpuset.Plan
	m        *targets.Manifest
	logPath  string
	capacity float64
	p        *Progress
	parent   context.Context // the run's, to tell an interruption from a failure
	t        results.Target
	db       *database.Server // the scenario's database, or nil
	fleet    Fleet            // the loader's agents, or nil: this process

	inst    runtimes.Instance
	obsv    *Observer
	phase   string       // the phase under way, for live progress
	repRSS  float64      // the RSS peak of the repetition under way
	settled *peak.Settle // the wait before the next step
}

// run is prepare, start, verify, warm-up, then each repetition's fixed run
// and peak search, or a connection-scale scenario's steps; the target is
// stopped on every way out.
func (r *targetRun) run(ctx context.Context) {
	if skipped, err := r.prepare(ctx); skipped || err != nil {
		if err != nil {
			r.fail("prepare: %v", err)
		}
		return
	}
	ctx, stop, err := r.start(ctx)
	if err != nil {
		r.fail("%v", err)
		return
	}
	defer stop(r.p.Logf)
	if err := r.verify(ctx); err != nil {
		r.fail("verify: %v", err)
		return
	}
	closeObs, err := r.startObserving(ctx)
	if err != nil {
		r.fail("%v", err)
		return
	}
	defer closeObs()
	if err := r.warmup(ctx); err != nil {
		r.fail("warmup: %v", err)
		return
	}
	if r.o.Scenario.Hold != nil {
		if err := r.hold(ctx); err != nil {
			r.fail("connection scale: %v", err)
			return
		}
		r.finishHold()
		return
	}
	if err := r.repeat(ctx); err != nil {
		r.fail("%v", err)
		return
	}
	r.t.SetMedians()
	r.t.Status = results.StatusOK
	res, of := r.t.Peak, ""
	if reps := max(r.o.Repeat, 1); reps > 1 {
		of = fmt.Sprintf(", median of %d repetitions", reps)
	}
	r.p.Logf("%s: peak %.0f req/s (%s-bound%s): %s", r.m.Name, res.Peak, res.Bound, of, res.Note)
}

// fail records the target as failed, with the tail of its log.
func (r *targetRun) fail(format string, a ...any) {
	t, m := &r.t, r.m
	t.Status, t.Reason = results.StatusFailed, fmt.Sprintf(format, a...)
	if r.parent.Err() != nil {
		t.Reason = "interrupted: " + t.Reason
	}
	t.LogTail = logTail(r.logPath, 20)
	r.p.Logf("%s: FAILED: %s", m.Name, t.Reason)
	if t.LogTail != "" {
		r.p.Logf("%s: log tail (%s):\n%s", m.Name, r.logPath, indent(t.LogTail))
	}
}

// prepare builds the target, or finds it skipped (a missing toolchain or
// requirement), and records its release size.
func (r *targetRun) prepare(ctx context.Context) (skipped bool, err error) {
	m := r.m
	r.p.Logf("%s: preparing (%s)", m.Name, m.Framework)
	if err := r.o.Runtime.Prepare(ctx, m, r.logPath); err != nil {
		if s, ok := runtimes.IsSkip(err); ok {
			r.t.Status, r.t.Reason, r.t.Hint = results.StatusSkipped, s.Missing.What, s.Missing.Hint
			r.p.Logf("%s: SKIPPED: %s", m.Name, s.Missing)
			return true, nil
		}
		return false, err
	}
	// The release is the local build's; a container runtime builds an image
	// (image_size_mb) instead.
	if len(m.Release) > 0 && r.o.Runtime.Name() == "local" {
		if r.t.ReleaseMB, err = runtimes.ReleaseSizeMB(m); err != nil {
			r.p.Logf("%s: %v", m.Name, err)
		}
	}
	return false, nil
}

// start starts the target and records how it is pinned; the context it
// returns ends when the target dies.
func (r *targetRun) start(ctx context.Context) (context.Context, func(func(string, ...any)), error) {
	o, m, t := r.o, r.m, &r.t
	dbEnv, err := r.targetDatabase(ctx)
	if err != nil {
		return ctx, nil, err
	}
	inst, ctx, stop, err := StartTarget(ctx, o.Runtime, o.Profile, scenarioEnv(o.Scenario, dbEnv), r.plan, m, r.logPath, o.RunID+"-"+m.Name)
	if err != nil {
		return ctx, nil, err
	}
	r.inst = inst
	t.Pinning, t.Unpinned = inst.Pinning(), runtimes.Unpinned(inst)
	t.ImageSizeMB = runtimes.ImageSizeMB(inst)
	r.p.Logf("%s: up at %s (%s)", m.Name, inst.URL(), t.Pinning)
	if t.Unpinned {
		r.p.Logf("%s: WARNING: its %.3g-vCPU budget is not enforced: it is measured, marked unpinned, and no claim will be judged on it", m.Name, r.plan.Budget)
	}
	return ctx, stop, nil
}

// verify checks the target against the contract before any load.
func (r *targetRun) verify(ctx context.Context) error {
	rep := verify.TargetWith(ctx, runtimes.HarnessURL(r.inst), verify.Options{Database: r.db != nil})
	r.t.Verify = &rep
	if !rep.OK() {
		return errors.New(rep.Problems())
	}
	r.p.Logf("%s: verify passed (%d checks)", r.m.Name, len(rep.Checks))
	return nil
}

// startObserving starts sampling the target and the loader, with the
// loader's connections capped for the target's budget.
func (r *targetRun) startObserving(ctx context.Context) (stop func(), err error) {
	o, m := r.o, r.m
	every := o.SampleEvery
	if every == 0 {
		every = 200 * time.Millisecond
	}
	tsamp := sample.Start(ctx, r.inst.Usage(), every)
	lp := o.Profile.Loader.For(r.plan.Budget, o.Scenario)
	r.t.Connections = lp.Connections
	r.p.Logf("%s: the loader may open %d connections to it", m.Name, lp.Connections)
	obsv, err := StartObserver(ctx, load.NewMix(r.inst.URL(), o.Scenario), lp, tsamp, r.plan.Budget, every)
	if err != nil {
		tsamp.Stop()
		return nil, err
	}
	obsv.Fleet, obsv.URL, obsv.Scenario = r.fleet, r.inst.URL(), o.Scenario
	obsv.Live = func(s load.Step, rd sample.Reading) {
		r.p.Live(m.Name, r.phase, s, rd.CPUPct()/r.plan.Budget, float64(rd.RSSBytes)/(1<<20))
	}
	stopDB := r.sampleDatabase(ctx, obsv, every)
	r.obsv = obsv
	return func() { obsv.Close(); tsamp.Stop(); stopDB() }, nil
}

// step offers rate for d, records the wait that came before it and the
// RSS peaks, and logs it.
func (r *targetRun) step(ctx context.Context, ph string, rate float64, d time.Duration) (peak.Observation, sample.Stats, error) {
	r.phase = ph
	obs, ts, err := r.obsv.Observe(ctx, rate, d)
	obs.Settle, r.settled = r.settled, nil
	r.t.RSSPeakMB = max(r.t.RSSPeakMB, ts.RSSPeakMB)
	r.repRSS = max(r.repRSS, ts.RSSPeakMB)
	if cause := context.Cause(ctx); errors.Is(cause, errTargetExited) {
		err = fmt.Errorf("target exited during %s: %v", ph, r.inst.Err())
	}
	if err == nil {
		s := obs.Step
		db := ""
		if obs.Database != nil {
			db = fmt.Sprintf(" database CPU %3.0f%%", 100*obs.DatabaseCPU)
		}
		r.p.Logf("%s: %-7s offered %7.0f/s achieved %7.0f/s success %.4f p95 %7.2f ms (vegeta %.2f) CPU %3.0f%% loader %3.0f%% RSS %.0f MB%s",
			r.m.Name, ph, s.Offered, s.Achieved, s.Success, s.Corrected.P95, s.Vegeta.P95,
			100*obs.TargetCPU, 100*obs.LoaderCPU, ts.RSSMeanMB, db)
	}
	return obs, ts, err
}

// settle waits for the target to go idle after a step; the next step
// records the wait.
func (r *targetRun) settle(ctx context.Context) {
	pr := r.o.Profile
	st := r.obsv.Settle(ctx, pr.Cooldown.D(), pr.SettleTimeout.D(), pr.IdleCPU)
	r.settled = &st
	if !st.Idle && ctx.Err() == nil {
		r.p.Logf("%s: still at %.0f%% CPU after %.1f s of waiting to settle; the next step starts anyway", r.m.Name, 100*st.CPU, st.Seconds)
	}
}

func (r *targetRun) fixedRate() float64 { return r.o.Profile.FixedRatePerVCPU * r.plan.Budget }

// warmup runs the fixed rate for the profile's warm-up, if any.
func (r *targetRun) warmup(ctx context.Context) error {
	w := r.o.Profile.Warmup.D()
	if w <= 0 {
		return nil
	}
	obs, _, err := r.step(ctx, "warmup", r.fixedRate(), w)
	if err != nil {
		return err
	}
	r.t.Warmup = &obs
	r.settle(ctx)
	return nil
}

// repeat measures the target the profile's number of times; a failed
// repetition's records are the top-level ones, as in a single run, and
// the earlier repetitions stay in Repeats.
func (r *targetRun) repeat(ctx context.Context) error {
	reps := max(r.o.Repeat, 1)
	for i := range reps {
		if i > 0 {
			r.settle(ctx)
			r.repRSS = 0
		}
		if reps > 1 {
			r.p.Logf("%s: repetition %d of %d", r.m.Name, i+1, reps)
		}
		rep := results.Repeat{Start: time.Now().UTC()}
		fixed, res, err := r.measure(ctx)
		rep.Fixed, rep.Peak, rep.RSSPeakMB, rep.End = fixed, res, r.repRSS, time.Now().UTC()
		r.t.Fixed, r.t.Peak = fixed, res
		if reps > 1 {
			r.t.Repeats = append(r.t.Repeats, rep)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// measure is one repetition: the fixed-rate run, then the peak search.
func (r *targetRun) measure(ctx context.Context) (*results.Fixed, *peak.Result, error) {
	fixed, err := r.fixed(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.settle(ctx)

	s := r.o.Profile.Search
	first := true
	res, err := peak.Search(ctx, peak.Config{
		Start: s.StartPerVCPU * r.plan.Budget, Max: s.MaxRate, Growth: s.Growth, Precision: s.Precision, MaxSteps: s.MaxSteps,
		Criteria: Criteria(s, r.capacity),
	}, func(ctx context.Context, rate float64) (peak.Observation, error) {
		if !first {
			r.settle(ctx)
		}
		first = false
		obs, _, err := r.step(ctx, "peak", rate, r.o.Profile.Step.D())
		return obs, err
	})
	if err != nil {
		return fixed, &res, fmt.Errorf("peak search: %w", err)
	}
	return fixed, &res, nil
}

// fixed is the fixed-rate run, with the runtime's own GC figures for it
// where the target reports them.
func (r *targetRun) fixed(ctx context.Context) (*results.Fixed, error) {
	gc := newGCWindow(runtimes.HarnessURL(r.inst))
	gcErr := gc.reset(ctx)
	obs, ts, err := r.step(ctx, "fixed", r.fixedRate(), r.o.Profile.FixedDuration.D())
	if err != nil {
		return nil, fmt.Errorf("fixed-rate run: %w", err)
	}
	fixed := &results.Fixed{Observation: obs, Sample: ts, CPUPct: 100 * obs.TargetCPU}
	if gcErr == nil {
		fixed.GC, gcErr = gc.read(ctx)
	}
	if gcErr != nil {
		r.p.Logf("%s: no GC figures for the fixed run: %v", r.m.Name, gcErr)
	} else {
		r.p.Logf("%s: GC during the fixed run: %s", r.m.Name, gcLine(fixed.GC))
	}
	return fixed, nil
}

func logTail(path string, n int) string {
	lines, err := logline.TailFile(path, n)
	if err != nil {
		return ""
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
