package report

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

// The fixtures in results/testdata are synthetic runs made by the real peak
// search against modelled targets, so their steps and verdicts are what the
// harness would write. Regenerate with:
//
//	go test ./harness/report -run TestFixturesUpToDate -update
var update = flag.Bool("update", false, "rewrite results/testdata fixtures and golden files")

var fixtureDir = filepath.Join("..", "..", "results", "testdata")

// model is a target as the fixtures pretend it behaves on 1/3 vCPU.
type model struct {
	name, language, framework string
	capacity                  float64 // req/s where it saturates
	loaderLimit               float64 // req/s where the loader runs out of CPU (0: never)
	p50                       float64 // ms at low load
	cpuPct, rssMean, rssPeak  float64
	// pssShare is its PSS over its RSS: below 1 by the pages it shares
	// with other processes, most for a cluster of forked workers.
	pssShare float64
	skip     string
}

var models = []model{
	{name: "fastify", language: "JavaScript", framework: "Fastify 5", capacity: 4500, p50: 0.6, cpuPct: 22, rssMean: 80, rssPeak: 96, pssShare: 0.7},
	{name: "chi", language: "Go", framework: "go-chi/chi v5", capacity: 9000, p50: 0.35, cpuPct: 12, rssMean: 14, rssPeak: 22, pssShare: 0.9},
	{name: "phoenix", language: "Elixir", framework: "Phoenix 1.7", skip: "Phoenix deps are not fetched: hex.pm is unreachable from this machine"},
	{name: "axum", language: "Rust", framework: "Axum 0.8", capacity: 25000, loaderLimit: 15800, p50: 0.25, cpuPct: 6, rssMean: 8, rssPeak: 12, pssShare: 0.9},
	{name: "erlang", language: "Erlang", framework: "Cowboy 2", capacity: 6000, p50: 0.5, cpuPct: 18, rssMean: 58, rssPeak: 70, pssShare: 0.95},
}

func quickProfile() *scenario.Profile {
	d := func(v time.Duration) scenario.Duration { return scenario.Duration(v) }
	return &scenario.Profile{Name: "quick", Scenario: "api", Budget: "auto", LoaderRatio: 3, QuotaPeriod: d(10 * time.Millisecond),
		Warmup: d(3 * time.Second), Step: d(3 * time.Second), Cooldown: d(time.Second), FixedRatePerVCPU: 1250, FixedDuration: d(10 * time.Second),
		Search: scenario.Search{SLOP95: d(50 * time.Millisecond), MinSuccess: 0.999, MinAchieved: 0.98, StartPerVCPU: 2000, MaxRate: 200000,
			Growth: 2, Precision: 0.05, MaxSteps: 12, LoaderCPUGuard: 0.85}}
}

func articleReference() *scenario.Reference {
	return &scenario.Reference{Name: "article", Source: "\"Rust vs Go vs Elixir\" (https://kanopylabs.com/blog/rust-vs-go-vs-elixir-backends)", VCPUs: 8, FixedRate: 10000,
		Rows: []scenario.ReferenceRow{
			{Target: "fastify", PeakRPS: 14000, P95MS: 32, RSSMB: 380, CPUPct: 65},
			{Target: "chi", PeakRPS: 38000, P95MS: 9, RSSMB: 95, CPUPct: 38},
			{Target: "phoenix", PeakRPS: 47000, P95MS: 7, RSSMB: 160, CPUPct: 42},
			{Target: "axum", PeakRPS: 89000, P95MS: 3, RSSMB: 65, CPUPct: 28},
		}}
}

// observe models one constant-rate step: latency grows as 1/(1-load) and
// explodes past capacity; the loader tops out at loaderLimit.
func (m model) observe(rate float64, rng *rand.Rand, slow float64) peak.Observation {
	noise := func() float64 { return 1 + 0.03*rng.NormFloat64() }
	capacity := m.capacity * slow * noise()
	achieved := rate
	loaderCPU := 0.1 + 0.8*rate/15000
	if m.loaderLimit > 0 && rate > m.loaderLimit {
		achieved, loaderCPU = m.loaderLimit*noise(), 0.93
	}
	rho := achieved / capacity
	p50 := m.p50 / slow * noise() / max(1-rho, 0.02)
	success := 1.0
	if rho >= 1 {
		p50, success = 400*rho*noise(), 0.97
	}
	lat := load.Latency{P50: p50, P95: 2.6 * p50, P99: 5 * p50, Max: 12 * p50, Mean: 1.3 * p50}
	veg := lat
	veg.P95 *= 0.97
	return peak.Observation{
		Step: load.Step{Offered: rate, Achieved: achieved, Throughput: achieved * success, Requests: uint64(3 * achieved), Success: success,
			Duration: 3, Vegeta: veg, Corrected: lat, Codes: map[string]int{"200": int(3 * achieved * success)}},
		LoaderCPU: min(loaderCPU, 0.95), TargetCPU: min(rho, 1),
	}
}

func (m model) repeat(p *scenario.Profile, budget float64, rng *rand.Rand, slow float64) results.Repeat {
	noise := func() float64 { return 1 + 0.03*rng.NormFloat64() }
	fixedRate := p.FixedRatePerVCPU * budget
	obs := m.observe(fixedRate, rng, slow)
	obs.TargetCPU = m.cpuPct / 100 / slow * noise()
	st := sample.Stats{Samples: 50, CPUMean: 100 * obs.TargetCPU * budget, CPUMax: 140 * obs.TargetCPU * budget,
		RSSMeanMB: m.rssMean * noise(), RSSPeakMB: m.rssPeak * noise()}
	st.PSSMeanMB = m.pssShare * st.RSSMeanMB
	obs.Target = &st
	s := p.Search
	res, _ := peak.Search(context.Background(), peak.Config{Start: s.StartPerVCPU * budget, Max: s.MaxRate, Growth: s.Growth,
		Precision: s.Precision, MaxSteps: s.MaxSteps, Criteria: peak.Criteria{SLOP95: s.SLOP95.D(), MinSuccess: s.MinSuccess,
			MinAchieved: s.MinAchieved, LoaderGuard: s.LoaderCPUGuard}},
		func(_ context.Context, rate float64) (peak.Observation, error) {
			return m.observe(rate, rng, slow), nil
		})
	return results.Repeat{Fixed: &results.Fixed{Observation: obs, Sample: st, CPUPct: 100 * obs.TargetCPU}, Peak: &res, RSSPeakMB: st.RSSPeakMB * 1.05}
}

// synthRun makes a run of the models with reps repetitions; slow[name]
// divides a target's capacity and multiplies its latency and CPU.
func synthRun(id string, reps int, seed uint64, slow map[string]float64) *results.Run {
	rng := rand.New(rand.NewPCG(seed, 7))
	start := time.Date(2026, 11, 23, 3, 17, 0, 0, time.UTC)
	p := quickProfile()
	ref := articleReference()
	budget := 1.0 / 3
	run := &results.Run{Manifest: &results.Manifest{RunID: id, Command: []string{"bin/harness", "bench", "-profile", "quick"}, Profile: p,
		Scenario: &scenario.Scenario{Name: "api"}, Runtime: "local",
		Machine: results.Machine{CPUModel: "AMD EPYC 7B13 64-Core Processor", Cores: 2, MemoryGB: 23.4, Kernel: "6.1.0-28-amd64", OS: "debian 12.8"},
		GitSHA:  "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.0",
		Toolchains: map[string]map[string]string{"chi": {"go": "go version go1.26.0 linux/amd64"}, "axum": {"cargo": "cargo 1.91.0"}},
		VCPUs:      budget, TargetCPUs: "0", LoaderCPUs: "1", LoaderCap: 1, Start: start, End: start.Add(9 * time.Minute), Reference: ref}}
	for _, m := range models {
		t := results.Target{Name: m.name, Language: m.language, Framework: m.framework, Runtime: "local", VCPUs: budget, Workers: 1,
			Start: start, End: start.Add(time.Minute)}
		if row, ok := ref.Row(m.name); ok {
			t.Article = &row
		}
		if m.skip != "" {
			t.Status, t.Reason, t.Hint = results.StatusSkipped, m.skip, "cd targets/phoenix && mix deps.get --only prod"
			run.Targets = append(run.Targets, t)
			continue
		}
		t.Status, t.Pinning = results.StatusOK, "cgroup v2 cpuset 0, CFS quota 0.333 CPU per 10ms"
		sl := slow[m.name]
		if sl == 0 {
			sl = 1
		}
		for range reps {
			r := m.repeat(p, budget, rng, 1/sl)
			r.Start, r.End = t.Start, t.End
			t.Repeats = append(t.Repeats, r)
			t.RSSPeakMB = max(t.RSSPeakMB, r.RSSPeakMB)
		}
		if reps == 1 {
			t.Fixed, t.Peak = t.Repeats[0].Fixed, t.Repeats[0].Peak
			t.Repeats = nil
		} else {
			t.SetMedians()
		}
		run.Targets = append(run.Targets, t)
	}
	return run
}

// fixtures are the files in results/testdata and how they are made.
var fixtures = map[string]func() *results.Run{
	// Three repetitions; axum is loader-bound, phoenix skipped.
	"repeat3": func() *results.Run { return synthRun("20261123-031700-quick", 3, 1, nil) },
	// The same machine a night later: only noise.
	"repeat3-noise": func() *results.Run { return synthRun("20261124-031700-quick", 3, 2, nil) },
	// A night later with chi 25 % slower.
	"repeat3-chi-slower": func() *results.Run { return synthRun("20261125-031700-quick", 3, 3, map[string]float64{"chi": 1.25}) },
	// One measurement per target (no -repeat).
	"single": func() *results.Run { return synthRun("20261123-031700-quick", 1, 4, nil) },
}

func TestFixturesUpToDate(t *testing.T) {
	for name, mk := range fixtures {
		dir := filepath.Join(fixtureDir, name)
		if *update {
			if err := results.Write(dir, mk()); err != nil {
				t.Fatal(err)
			}
			// Only results.json is the fixture; the rest is regenerated by
			// `harness report`.
			for _, f := range []string{"manifest.json", "summary.csv", "summary.md", "spread.csv"} {
				_ = os.Remove(filepath.Join(dir, f))
			}
		}
		if _, err := results.Read(dir); err != nil {
			t.Fatalf("fixture %s: %v (regenerate with -update)", name, err)
		}
	}
}

func loadFixture(t *testing.T, name string) *results.Run {
	t.Helper()
	run, err := results.Read(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return run
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
