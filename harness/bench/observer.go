package bench

import (
	"context"
	"os"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

// Fleet is the loader run as several agents (package agent): processes on
// this machine (agent.Local) or a Kubernetes Job. Step splits cmd among the
// agents, starts them all at cmd.StartAt and merges their reports; Lead is
// how far ahead that instant must be for every agent to be ready.
type Fleet interface {
	Step(ctx context.Context, cmd agent.Command) (agent.Merged, error)
	Lead() time.Duration
	Agents() []agent.Info
	Close()
}

// Observer runs load steps against one target and pairs each with the CPU
// and memory the target and the loader used meanwhile.
type Observer struct {
	Mix    *load.Mix
	Loader scenario.Loader
	// Target samples the target; nil when it cannot be (an in-process server).
	Target *sample.Sampler
	// Budget is the target's vCPUs, to express its CPU as a share of them.
	Budget float64
	// Live, if set, receives the step in progress.
	Live func(load.Step, sample.Reading)
	// Database samples the scenario's database, if any, whose budget is
	// DatabaseBudget vCPUs.
	Database       *sample.Sampler
	DatabaseBudget float64

	// Fleet, if set, is the loader: agents given URL and Scenario, instead
	// of this process given Mix.
	Fleet    Fleet
	URL      string
	Scenario *scenario.Scenario

	loader    *sample.Sampler
	loaderCap float64
	sentinel  *load.Sentinel
}

// StartObserver starts sampling the loader (this process) and its sentinel
// (see load.Sentinel), and returns an Observer; Close stops them.
func StartObserver(ctx context.Context, mix *load.Mix, lp scenario.Loader, target *sample.Sampler, budget float64, every time.Duration) (*Observer, error) {
	self := int32(os.Getpid())
	sent, err := load.StartSentinel()
	if err != nil {
		return nil, err
	}
	return &Observer{Mix: mix, Loader: lp, Target: target, Budget: budget,
		loader:    sample.Start(ctx, sample.NewProcesses(func() ([]int32, error) { return []int32{self}, nil }).WithoutPSS(), every),
		loaderCap: cpuset.Capacity(), sentinel: sent}, nil
}

// Close stops the loader's sampler and the sentinel.
func (o *Observer) Close() {
	o.loader.Stop()
	_ = o.sentinel.Close()
}

// Observe offers rate for d.
func (o *Observer) Observe(ctx context.Context, rate float64, d time.Duration) (peak.Observation, sample.Stats, error) {
	var obs peak.Observation
	var err error
	// Each sampler marks the step's start and end, so its window is the
	// step exactly (sample.Sampler.Mark).
	var tfrom, dfrom, tto, dto time.Time
	begin := func() { tfrom, dfrom = mark(ctx, o.Target), mark(ctx, o.Database) }
	end := func() { tto, dto = mark(ctx, o.Target), mark(ctx, o.Database) }
	if o.Fleet != nil {
		obs, err = o.observeAgents(ctx, rate, d, begin, end)
	} else {
		obs, err = o.observeSelf(ctx, rate, d, begin, end)
	}
	obs.TargetCPU = -1
	var ts sample.Stats
	if o.Target != nil {
		ts = o.Target.Between(tfrom, tto)
		obs.TargetCPU = ts.CPUMean / 100 / o.Budget
		obs.Target = &ts
	}
	if o.Database != nil {
		ds := o.Database.Between(dfrom, dto)
		obs.DatabaseCPU = ds.CPUMean / 100 / o.DatabaseBudget
		obs.Database = &ds
	}
	return obs, ts, err
}

// observeSelf is a step of this process's loader, its CPU sampled and its
// sentinel beside it.
func (o *Observer) observeSelf(ctx context.Context, rate float64, d time.Duration, begin, end func()) (peak.Observation, error) {
	cfg := load.ProfileConfig(o.Loader, rate, d)
	if o.Live != nil && o.Target != nil {
		cfg.Progress = func(s load.Step) {
			if r, ok := o.Target.Last(); ok {
				o.Live(s, r)
			}
		}
	}
	load.Collect()
	added := make(chan *load.Latency, 1)
	go func() {
		lat, err := o.sentinel.Measure(ctx, d)
		if err != nil {
			added <- nil
			return
		}
		added <- &lat
	}()
	lfrom := o.loader.Mark(ctx)
	begin()
	step, err := load.Attack(ctx, o.Mix, cfg)
	end()
	lto := o.loader.Mark(ctx)
	obs := peak.Observation{Step: step, LoaderAdded: <-added}
	obs.LoaderCPU = o.loader.Between(lfrom, lto).CPUMean / 100 / o.loaderCap
	obs.LoaderWorkCPU = max(0, obs.LoaderCPU-step.SpinS/lto.Sub(lfrom).Seconds()/o.loaderCap)
	return obs, err
}

// observeAgents is a step of the fleet's agents, which measure their own
// CPU and added latency. The target's window opens at the agents' shared
// start instant, not when they were told of it.
func (o *Observer) observeAgents(ctx context.Context, rate float64, d time.Duration, begin, end func()) (peak.Observation, error) {
	cmd := agent.Command{URL: o.URL, Scenario: o.Scenario, Rate: rate, Duration: scenario.Duration(d), Loader: o.Loader,
		Sentinel: true, StartAt: time.Now().Add(o.Fleet.Lead())}
	type merged struct {
		m   agent.Merged
		err error
	}
	done := make(chan merged, 1)
	go func() {
		m, err := o.Fleet.Step(ctx, cmd)
		done <- merged{m, err}
	}()
	select {
	case <-time.After(time.Until(cmd.StartAt)):
	case <-ctx.Done():
	}
	begin()
	r := <-done
	end()
	return peak.Observation{Step: r.m.Step, LoaderCPU: r.m.LoaderCPU, LoaderWorkCPU: r.m.LoaderWorkCPU, LoaderAdded: r.m.Added, Agents: r.m.Agents}, r.err
}

// Settle waits after a step until the target is idle again: at least
// least, then until its CPU over one look (settleLook) is at most idle of
// its budget twice running, for at most limit in all. Without a sampled
// target it waits least.
func (o *Observer) Settle(ctx context.Context, least, limit time.Duration, idle float64) peak.Settle {
	start := time.Now()
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(least) || o.Target == nil {
		return peak.Settle{Seconds: time.Since(start).Seconds(), Idle: o.Target == nil}
	}
	var s peak.Settle
	quiet := 0
	from := o.Target.Mark(ctx)
	for quiet < 2 && time.Since(start) < max(limit, least) && wait(settleLook) {
		to := o.Target.Mark(ctx)
		s.CPU = o.Target.Between(from, to).CPUMean / 100 / o.Budget
		from = to
		if s.CPU <= idle {
			quiet++
		} else {
			quiet = 0
		}
	}
	s.Seconds, s.Idle = time.Since(start).Seconds(), quiet >= 2
	return s
}

// settleLook is one look at the target's CPU while waiting for it to settle.
const settleLook = 250 * time.Millisecond

// mark marks a sampler (the target's, the database's), when there is one.
func mark(ctx context.Context, s *sample.Sampler) time.Time {
	if s == nil {
		return time.Now()
	}
	return s.Mark(ctx)
}

// Criteria are the profile's step criteria, with the loader's calibrated
// capacity (0 when not calibrated) as the ceiling of a target's peak.
func Criteria(s scenario.Search, capacity float64) peak.Criteria {
	return peak.Criteria{SLOP95: s.SLOP95.D(), MinSuccess: s.MinSuccess, MinAchieved: s.MinAchieved,
		LoaderGuard: s.LoaderCPUGuard, LoaderLatencyGuard: s.LoaderLatencyGuard, Capacity: capacity}
}
