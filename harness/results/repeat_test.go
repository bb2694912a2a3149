package results

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
)

func TestSpread(t *testing.T) {
	cases := []struct {
		name             string
		xs               []float64
		median, min, max float64
		ciLo, ciHi       float64
	}{
		// t(0.975, 2) = 4.3027; sd 1, n 3: half-width 4.3027/√3 = 2.4841.
		{"odd", []float64{3, 1, 2}, 2, 1, 3, 2 - 2.4841, 2 + 2.4841},
		// The lower middle value: a median that a repetition measured.
		{"even", []float64{4, 1, 3, 2}, 2, 1, 4, 2.5 - 3.1824*math.Sqrt(5.0/3)/2, 2.5 + 3.1824*math.Sqrt(5.0/3)/2},
		{"one", []float64{5}, 5, 5, 5, 5, 5},
		{"no spread", []float64{7, 7, 7}, 7, 7, 7, 7, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSpread(tc.xs)
			got := []float64{s.Median, s.Min, s.Max, s.CILo, s.CIHi}
			want := []float64{tc.median, tc.min, tc.max, tc.ciLo, tc.ciHi}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-3 {
					t.Fatalf("median/min/max/ci = %v, want %v", got, want)
				}
			}
			if s.N != len(tc.xs) {
				t.Errorf("n = %d", s.N)
			}
		})
	}
	if s := NewSpread(nil); s.N != 0 {
		t.Errorf("empty: %+v", s)
	}
}

func rep(peakRPS float64, bound string, p95, cpu, rss float64) Repeat {
	f := &Fixed{Observation: peak.Observation{Step: load.Step{Offered: 417, Success: 1, Corrected: load.Latency{P50: p95 / 2, P95: p95, P99: 2 * p95}}},
		CPUPct: cpu}
	f.Sample.RSSMeanMB, f.Sample.RSSPeakMB, f.Sample.PSSMeanMB = rss-2, rss-1, rss-5
	return Repeat{Fixed: f, Peak: &peak.Result{Peak: peakRPS, Bound: bound}, RSSPeakMB: rss}
}

func repeatedFixture() *Run {
	run := fixture()
	chi := &run.Targets[0]
	chi.Repeats = []Repeat{rep(9000, peak.BoundTarget, 1.3, 41, 15), rep(8000, peak.BoundTarget, 1.1, 39, 14), rep(10000, peak.BoundLoader, 1.2, 40, 16)}
	chi.RSSPeakMB = 16
	chi.SetMedians()
	return run
}

func TestMediansOfRepetitions(t *testing.T) {
	run := repeatedFixture()
	chi := run.Targets[0]
	// The top-level records are whole repetitions: the one with the median
	// p95 (the third), the one with the median peak (the first).
	if chi.Fixed != chi.Repeats[2].Fixed || chi.Peak != chi.Repeats[0].Peak {
		t.Fatalf("top-level fixed/peak are not the median repetitions")
	}
	r := SummaryRow(chi)
	if r.PeakRPS != 9000 || r.PeakBound != peak.BoundTarget || r.P95 != 1.2 || r.CPUPct != 40 || r.RSSPeakMB != 15 || r.Repeats != 3 {
		t.Errorf("summary row %+v", r)
	}
	// The fixed run's memory is a median of its own over the repetitions'
	// fixed runs (rss 15, 14, 16), not the median-p95 repetition's (16).
	if r.RSSFixedMeanMB != 13 || r.RSSFixedPeakMB != 14 || r.PSSFixedMeanMB != 10 {
		t.Errorf("fixed-run memory %.0f / %.0f, PSS %.0f MB; want the medians 13 / 14, PSS 10",
			r.RSSFixedMeanMB, r.RSSFixedPeakMB, r.PSSFixedMeanMB)
	}
	if n := chi.LoaderBoundRepeats(); n != 1 {
		t.Errorf("loader-bound repetitions %d, want 1", n)
	}
	// A single measurement reads the same as before -repeat existed.
	single := SummaryRow(fixture().Targets[0])
	if single.Repeats != 1 || single.PeakRPS != 9000 || single.RSSPeakMB != 14 {
		t.Errorf("single-run row %+v", single)
	}
}

func TestSpreadCSVAndMarkdownReportRepetitions(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSpreadCSV(&b, repeatedFixture()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "target,figure,n,median,min,max,mean,stddev,ci95_lo,ci95_hi" {
		t.Fatalf("header %v", recs[0])
	}
	if got := strings.Join(recs[1][:6], ","); got != "chi,peak_rps,3,9000.000,8000.000,10000.000" {
		t.Errorf("chi peak row %s", got)
	}
	if len(recs) != 1+len(SpreadFigures) {
		t.Errorf("%d rows: the skipped target must have none", len(recs)-1)
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, repeatedFixture()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Repetitions", "| chi | 3 | 9000 (8000–10000; CI", "loader-bound in 1 of 3", "| chi | ok | 9000 | target |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md.String())
		}
	}
	md.Reset()
	_ = WriteMarkdown(&md, fixture())
	if strings.Contains(md.String(), "Repetitions") {
		t.Error("a run without repetitions has a Repetitions section")
	}
}
