package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
)

func TestWelchMatchesR(t *testing.T) {
	// R: t.test(c(1,2,3,4,5), c(2,4,6,8,10)) → t = -1.8974, df = 5.8824, p-value = 0.1075
	if p := welchP([]float64{1, 2, 3, 4, 5}, []float64{2, 4, 6, 8, 10}); math.Abs(p-0.1075) > 0.0005 {
		t.Errorf("p = %.4f, want 0.1075", p)
	}
	if p := welchP([]float64{5, 5, 5}, []float64{5, 5, 5}); p != 1 {
		t.Errorf("identical constant samples: p = %g, want 1", p)
	}
	if p := welchP([]float64{5, 5, 5}, []float64{4, 4, 4}); p != 0 {
		t.Errorf("different constant samples: p = %g, want 0", p)
	}
}

// scaleTarget multiplies one figure of one target in every repetition.
func scaleTarget(run *results.Run, name string, peakK, p95K float64) {
	t := findTarget(run, name)
	for _, r := range t.Repetitions() {
		r.Peak.Peak *= peakK
		r.Fixed.Step.Corrected.P95 *= p95K
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		name        string
		base, cur   func() *results.Run
		regressions []string // "target figure" prefixes expected, in order
		test        string   // how significance is decided
	}{
		{"repetitions, noise only", func() *results.Run { return loadFixture(t, "repeat3") }, func() *results.Run { return loadFixture(t, "repeat3-noise") },
			nil, "Welch"},
		{"repetitions, chi 25% slower", func() *results.Run { return loadFixture(t, "repeat3") }, func() *results.Run { return loadFixture(t, "repeat3-chi-slower") },
			[]string{"chi peak_rps", "chi p95_ms", "chi cpu_pct"}, "Welch"},
		{"single runs, 5% slower is within the threshold", func() *results.Run { return loadFixture(t, "single") },
			func() *results.Run { r := loadFixture(t, "single"); scaleTarget(r, "chi", 0.95, 1.05); return r }, nil, "no repetitions"},
		{"single runs, 20% slower is a regression", func() *results.Run { return loadFixture(t, "single") },
			func() *results.Run { r := loadFixture(t, "single"); scaleTarget(r, "chi", 0.8, 1); return r }, []string{"chi peak_rps"}, "no repetitions"},
		{"single runs, 20% faster is no regression", func() *results.Run { return loadFixture(t, "single") },
			func() *results.Run { r := loadFixture(t, "single"); scaleTarget(r, "chi", 1.2, 0.8); return r }, nil, "no repetitions"},
		{"a target that failed is a regression", func() *results.Run { return loadFixture(t, "single") },
			func() *results.Run {
				r := loadFixture(t, "single")
				findTarget(r, "erlang").Status, findTarget(r, "erlang").Reason = results.StatusFailed, "verify: json"
				return r
			}, []string{"erlang failed"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Compare(tc.base(), tc.cur(), CompareOptions{Threshold: 0.10})
			if len(c.Regressions) != len(tc.regressions) {
				t.Fatalf("regressions %q, want %q", c.Regressions, tc.regressions)
			}
			for i, want := range tc.regressions {
				if !strings.HasPrefix(c.Regressions[i], want) {
					t.Errorf("regression %d: %q, want %q…", i, c.Regressions[i], want)
				}
			}
			if tc.test != "" {
				for _, ch := range c.Changes {
					if ch.Judged && !strings.Contains(ch.Test, tc.test) {
						t.Errorf("%s %s decided by %q, want %s", ch.Target, ch.Figure, ch.Test, tc.test)
					}
				}
			}
			var md bytes.Buffer
			if err := c.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			if (len(tc.regressions) == 0) != strings.Contains(md.String(), "**No regression.**") {
				t.Errorf("comparison text does not match the verdict:\n%s", md.String())
			}
		})
	}
}

func TestCompareDoesNotJudgeALowerBoundBelowTheBaseline(t *testing.T) {
	base := loadFixture(t, "single")
	cur := loadFixture(t, "single")
	chi := findTarget(cur, "chi")
	chi.Peak.Peak *= 0.5
	chi.Peak.Bound = peak.BoundLoader
	c := Compare(base, cur, CompareOptions{Threshold: 0.10})
	if len(c.Regressions) != 0 {
		t.Fatalf("a loader-bound peak counted as a regression: %v", c.Regressions)
	}
	for _, ch := range c.Changes {
		if ch.Target == "chi" && ch.Figure == results.FigPeakRPS && (ch.Judged || !strings.Contains(ch.Note, "loader-bound")) {
			t.Errorf("chi peak: judged %v, note %q", ch.Judged, ch.Note)
		}
	}
}

func TestCompareWarnsAboutDifferentMachines(t *testing.T) {
	base := loadFixture(t, "single")
	cur := loadFixture(t, "single")
	cur.Manifest.Machine.Cores = 8
	cur.Manifest.VCPUs = 2
	for i := range cur.Targets {
		cur.Targets[i].VCPUs = 2
	}
	c := Compare(base, cur, CompareOptions{Threshold: 0.10})
	notes := strings.Join(c.Notes, "\n")
	if !strings.Contains(notes, "cores") || !strings.Contains(notes, "vCPUs per target") {
		t.Errorf("notes do not warn: %s", notes)
	}
	// Per vCPU, the same peaks on 6× the budget are a big regression.
	found := false
	for _, ch := range c.Changes {
		found = found || ch.Figure == "peak_rps_per_vcpu" && ch.Regression
	}
	if !found {
		t.Error("peaks on different budgets were not compared per vCPU")
	}
}
