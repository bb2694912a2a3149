package peak

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/sample"
)

// probe is a probe observation with a p99 (ms), the loader's CPU share and
// the target's mean RSS (MiB).
func probe(p99, loaderCPU, rssMB float64) *Observation {
	return &Observation{Step: load.Step{Success: 1, Corrected: load.Latency{P99: p99}}, LoaderCPU: loaderCPU,
		Target: &sample.Stats{RSSMeanMB: rssMB}}
}

func TestJudgeHoldStep(t *testing.T) {
	c := HoldCriteria{SLOP99: 50 * time.Millisecond, LoaderGuard: 0.85}
	cases := []struct {
		name   string
		step   HoldStep
		pass   bool
		limit  string
		whyHas string
	}{
		{"clean", HoldStep{Connections: 1000, Held: 1000, Probe: probe(2, 0.3, 40)}, true, "", ""},
		{"short of connections", HoldStep{Connections: 1000, Held: 990, Probe: probe(2, 0.3, 40)}, false, BoundTarget, "held 990 of 1000"},
		{"slow probe", HoldStep{Connections: 1000, Held: 1000, Probe: probe(51, 0.3, 40)}, false, BoundTarget, "p99 51.00 ms"},
		{"errors", HoldStep{Connections: 1000, Held: 1000, RequestErrors: 3, Errors: []string{"read: connection reset by peer"}, Probe: probe(2, 0.3, 40)}, false, BoundTarget, "3 request errors"},
		{"loader out of files", HoldStep{Connections: 20000, Held: 19990, ConnectErrors: 10, Errors: []string{"dial tcp: socket: too many open files"}, Probe: probe(2, 0.3, 40)}, false, BoundLoader, "too many open files"},
		{"loader out of ports", HoldStep{Connections: 30000, Held: 28000, ConnectErrors: 2000, Errors: []string{"dial tcp 127.0.0.1:80: connect: cannot assign requested address"}, Probe: probe(2, 0.3, 40)}, false, BoundLoader, "requested address"},
		{"busy loader", HoldStep{Connections: 5000, Held: 5000, Probe: probe(80, 0.95, 40)}, false, BoundLoader, "loader CPU at 95%"},
	}
	for _, tc := range cases {
		s := tc.step
		c.Judge(&s)
		if s.Pass != tc.pass || s.Limit != tc.limit || !strings.Contains(s.Why, tc.whyHas) {
			t.Errorf("%s: pass %v limit %q why %q; want %v %q containing %q", tc.name, s.Pass, s.Limit, s.Why, tc.pass, tc.limit, tc.whyHas)
		}
	}
}

func TestSummariseHold(t *testing.T) {
	ok := func(n int, rssMB, p99 float64) HoldStep {
		return HoldStep{Connections: n, Held: n, Probe: probe(p99, 0.2, rssMB), Pass: true}
	}
	failed := func(n int, limit string) HoldStep {
		return HoldStep{Connections: n, Held: n / 2, Probe: probe(3, 0.2, 99), Why: "held half", Limit: limit}
	}
	// 10 KiB per connection on top of 20 MiB.
	rss := func(n int) float64 { return 20 + float64(n)*10/1024 }
	cases := []struct {
		name  string
		steps []HoldStep
		max   int
		bound string
		perKB float64
		p99   float64
		lower bool
	}{
		{"target limit", []HoldStep{ok(1000, rss(1000), 1), ok(2000, rss(2000), 2), ok(5000, rss(5000), 4), failed(10000, BoundTarget)}, 5000, BoundTarget, 10, 4, false},
		{"loader limit", []HoldStep{ok(1000, rss(1000), 1), ok(2000, rss(2000), 2), failed(5000, BoundLoader)}, 2000, BoundLoader, 10, 2, true},
		{"all passed", []HoldStep{ok(1000, rss(1000), 1), ok(2000, rss(2000), 2)}, 2000, BoundSteps, 10, 2, true},
		{"one step", []HoldStep{ok(1000, rss(1000), 1), failed(2000, BoundTarget)}, 1000, BoundTarget, 0, 1, false},
		{"none passed", []HoldStep{failed(1000, BoundTarget)}, 0, BoundError, 0, 0, false},
	}
	for _, tc := range cases {
		r := SummariseHold(tc.steps)
		if r.MaxConnections != tc.max || r.Bound != tc.bound || math.Abs(r.RSSPerConnKB-tc.perKB) > 1e-6 || r.P99AtMaxMS != tc.p99 || r.LowerBound() != tc.lower {
			t.Errorf("%s: max %d bound %s %.3f KiB/conn p99 %.2f lower %v; want %d %s %.3f %.2f %v (note %q)", tc.name,
				r.MaxConnections, r.Bound, r.RSSPerConnKB, r.P99AtMaxMS, r.LowerBound(), tc.max, tc.bound, tc.perKB, tc.p99, tc.lower, r.Note)
		}
	}
}
