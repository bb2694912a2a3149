package load

import (
	"runtime"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
)

// oneCPU runs the test as the loader runs: one CPU, one scheduler thread.
// Unpinned, a goroutine that moves between this VM's vCPUs reads clocks
// that differ by up to a few hundred µs, more than the precision checked.
func oneCPU(t *testing.T) {
	t.Helper()
	cpus, err := cpuset.Given()
	if err != nil || len(cpus) == 0 {
		t.Skipf("cannot read this process's CPUs: %v", err)
	}
	procs := runtime.GOMAXPROCS(1)
	if err := cpuset.PinSelf(cpus[len(cpus)-1:]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		_ = cpuset.PinSelf(cpus)
	})
}

// Without spinning, a hit never leaves more than its release-ahead window
// (earlyRelease unless the attack sets one) before it is due, and hits due
// within that window leave together on one wake-up rather than one timer
// each. With spinning, none leaves early at all.
func TestPacerReleasesHitsWithinTheEarlyWindow(t *testing.T) {
	oneCPU(t)
	cases := []struct {
		name  string
		rate  float64
		spin  *SpinPolicy
		ahead time.Duration // the attack's ReleaseAhead
		early time.Duration // the most a hit may leave before it is due
	}{
		{"parked, fast rate: batched", 40000, nil, 0, earlyRelease},
		{"parked, slow rate", 2000, nil, 0, earlyRelease},
		{"parked, 1 ms ahead: bursts of a millisecond's hits", 4000, nil, time.Millisecond, time.Millisecond},
		{"spinning: on time", 2000, DefaultSpin(), 0, 0},
		{"spinning ignores release-ahead", 2000, DefaultSpin(), time.Millisecond, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPacer(c.rate, c.spin, c.ahead)
			t.Cleanup(p.Close)
			const hits = 400
			start := time.Now()
			var earliest time.Duration // most negative (now - due)
			for n := uint64(0); n < hits; n++ {
				p.Pace(time.Since(start), n)
				if d := time.Since(p.Intended(n)); d < earliest {
					earliest = d
				}
			}
			if -earliest > c.early {
				t.Fatalf("a hit left %s before it was due, allowed %s", -earliest, c.early)
			}
			// A wake-up releases its own hit and those due within the window.
			perWake := c.rate*c.early.Seconds() + 1
			if c.spin == nil && perWake >= 3 && float64(p.wakes) > 2*hits/perWake {
				t.Fatalf("%d timer wake-ups for %d hits at %g/s: hits due within %s should share one", p.wakes, hits, c.rate, c.early)
			}
		})
	}
}
