package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

func fixture() *Run {
	ref := &scenario.Reference{Source: "the article", VCPUs: 8, Rows: []scenario.ReferenceRow{
		{Target: "chi", PeakRPS: 38000, P95MS: 9, RSSMB: 95, CPUPct: 38}}}
	row, _ := ref.Row("chi")
	fixed := &Fixed{Observation: peak.Observation{Step: load.Step{Offered: 417, Success: 1,
		Corrected: load.Latency{P50: 0.5, P95: 1.25, P99: 2}, Vegeta: load.Latency{P95: 1.0}}, LoaderCPU: 0.2,
		LoaderAdded: &load.Latency{P95: 0.18}},
		CPUPct: 40}
	// The fixed run's memory is below the whole run's peak (14 MB, reached
	// in the warm-up or the peak search).
	fixed.Sample.RSSMeanMB, fixed.Sample.RSSPeakMB, fixed.Sample.PSSMeanMB = 12, 13, 9.4
	return &Run{
		Manifest: &Manifest{RunID: "r1", Profile: &scenario.Profile{Name: "quick", FixedRatePerVCPU: 1250},
			Scenario: &scenario.Scenario{Name: "api"}, Runtime: "local", VCPUs: 1.0 / 3, Reference: ref,
			Calibration: &calibrate.Result{Server: "busy-polling", FixedRate: 417, Added: load.Latency{P50: 0.02, P95: 0.06, P99: 0.09},
				Capacity: 21000, CapacityBound: peak.BoundLoader, AddedP95Limit: 0.2}},
		Targets: []Target{
			{Name: "chi", Status: StatusOK, Runtime: "local", VCPUs: 1.0 / 3, Fixed: fixed, RSSPeakMB: 14, Article: &row,
				Peak: &peak.Result{Peak: 9000, Bound: peak.BoundLoader, Note: "loader at 90%"}},
			{Name: "phoenix", Status: StatusSkipped, Reason: "deps not fetched", Hint: "mix deps.get"},
		},
	}
}

// csvOf is run's summary.csv as records, with each column's index by name.
func csvOf(t *testing.T, run *Run) (recs [][]string, col map[string]int) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteCSV(&b, run); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col = map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	return recs, col
}

func TestCSVKeepsTheContractColumnsFirst(t *testing.T) {
	recs, col := csvOf(t, fixture())
	want := "target,status,vcpus,peak_rps,peak_bound,fixed_rps,p50_ms,p95_ms,p99_ms,success,cpu_pct,rss_mean_mb,rss_peak_mb"
	if got := strings.Join(recs[0][:13], ","); got != want {
		t.Fatalf("header %s\nwant    %s", got, want)
	}
	chi := strings.Join(recs[1][:13], ",")
	if chi != "chi,ok,0.333,9000,loader,417,0.500,1.250,2.000,1.00000,40.0,12.0,14.0" {
		t.Fatalf("chi row %s", chi)
	}
	if recs[2][1] != "skipped" || recs[2][4] != "" || recs[2][col["reason"]] != "deps not fetched" {
		t.Fatalf("phoenix row %v", recs[2])
	}
	// The loader's share and capacity: measured figures, or empty cells.
	if got := recs[1][col["loader_added_p95_ms"]] + "," + recs[1][col["loader_capacity_rps"]]; got != "0.180,21000" {
		t.Fatalf("chi loader columns %q, want 0.180,21000", got)
	}
	if got := recs[2][col["loader_added_p95_ms"]]; got != "" {
		t.Fatalf("phoenix loader_added_p95_ms %q, want empty", got)
	}
}

func TestMarkdownSetsArticleBesideMeasured(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| chi | ok | ≥ 9000 | loader | 27000 | 4750 | 1.25 | 0.06 / 0.18 | 9 | 40 | 38 | 12 / 13, 9 | 95 |",
		"## The instrument",
		"adds p50 0.020 / p95 0.060 / p99 0.090 ms",
		"is **21000 req/s** (the next rate failed)",
		"| phoenix | skipped |",
		"**phoenix** skipped: deps not fetched — fix: `mix deps.get`",
		"**chi** peak (loader): loader at 90%",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
}

// A run without a calibration says so in bold, and why when it failed.
func TestMarkdownSaysWhenTheLoaderWasNotCalibrated(t *testing.T) {
	for _, c := range []struct{ err, want string }{
		{"", "**The loader was not calibrated in this run"},
		{"reference server: no such file", "**The loader's calibration failed (reference server: no such file)"},
	} {
		run := fixture()
		run.Manifest.Calibration, run.Manifest.CalibrationError = nil, c.err
		var b bytes.Buffer
		if err := WriteMarkdown(&b, run); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("summary.md lacks %q:\n%s", c.want, b.String())
		}
	}
}

// The instrument section says how the loader's CPUs idled: held polling,
// a hold that failed (in bold, with why), left as found, or nothing for a
// manifest from before the setting.
func TestMarkdownSaysHowTheLoaderCPUsIdled(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  cpuset.IdleRecord
		want string
	}{
		{"held", cpuset.IdleRecord{Policy: cpuset.IdlePoll, CPUs: []int{1}}, "The loader's CPUs (1) were held in the polling idle state"},
		{"failed", cpuset.IdleRecord{Policy: cpuset.IdleDefault, CPUs: []int{1}, Why: "permission denied"},
			"**The loader's CPUs could not be held in the polling idle state (permission denied)"},
		{"left", cpuset.IdleRecord{Policy: cpuset.IdleDefault}, "left in the machine's own idle states"},
		{"older manifest", cpuset.IdleRecord{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := fixture()
			run.Manifest.LoaderIdle = c.rec
			var b bytes.Buffer
			if err := WriteMarkdown(&b, run); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			if c.want == "" {
				if strings.Contains(md, "idle state") {
					t.Errorf("summary.md speaks of idle states with no record:\n%s", md)
				}
				return
			}
			if !strings.Contains(md, c.want) {
				t.Errorf("summary.md lacks %q:\n%s", c.want, md)
			}
		})
	}
}

// A target whose budget was not enforced is marked in every file: a bold
// line and its row in summary.md, the unpinned column of summary.csv, the
// unpinned field of results.json.
func TestUnpinnedTargetIsMarkedEverywhere(t *testing.T) {
	for _, unpinned := range []bool{false, true} {
		run := fixture()
		run.Targets[0].Unpinned = unpinned
		dir := t.TempDir()
		if err := Write(dir, run); err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
		for _, want := range []string{"**Unpinned: the 0.333-vCPU budget could not be enforced for chi", "| chi | ok, unpinned |"} {
			if strings.Contains(string(md), want) != unpinned {
				t.Errorf("unpinned=%v: summary.md has %q: %v\n%s", unpinned, want, !unpinned, md)
			}
		}
		f, _ := os.Open(filepath.Join(dir, "summary.csv"))
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(recs[0], "unpinned")
		if col < 0 {
			t.Fatalf("summary.csv has no unpinned column: %v", recs[0])
		}
		if got, want := recs[1][col]+","+recs[2][col], fmt.Sprintf("%v,false", unpinned); got != want {
			t.Errorf("unpinned column chi,phoenix = %s, want %s", got, want)
		}
		back, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Targets[0].Unpinned != unpinned {
			t.Errorf("results.json: unpinned = %v, want %v", back.Targets[0].Unpinned, unpinned)
		}
	}
}

// A record written before the unpinned field still reads as unpinned when
// its pinning text says the quota could not be set.
func TestReadRecognisesAnOlderUnpinnedRecord(t *testing.T) {
	cases := map[string]bool{
		"affinity CPUs 0 (no cgroup: budget not enforced as a quota): no writable cgroup hierarchy (need root and cgroup v1 cpu+cpuset or cgroup v2)": true,
		"affinity CPUs 0-1 (no cgroup: budget not enforced as a quota)":                                                                               false, // a whole-CPU budget: affinity holds it
		"cgroup v1 cpuset 0, CFS quota 0.333 CPU per 10ms":                                                                                            false,
	}
	for pinning, want := range cases {
		run := fixture()
		run.Targets[0].Pinning = pinning
		dir := t.TempDir()
		if err := Write(dir, run); err != nil {
			t.Fatal(err)
		}
		back, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := back.Targets[0].Unpinned; got != want {
			t.Errorf("pinning %q: unpinned = %v, want %v", pinning, got, want)
		}
	}
}

// The fixed run's memory has columns of its own; rss_peak_mb stays the
// whole run's. PSS is an empty cell where it was not read.
func TestCSVHasTheFixedRunsMemory(t *testing.T) {
	run := fixture()
	noPSS := run.Targets[0]
	noPSS.Name = "chi-no-pss"
	f := *noPSS.Fixed
	f.Sample.PSSMeanMB = 0
	noPSS.Fixed = &f
	run.Targets = append(run.Targets, noPSS)
	recs, col := csvOf(t, run)
	cells := func(rec []string) string {
		var out []string
		for _, name := range []string{"rss_peak_mb", "rss_fixed_mean_mb", "rss_fixed_peak_mb", "pss_fixed_mean_mb"} {
			i, ok := col[name]
			if !ok {
				t.Fatalf("summary.csv has no %s column: %v", name, recs[0])
			}
			out = append(out, rec[i])
		}
		return strings.Join(out, ",")
	}
	for i, want := range []string{"14.0,12.0,13.0,9.4", "0.0,0.0,0.0,", "14.0,12.0,13.0,"} {
		if got := cells(recs[i+1]); got != want {
			t.Errorf("%s rss_peak_mb,rss_fixed_mean_mb,rss_fixed_peak_mb,pss_fixed_mean_mb = %s, want %s", recs[i+1][0], got, want)
		}
	}
}

// results.json carries the same figures on the fixed run's record, PSS only
// where it was read.
func TestJSONHasTheFixedRunsPSS(t *testing.T) {
	run := fixture()
	for _, c := range []struct {
		pss  float64
		want string
	}{{9.4, `"pss_mean_mb":9.4`}, {0, ""}} {
		run.Targets[0].Fixed.Sample.PSSMeanMB = c.pss
		b, err := json.Marshal(run.Targets[0])
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Fixed struct {
				Target map[string]any `json:"target"`
			} `json:"fixed"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		got := rec.Fixed.Target
		if got["rss_mean_mb"] != 12.0 || got["rss_peak_mb"] != 13.0 {
			t.Errorf("fixed.target %v, want rss_mean_mb 12 and rss_peak_mb 13", got)
		}
		if v, ok := got["pss_mean_mb"]; c.want != "" && v != c.pss || c.want == "" && ok {
			t.Errorf("fixed.target %v, want %s", got, map[bool]string{true: c.want, false: "no pss_mean_mb"}[c.want != ""])
		}
	}
}

// The fixed run's tail has columns of its own: p99.9, the slowest request
// and how many took over 10 ms.
func TestCSVHasTheFixedRunsTail(t *testing.T) {
	run := fixture()
	f := *run.Targets[0].Fixed
	f.Step.Corrected.P999, f.Step.Corrected.Max, f.Step.Over10ms = 7.5, 31.25, 12
	run.Targets[0].Fixed = &f
	recs, col := csvOf(t, run)
	row := func(name string) string { return recs[1][col[name]] }
	if row("p999_ms") != "7.500" || row("max_ms") != "31.250" || row("over_10ms") != "12" {
		t.Fatalf("tail columns p999_ms=%q max_ms=%q over_10ms=%q, want 7.500, 31.250, 12", row("p999_ms"), row("max_ms"), row("over_10ms"))
	}
}

// A runtime's GC report lands in summary.csv and summary.md; figures the
// runtime does not have stay empty, a measured 0 does not.
func TestGCFiguresInCSVAndMarkdown(t *testing.T) {
	n, zero := int64(40), int64(0)
	p50, p99, mx, none := 0.05, 0.25, 0.4, 0.0
	goRun, beamRun := fixture(), fixture()
	f := *goRun.Targets[0].Fixed
	f.Step.Corrected.P999 = 5
	f.GC = &contract.GCStats{Runtime: contract.GCRuntimeGo, LiveObjects: 2000000, Collections: &n, Pauses: &n,
		PauseP50MS: &p50, PauseP99MS: &p99, PauseMaxMS: &mx}
	goRun.Targets[0].Fixed = &f
	g := f
	g.GC = &contract.GCStats{Runtime: contract.GCRuntimeBEAM, LiveObjects: 2000000, Collections: &n, LargestProcessGCMS: &none, LongGCs: &zero}
	beamRun.Targets[0].Fixed = &g
	cases := []struct {
		name string
		run  *Run
		want map[string]string
		md   string
	}{
		{"go", goRun, map[string]string{"p999_over_p50": "10.00", "gc_collections": "40", "gc_pause_p99_ms": "0.250", "gc_pause_max_ms": "0.400", "gc_largest_process_ms": ""},
			"| chi | 0.50 | 2.00 | 5.00 | 0.00 | 0 | 10.0 | go | 2000000 | 40 | 0.250 / 0.400 | – |"},
		{"beam", beamRun, map[string]string{"gc_pause_p99_ms": "", "gc_pause_max_ms": "", "gc_largest_process_ms": "0"},
			"| chi | 0.50 | 2.00 | 5.00 | 0.00 | 0 | 10.0 | beam | 2000000 | 40 | – | 0 |"},
	}
	for _, tc := range cases {
		recs, col := csvOf(t, tc.run)
		for c, want := range tc.want {
			if got := recs[1][col[c]]; got != want {
				t.Errorf("%s: %s = %q, want %q", tc.name, c, got, want)
			}
		}
		var b strings.Builder
		if err := WriteMarkdown(&b, tc.run); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.md) {
			t.Errorf("%s: summary.md lacks the row %q:\n%s", tc.name, tc.md, b.String())
		}
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, fixture()); err != nil || strings.Contains(b.String(), "garbage collection") {
		t.Errorf("a run with no GC report has a GC section (%v)", err)
	}
}

// A database run's summary.md names the bottleneck at each peak from the
// target's and the database's CPU there.
func TestDatabaseTableNamesTheBottleneck(t *testing.T) {
	run := fixture()
	run.Manifest.Scenario = &scenario.Scenario{Name: "db", Database: &scenario.DatabaseScenario{Schema: "db.sql"}}
	f := *run.Targets[0].Fixed
	f.DatabaseCPU, f.Database = 0.5, &sample.Stats{RSSMeanMB: 180}
	run.Targets[0].Fixed = &f
	p := *run.Targets[0].Peak
	p.Peak = 900
	p.Steps = []peak.Step{{Rate: 900, Verdict: peak.Verdict{Pass: true}, Observation: peak.Observation{TargetCPU: 0.45, DatabaseCPU: 0.93, Database: &sample.Stats{}}}}
	run.Targets[0].Peak = &p
	var b strings.Builder
	if err := WriteMarkdown(&b, run); err != nil {
		t.Fatal(err)
	}
	if want := "| chi | 50 | 180 / – | 45 | 93 | database |"; !strings.Contains(b.String(), want) {
		t.Errorf("summary.md lacks %q:\n%s", want, b.String())
	}
	recs, col := csvOf(t, run)
	for c, want := range map[string]string{"db_cpu_pct": "50.0", "db_rss_mean_mb": "180.0", "cpu_at_peak_pct": "45.0", "db_cpu_at_peak_pct": "93.0"} {
		if got := recs[1][col[c]]; got != want {
			t.Errorf("%s = %q, want %q", c, got, want)
		}
	}
}
