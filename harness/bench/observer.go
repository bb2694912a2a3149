package bench

import (
	"context"
	"os"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

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

	loader    *sample.Sampler
	loaderCap float64
}

// StartObserver starts sampling the loader (this process) and returns an
// Observer; Close stops it.
func StartObserver(ctx context.Context, mix *load.Mix, lp scenario.Loader, target *sample.Sampler, budget float64, every time.Duration) *Observer {
	self := int32(os.Getpid())
	return &Observer{Mix: mix, Loader: lp, Target: target, Budget: budget,
		loader:    sample.Start(ctx, sample.NewProcesses(func() ([]int32, error) { return []int32{self}, nil }), every),
		loaderCap: cpuset.Capacity()}
}

// Close stops the loader's sampler.
func (o *Observer) Close() { o.loader.Stop() }

// Observe offers rate for d.
func (o *Observer) Observe(ctx context.Context, rate float64, d time.Duration) (peak.Observation, sample.Stats, error) {
	cfg := load.Config{Rate: rate, Duration: d, Workers: o.Loader.Workers, MaxWorkers: o.Loader.MaxWorkers,
		Connections: o.Loader.Connections, Timeout: o.Loader.Timeout.D()}
	if o.Live != nil && o.Target != nil {
		cfg.Progress = func(s load.Step) {
			if r, ok := o.Target.Last(); ok {
				o.Live(s, r)
			}
		}
	}
	from := time.Now()
	step, err := load.Attack(ctx, o.Mix, cfg)
	to := time.Now()
	obs := peak.Observation{Step: step, TargetCPU: -1}
	ls := o.loader.Between(from, to)
	obs.LoaderCPU = ls.CPUMean / 100 / o.loaderCap
	var ts sample.Stats
	if o.Target != nil {
		ts = o.Target.Between(from, to)
		obs.TargetCPU = ts.CPUMean / 100 / o.Budget
		obs.Target = &ts
	}
	return obs, ts, err
}
