package peak

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/load"
)

var crit = Criteria{SLOP95: 50 * time.Millisecond, MinSuccess: 0.999, MinAchieved: 0.98, LoaderGuard: 0.85, LoaderLatencyGuard: 0.1}

func sentinel(o Observation, p95 float64) Observation {
	o.LoaderAdded = &load.Latency{P95: p95}
	return o
}

func dropped(o Observation) Observation {
	o.Step.Dropped = 3
	return o
}

// agents gives o two agents' figures: one at the given CPU, added p95 and
// share of its pace, the other idle and on time.
func agents(o Observation, cpu, addedP95, pace float64) Observation {
	half := o.Step.Offered / 2
	o.Agents = []agent.Figures{
		{Agent: 0, Offered: half, Achieved: half, LoaderCPU: 0.1, Added: &load.Latency{P95: 0.1}},
		{Agent: 1, Offered: half, Achieved: half * pace, LoaderCPU: cpu, Added: &load.Latency{P95: addedP95}},
	}
	// As agent.Merge sets them: the busiest agent's CPU, the worst p95.
	o.LoaderCPU, o.LoaderAdded = max(0.1, cpu), &load.Latency{P95: max(0.1, addedP95)}
	return o
}

// spinning gives o a loader whose CPU reads total, of which work did work
// and the rest busy-waited.
func spinning(o Observation, total, work float64) Observation {
	o.LoaderCPU, o.LoaderWorkCPU = total, work
	return o
}

func obs(offered, achieved, success, p95, vegetaP95, loader, target float64) Observation {
	return Observation{Step: load.Step{Offered: offered, Achieved: achieved, Success: success,
		Corrected: load.Latency{P95: p95}, Vegeta: load.Latency{P95: vegetaP95}}, LoaderCPU: loader, TargetCPU: target}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name         string
		o            Observation
		pass, loader bool
	}{
		{"clean", obs(1000, 1000, 1, 5, 5, 0.2, 0.5), true, false},
		{"errors", obs(1000, 1000, 0.99, 5, 5, 0.2, 1), false, false},
		{"slow target", obs(1000, 1000, 1, 80, 80, 0.2, 1), false, false},
		{"target cannot keep up", obs(1000, 900, 1, 300, 60, 0.3, 1), false, false},
		{"loader out of CPU", obs(1000, 900, 1, 300, 3, 0.95, 0.3), false, true},
		{"loader behind, target idle and fast", obs(1000, 900, 1, 90, 2, 0.6, 0.2), false, true},
		{"unknown target CPU is not blamed on the loader", obs(1000, 900, 1, 90, 2, 0.6, -1), false, false},
		// The loader stalled without burning CPU: its sentinel saw it.
		{"loader queued inside itself", sentinel(obs(1000, 1000, 1, 80, 80, 0.3, 0.4), 40), false, true},
		{"sentinel small: the target's", sentinel(obs(1000, 1000, 1, 80, 80, 0.3, 1), 0.2), false, false},
		{"sentinel high on a passing step: still a pass", sentinel(obs(1000, 1000, 1, 20, 20, 0.3, 1), 15), true, false},
		{"latency beyond the histogram", dropped(obs(1000, 1000, 1, 5, 5, 0.2, 0.5)), false, false},
		// A busy-waiting loader reads near 100 %; the guard reads its work.
		{"spinning loader, slow target", spinning(obs(1000, 1000, 1, 80, 80, 0, 1), 0.99, 0.3), false, false},
		{"spinning loader out of work CPU", spinning(obs(1000, 900, 1, 300, 3, 0, 0.3), 0.99, 0.9), false, true},
		// Several agents: the step is the loader's when any one of them is.
		{"agents healthy, target slow", agents(obs(1000, 1000, 1, 80, 80, 0, 1), 0.3, 0.2, 1), false, false},
		{"one agent out of CPU", agents(obs(1000, 990, 1, 80, 80, 0, 0.6), 0.95, 0.2, 1), false, true},
		{"one agent queued inside itself", agents(obs(1000, 1000, 1, 80, 80, 0, 0.6), 0.3, 30, 1), false, true},
		// The sum kept 98 % of the pace; one agent alone did not.
		{"one agent behind, target idle", agents(obs(1000, 985, 1, 5, 5, 0, 0.2), 0.5, 0.2, 0.97), false, true},
		{"agents on pace: a pass", agents(obs(1000, 1000, 1, 5, 5, 0, 0.5), 0.5, 0.2, 1), true, false},
	}
	for _, c := range cases {
		v := Judge(c.o, crit)
		if v.Pass != c.pass || v.LoaderBound != c.loader {
			t.Errorf("%s: pass=%v loader=%v (%s), want pass=%v loader=%v", c.name, v.Pass, v.LoaderBound, v.Reason, c.pass, c.loader)
		}
	}
}

// simulated is a server of known capacity and a loader of known capacity:
// above either, steps fail, and the loader's CPU share says which.
func simulated(capacity, loaderMax float64, calls *[]float64) Probe {
	return func(ctx context.Context, rate float64) (Observation, error) {
		*calls = append(*calls, rate)
		loader := rate / loaderMax
		achieved := math.Min(rate, loaderMax)
		p95 := 2.0
		if rate > capacity {
			p95 = 500
		}
		return obs(rate, achieved, 1, p95, p95, loader, math.Min(1, rate/capacity)), nil
	}
}

func TestSearch(t *testing.T) {
	cfg := Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.02, MaxSteps: 20, Criteria: crit}
	cases := []struct {
		name      string
		capacity  float64
		loaderMax float64
		bound     string
	}{
		{"target-bound", 12000, 1e6, BoundTarget},
		{"loader-bound", 1e6, 9000, BoundLoader},
		{"start above capacity: descends", 300, 1e6, BoundTarget},
		{"nothing passes", 5, 1e6, BoundError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls []float64
			res, err := Search(context.Background(), cfg, simulated(c.capacity, c.loaderMax, &calls))
			if err != nil {
				t.Fatal(err)
			}
			if res.Bound != c.bound {
				t.Fatalf("bound %s, want %s (%s); rates %v", res.Bound, c.bound, res.Note, calls)
			}
			limit := math.Min(c.capacity, c.loaderMax/crit.MinAchieved)
			if c.bound != BoundError && (res.Peak > limit || res.Peak < limit*(1-2*cfg.Precision)) {
				t.Fatalf("peak %.0f, want just under %.0f; rates %v", res.Peak, limit, calls)
			}
			if len(res.Steps) != len(calls) || len(calls) > cfg.MaxSteps {
				t.Fatalf("%d steps recorded for %d probes (max %d)", len(res.Steps), len(calls), cfg.MaxSteps)
			}
		})
	}
}

func TestSearchCapAndErrors(t *testing.T) {
	var calls []float64
	cfg := Config{Start: 1000, Max: 5000, Growth: 2, Precision: 0.05, MaxSteps: 10, Criteria: crit}
	res, _ := Search(context.Background(), cfg, simulated(1e6, 1e7, &calls))
	if res.Peak != 5000 || res.Bound != BoundCap || !LowerBound(res.Bound) {
		t.Fatalf("every rate passing up to the cap: peak %.0f bound %s, want a 5000 lower bound labelled cap", res.Peak, res.Bound)
	}
	boom := errors.New("target exited")
	n := 0
	res, err := Search(context.Background(), cfg, func(ctx context.Context, rate float64) (Observation, error) {
		if n++; n == 3 {
			return Observation{}, boom
		}
		return obs(rate, rate, 1, 1, 1, 0.1, 0.1), nil
	})
	if !errors.Is(err, boom) || res.Peak != 2000 || len(res.Steps) != 2 {
		t.Fatalf("a failing probe: err %v, peak %.0f, %d steps kept", err, res.Peak, len(res.Steps))
	}
}

func TestRampFailureIsConfirmed(t *testing.T) {
	var calls []float64
	real := simulated(12000, 1e6, &calls)
	noisy := true
	res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.05, MaxSteps: 20, Criteria: crit},
		func(ctx context.Context, rate float64) (Observation, error) {
			o, err := real(ctx, rate)
			if rate == 2000 && noisy { // one burst from a neighbour
				noisy = false
				o.Step.Corrected.P95 = 400
			}
			return o, err
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peak < 11000 {
		t.Fatalf("one noisy step cut the peak to %.0f; rates %v", res.Peak, calls)
	}
	if res.Steps[1].Phase != "ramp" || res.Steps[2].Phase != "confirm" || !res.Steps[2].Verdict.Pass {
		t.Fatalf("steps %+v", res.Steps[:3])
	}
}

// When a ramp failure's confirm step disagrees with it about whose limit it
// was, the confirm decides the label.
func TestConfirmDecidesTheLabel(t *testing.T) {
	cases := []struct {
		name          string
		first, second bool // loader-bound?
		want          string
	}{
		{"target then loader", false, true, BoundLoader},
		{"loader then target", true, false, BoundTarget},
		{"target twice", false, false, BoundTarget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := 0
			res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.05, MaxSteps: 20, Criteria: crit},
				func(ctx context.Context, rate float64) (Observation, error) {
					if rate < 2000 {
						return obs(rate, rate, 1, 2, 2, 0.3, 0.5), nil
					}
					loaderBound := rate == 2000 && (seen == 0 && c.first || seen == 1 && c.second)
					if rate == 2000 {
						seen++
					}
					if loaderBound { // out of CPU
						return obs(rate, rate*0.9, 1, 300, 3, 0.95, 0.3), nil
					}
					return obs(rate, rate, 1, 300, 300, 0.3, 1), nil // target saturated
				})
			if err != nil {
				t.Fatal(err)
			}
			if res.Bound != c.want {
				t.Fatalf("bound %s (%s), want %s; steps %d", res.Bound, res.Note, c.want, len(res.Steps))
			}
		})
	}
}

// A peak above the loader's calibrated capacity is never the target's.
func TestPeakAboveCapacityIsTheLoaders(t *testing.T) {
	c := crit
	c.Capacity = 8000
	var calls []float64
	res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.02, MaxSteps: 20, Criteria: c},
		simulated(12000, 1e6, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if res.Bound != BoundLoader || res.Peak < 11000 {
		t.Fatalf("peak %.0f bound %s (%s), want ~12000 labelled loader", res.Peak, res.Bound, res.Note)
	}
	c.Capacity = 20000
	calls = nil
	res, _ = Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.02, MaxSteps: 20, Criteria: c},
		simulated(12000, 1e6, &calls))
	if res.Bound != BoundTarget {
		t.Fatalf("peak %.0f under a 20000 capacity: bound %s, want target", res.Peak, res.Bound)
	}
}

// One lucky step must not set the peak: the reported rate passed twice. A
// server of capacity 10,000 req/s whose steps above it pass once, by luck,
// and never again.
func TestPeakMustPassTwice(t *testing.T) {
	lucky := map[float64]bool{}
	var calls []float64
	res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.02, MaxSteps: 20, Criteria: crit},
		func(ctx context.Context, rate float64) (Observation, error) {
			calls = append(calls, rate)
			pass := rate <= 10000
			if rate > 10000 && rate < 11000 && !lucky[rate] {
				lucky[rate], pass = true, true
			}
			if pass {
				return obs(rate, rate, 1, 5, 5, 0.3, 0.9), nil
			}
			return obs(rate, rate, 1, 300, 300, 0.3, 1), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peak > 10000 || res.Peak < 9500 || res.Bound != BoundTarget {
		t.Fatalf("peak %.0f (%s), want the last rate that passed twice, at most 10000; rates %v", res.Peak, res.Bound, calls)
	}
	n := 0
	for _, s := range res.Steps {
		if s.Rate == res.Peak && s.Verdict.Pass {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("the peak %.0f passed %d time(s); rates %v", res.Peak, n, calls)
	}
}

// A peak whose confirmation fails because of the loader stands, as the
// loader's lower bound: the loader's limit is no evidence against the target.
func TestLoaderBoundConfirmationKeepsThePeak(t *testing.T) {
	tries := map[float64]int{}
	res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.05, MaxSteps: 20, Criteria: crit},
		func(ctx context.Context, rate float64) (Observation, error) {
			tries[rate]++
			if rate <= 4000 && tries[rate] == 1 {
				return obs(rate, rate, 1, 5, 5, 0.5, 0.3), nil
			}
			return obs(rate, rate*0.9, 1, 300, 3, 0.95, 0.3), nil // the loader out of CPU
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peak != 4000 || res.Bound != BoundLoader || !strings.Contains(res.Note, "confirmation was the loader's limit") {
		t.Fatalf("peak %.0f bound %s (%s), want 4000 labelled loader", res.Peak, res.Bound, res.Note)
	}
}

// A candidate that fails its confirmation with a wide gap below it (the
// ramp's steps are a factor of growth apart) has the gap bisected again,
// not the next ramp rate reported: here 8,000 would be 16 % under a target
// that holds 9,500.
func TestFailedConfirmationBisectsTheGap(t *testing.T) {
	tries := map[float64]int{}
	var calls []float64
	res, err := Search(context.Background(), Config{Start: 1000, Max: 1e6, Growth: 2, Precision: 0.05, MaxSteps: 8, Criteria: crit},
		func(ctx context.Context, rate float64) (Observation, error) {
			calls = append(calls, rate)
			tries[rate]++
			// Up to 9,500 always; 10,000 once (a lucky step), never above.
			if rate <= 9500 || rate == 10000 && tries[rate] == 1 {
				return obs(rate, rate, 1, 5, 5, 0.3, 0.9), nil
			}
			return obs(rate, rate, 1, 300, 300, 0.3, 1), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peak < 9000 || res.Peak > 9500 || res.Bound != BoundTarget {
		t.Fatalf("peak %.0f (%s), want 9000-9500 confirmed; rates %v", res.Peak, res.Bound, calls)
	}
	if len(res.Steps) > 8+maxPeakConfirms {
		t.Fatalf("%d steps, want at most %d", len(res.Steps), 8+maxPeakConfirms)
	}
}
