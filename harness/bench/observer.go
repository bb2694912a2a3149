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
	cfg := load.ProfileConfig(o.Loader, rate, d)
	if o.Live != nil && o.Target != nil {
		cfg.Progress = func(s load.Step) {
			if r, ok := o.Target.Last(); ok {
				o.Live(s, r)
			}
		}
	}
	added := make(chan *load.Latency, 1)
	go func() {
		lat, err := o.sentinel.Measure(ctx, d)
		if err != nil {
			added <- nil
			return
		}
		added <- &lat
	}()
	from := time.Now()
	step, err := load.Attack(ctx, o.Mix, cfg)
	to := time.Now()
	obs := peak.Observation{Step: step, TargetCPU: -1, LoaderAdded: <-added}
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

// Criteria are the profile's step criteria, with the loader's calibrated
// capacity (0 when not calibrated) as the ceiling of a target's peak.
func Criteria(s scenario.Search, capacity float64) peak.Criteria {
	return peak.Criteria{SLOP95: s.SLOP95.D(), MinSuccess: s.MinSuccess, MinAchieved: s.MinAchieved,
		LoaderGuard: s.LoaderCPUGuard, LoaderLatencyGuard: s.LoaderLatencyGuard, Capacity: capacity}
}
