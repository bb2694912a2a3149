package crosscheck

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// testdata/oha-json.json is oha 1.16.0's report of a real run:
// `oha -q 400 --latency-correction -z 2s -c 16 --wait-ongoing-requests-after-deadline
// --redirect 0 --no-tui --output-format json -t 5s`, pinned to CPU 1, against a
// minimal Go JSON server on CPU 0. Its requestsPerSec (399.7) and successRate
// happen to match the harness's figures here, since every request got a 200.
func TestParseCapturedOhaReport(t *testing.T) {
	b, err := os.ReadFile("testdata/oha-json.json")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseOha(b, 400)
	if err != nil {
		t.Fatal(err)
	}
	// The figures as oha wrote them (seconds), in the harness's units (ms).
	want := map[string][2]float64{
		"offered":  {st.Offered, 400},
		"requests": {float64(st.Requests), 800},
		"success":  {st.Success, 1},
		"duration": {st.Duration, 2.001461991},
		"achieved": {st.Achieved, 800 / 2.001461991},
		"p50":      {st.Corrected.P50, 0.348247},
		"p95":      {st.Corrected.P95, 0.615825},
		"p99":      {st.Corrected.P99, 1.7104},
		"max":      {st.Corrected.Max, 5.049657},
		"mean":     {st.Corrected.Mean, 0.39379},
		"200s":     {float64(st.Codes["200"]), 800},
	}
	for name, v := range want {
		if math.Abs(v[0]-v[1]) > 1e-3*math.Max(1, math.Abs(v[1])) {
			t.Errorf("%s = %v, want %v", name, v[0], v[1])
		}
	}
	if len(st.Codes) != 1 || len(st.Errors) != 0 || st.Vegeta.P95 != 0 {
		t.Errorf("codes %v errors %v vegeta %+v: want only 200s, no errors, no uncorrected figures", st.Codes, st.Errors, st.Vegeta)
	}
}

func TestParseOha(t *testing.T) {
	cases := []struct {
		name      string
		json      string
		requests  uint64
		success   float64
		achieved  float64
		p95       float64
		codes     map[string]int
		errs      int
		wantError bool
	}{
		{
			name: "non-2xx responses are completed but not successful",
			json: `{"summary":{"total":2.0,"slowest":0.004,"average":0.001},
				"latencyPercentiles":{"p50":0.001,"p95":0.002,"p99":0.003},
				"statusCodeDistribution":{"200":90,"302":5,"500":5},"errorDistribution":{}}`,
			requests: 100, success: 0.95, achieved: 50, p95: 2,
			codes: map[string]int{"200": 90, "302": 5, "500": 5},
		},
		{
			// oha's requestsPerSec would count the 10 connection errors and
			// the 4 deadline aborts as requests per second: Achieved must not.
			name: "transport errors fail, deadline aborts are left out",
			json: `{"summary":{"total":1.0,"slowest":0.01,"average":0.002,"requestsPerSec":114},
				"latencyPercentiles":{"p50":0.001,"p95":0.005,"p99":0.009},
				"statusCodeDistribution":{"200":100},
				"errorDistribution":{"connection refused":10,"aborted due to deadline":4}}`,
			requests: 110, success: 100.0 / 110, achieved: 100, p95: 5,
			codes: map[string]int{"200": 100, "0": 10}, errs: 2,
		},
		{
			// No response: oha writes its NaN percentiles as null.
			name: "nothing answered",
			json: `{"summary":{"total":1.0,"slowest":null,"average":null},
				"latencyPercentiles":{"p50":null,"p95":null,"p99":null},
				"statusCodeDistribution":{},"errorDistribution":{"connection refused":7}}`,
			requests: 7, success: 0, achieved: 0, p95: 0, codes: map[string]int{"0": 7}, errs: 1,
		},
		{
			name:      "no request at all",
			json:      `{"summary":{"total":1.0},"statusCodeDistribution":{},"errorDistribution":{}}`,
			codes:     map[string]int{},
			wantError: true,
		},
		{name: "not JSON", json: `oha: error`, wantError: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := ParseOha([]byte(c.json), 100)
			if (err != nil) != c.wantError {
				t.Fatalf("error %v, want error: %v", err, c.wantError)
			}
			if c.wantError {
				return
			}
			if st.Requests != c.requests || !near(st.Success, c.success) || !near(st.Achieved, c.achieved) || !near(st.Corrected.P95, c.p95) {
				t.Errorf("requests %d success %.4f achieved %.1f p95 %.3f, want %d %.4f %.1f %.3f",
					st.Requests, st.Success, st.Achieved, st.Corrected.P95, c.requests, c.success, c.achieved, c.p95)
			}
			if len(st.Codes) != len(c.codes) {
				t.Errorf("codes %v, want %v", st.Codes, c.codes)
			}
			for k, v := range c.codes {
				if st.Codes[k] != v {
					t.Errorf("codes %v, want %v", st.Codes, c.codes)
				}
			}
			if len(st.Errors) != c.errs {
				t.Errorf("errors %v, want %d kinds", st.Errors, c.errs)
			}
		})
	}
}

func TestCompareAndVerdict(t *testing.T) {
	side := func(peakRPS float64, bound string, p95 float64) Side {
		return Side{OK: true, Peak: peakRPS, Bound: bound, FixedP95: p95}
	}
	even := side(12000, peak.BoundTarget, 1.30) // the harness's own run: its peak is not judged
	cases := []struct {
		name          string
		h, s, o       Side // harness, harness with oha's arrivals, oha
		peakOK, p95OK bool
		verdict       string // a fragment of the verdict
	}{
		{"agree", side(9000, peak.BoundTarget, 1.30), side(9200, peak.BoundTarget, 1.5), side(9500, peak.BoundTarget, 1.25), true, true, "agrees"},
		{"own peak off, same arrivals agree", side(14000, peak.BoundTarget, 1.3), side(10100, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, true, "agrees"},
		{"peak exactly 15 % high", even, side(11500, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, true, "agrees"},
		{"peak exactly 15 % low", even, side(8500, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, true, "agrees"},
		{"peak 16 % low", even, side(8400, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), false, true, "same arrivals, 0.84x oha's"},
		{"peak 20 % high", even, side(12000, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), false, true, "1.20x"},
		{"harness loader-bound and low", even, side(6000, peak.BoundLoader, 1.3), side(10000, peak.BoundTarget, 1.3), false, true, "harness's peak is loader-bound"},
		{"p95 0.1 ms apart", side(10000, peak.BoundTarget, 1.4), side(10000, peak.BoundTarget, 9), side(10000, peak.BoundTarget, 1.3), true, true, "agrees"},
		{"p95 0.11 ms above", side(10000, peak.BoundTarget, 1.41), side(10000, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, false, "p95 +0.11 ms"},
		{"p95 0.3 ms below", side(10000, peak.BoundTarget, 1.0), side(10000, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, false, "p95 -0.30 ms"},
		{"no oha peak", even, side(10000, peak.BoundTarget, 1.3), side(0, peak.BoundError, 1.3), false, true, "no peak to compare"},
		{"harness failed", Side{Reason: "failed: verify"}, side(10000, peak.BoundTarget, 1.3), side(10000, peak.BoundTarget, 1.3), true, false, "not measured (harness: failed: verify)"},
		{"same-arrivals run failed", even, Side{Reason: "failed: start"}, side(10000, peak.BoundTarget, 1.3), false, true, "harness with oha's arrivals: failed: start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Compare("chi", c.h, c.s, c.o)
			if r.PeakOK != c.peakOK || r.P95OK != c.p95OK {
				t.Fatalf("peak ok %v (ratio %.3f), p95 ok %v (diff %.3f), want %v, %v", r.PeakOK, r.ShapedRatio, r.P95OK, r.P95Diff, c.peakOK, c.p95OK)
			}
			v, pass := Verdict([]Row{r})
			if pass != (c.peakOK && c.p95OK && c.h.OK) || !strings.Contains(v, c.verdict) {
				t.Fatalf("verdict %q (pass %v), want it to say %q", v, pass, c.verdict)
			}
			md := Markdown([]Row{r})
			if !strings.Contains(md, "| chi |") || !strings.Contains(md, "**Verdict:**") {
				t.Fatalf("markdown lacks the row or the verdict:\n%s", md)
			}
		})
	}
	if _, pass := Verdict(nil); pass {
		t.Error("an empty cross-check passed")
	}
	// One bad target fails the whole check.
	good := Compare("axum", side(24000, peak.BoundTarget, 1.2), side(20000, peak.BoundTarget, 1.3), side(21000, peak.BoundTarget, 1.2))
	bad := Compare("chi", even, side(5000, peak.BoundTarget, 1.2), side(10000, peak.BoundTarget, 1.2))
	if v, pass := Verdict([]Row{good, bad}); pass || !strings.Contains(v, "chi") || strings.Contains(v, "axum") {
		t.Errorf("verdict %q (pass %v): want a failure naming chi only", v, pass)
	}
	md := Markdown([]Row{good})
	if !strings.Contains(md, "| axum | 24000 (target) | 20000 (target) | 21000 (target) | 1.14 | 0.95 | yes | 1.20 | 1.20 | +0.00 | yes |") {
		t.Errorf("row not as expected:\n%s", md)
	}
	if md := Markdown([]Row{Compare("axum", even, side(16667, peak.BoundLoader, 1.2), side(21000, peak.BoundTarget, 1.2))}); !strings.Contains(md, "≥ 16667 (loader)") {
		t.Errorf("a loader-bound peak is not marked as a lower bound:\n%s", md)
	}
}

func TestCheckScenario(t *testing.T) {
	get := scenario.Request{Name: "json", Weight: 1, Method: "GET", Path: "/json"}
	cases := []struct {
		name string
		reqs []scenario.Request
		ok   bool
	}{
		{"one fixed GET", []scenario.Request{get}, true},
		{"a mix", []scenario.Request{get, get}, false},
		{"a parameter", []scenario.Request{{Weight: 1, Method: "GET", Path: "/users/{user_id}"}}, false},
		{"a POST", []scenario.Request{{Weight: 1, Method: "POST", Path: "/orders", Body: "orders"}}, false},
	}
	for _, c := range cases {
		if err := checkScenario(&scenario.Scenario{Name: "s", Requests: c.reqs}); (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// TestOhaAgainstLocalServer runs the real oha for a second against an
// in-process server; it needs oha installed (make crosscheck installs it).
func TestOhaAgainstLocalServer(t *testing.T) {
	bin, err := FindOha(os.Getenv("OHA"))
	if err != nil {
		t.Skipf("oha not installed, skipping the live run: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"Hello, World!"}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := Oha{Path: bin}.Run(ctx, OhaStep{URL: srv.URL + "/json", Rate: 200, Duration: time.Second, Connections: 8, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := run.Step
	// 200 req/s for 1 s: oha schedules the first request at 0, so 200 or 201.
	if st.Requests < 190 || st.Requests > 202 || st.Success != 1 || st.Corrected.P95 <= 0 || st.Corrected.P95 > 50 {
		t.Errorf("step %+v: want about 200 successful requests with a small p95", st)
	}
	if run.CPUSeconds <= 0 || run.LoaderCPU <= 0 || run.LoaderCPU > 1 {
		t.Errorf("oha CPU %.3f s over %.2f s wall, %.3f of its CPUs: want a share in (0, 1]", run.CPUSeconds, run.Wall, run.LoaderCPU)
	}
}

// oha gets, step for step, the connections the harness had open at the
// nearest rate; without a harness record, the profile's.
func TestMatchConnections(t *testing.T) {
	lp := scenario.Loader{Workers: 128, Connections: 512}
	h := HarnessRecord{Result: &results.Target{
		Fixed: &results.Fixed{Observation: peak.Observation{Step: load.Step{Offered: 417, Connections: 3}}},
		Peak: &peak.Result{Steps: []peak.Step{
			{Rate: 2667, Observation: peak.Observation{Step: load.Step{Connections: 9}}},
			{Rate: 8000, Observation: peak.Observation{Step: load.Step{Connections: 31}}},
			{Rate: 10667, Observation: peak.Observation{Step: load.Step{Connections: 512}}},
		}},
	}}
	conns := matchConnections(h, lp)
	for _, c := range []struct {
		phase string
		rate  float64
		want  int
	}{{"fixed", 417, 3}, {"peak", 667, 3}, {"peak", 2667, 9}, {"peak", 7334, 31}, {"peak", 10000, 512}} {
		if got := conns(c.phase, c.rate); got != c.want {
			t.Errorf("%s at %.0f: %d connections, want %d", c.phase, c.rate, got, c.want)
		}
	}
	none := matchConnections(HarnessRecord{}, lp)
	if none("fixed", 417) != 128 || none("peak", 8000) != 512 {
		t.Errorf("without a harness record: %d / %d, want the profile's 128 / 512", none("fixed", 417), none("peak", 8000))
	}
}

// The probe tells the harness's evenly paced arrivals from the bunched ones
// it sends with oha's millisecond release-ahead, against a reference server
// in this process.
func TestArrivalProbeTellsEvenFromBunched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := calibrate.Serve(ctx, calibrate.ServerConfig{Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	sc := &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Name: "json", Weight: 1, Method: "GET", Path: "/json"}}}
	p := &scenario.Profile{Loader: scenario.Loader{Workers: 8, MaxWorkers: 64, Connections: 16,
		Timeout: scenario.Duration(2 * time.Second), SpinBelow: 2500}}
	senders := []sender{
		{LoaderHarness, harnessSender(ctx, p, sc, srv.URL(), time.Second)},
		{LoaderHarnessShaped, harnessSender(ctx, ohaShaped(p), sc, srv.URL(), time.Second)},
	}
	const rate = 4000
	rows, err := measureArrivals(ctx, srv.URL(), []float64{rate}, senders, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want one per sender: %+v", len(rows), rows)
	}
	for _, r := range rows {
		// A hit may leave up to its release-ahead early: those due in the
		// last millisecond leave before the end.
		if r.Err != "" || r.Arrivals.Requests < rate*9/10 || r.Arrivals.Requests > rate*1.001+1 {
			t.Errorf("%s: %d requests arrived (error %q), want about %d", r.Loader, r.Arrivals.Requests, r.Err, rate)
		}
	}
	even, bunched := rows[0].Arrivals, rows[1].Arrivals
	// Evenly paced: a gap of about 250 µs each. With a 1 ms release-ahead:
	// a millisecond's four hits leave together, a send apart (tens of µs
	// here), then nothing for most of a millisecond.
	if even.Bunched > 0.3 || even.GapP50US < 150 || even.GapP90US > 500 {
		t.Errorf("evenly paced arrivals: %s; want gaps of about 250 µs", even)
	}
	if bunched.GapP50US > 100 || bunched.GapP90US < 700 {
		t.Errorf("arrivals released 1 ms ahead: %s; want short gaps within bursts a millisecond apart", bunched)
	}
	md := ArrivalsMarkdown(rows)
	if !strings.Contains(md, "| harness | 4000 |") || !strings.Contains(md, "| harness, oha's arrivals | 4000 |") {
		t.Errorf("arrivals table lacks a row:\n%s", md)
	}
}

func TestMedianOverPairs(t *testing.T) {
	side := func(peakRPS float64, bound string, p95 float64) Side {
		return Side{OK: true, Peak: peakRPS, Bound: bound, FixedP95: p95}
	}
	failed := Side{Reason: "failed: start"}
	cases := []struct {
		name  string
		sides []Side
		want  Side
	}{
		{"none", nil, Side{Reason: "not run"}},
		{"one", []Side{side(9000, peak.BoundTarget, 0.2)}, side(9000, peak.BoundTarget, 0.2)},
		{"three", []Side{side(13334, peak.BoundTarget, 0.3), side(10667, peak.BoundTarget, 0.1), side(11334, peak.BoundTarget, 0.2)},
			Side{OK: true, Peak: 11334, Bound: peak.BoundTarget, FixedP95: 0.2, Peaks: []float64{13334, 10667, 11334}}},
		{"a failure left out: mean of the middle two", []Side{side(10000, peak.BoundTarget, 0.1), failed, side(12000, peak.BoundTarget, 0.3)},
			Side{OK: true, Peak: 11000, Bound: peak.BoundTarget, FixedP95: 0.2, Peaks: []float64{10000, 12000}}},
		{"a middle lower bound marks the median", []Side{side(10000, peak.BoundLoader, 0.1), side(12000, peak.BoundTarget, 0.1)},
			Side{OK: true, Peak: 11000, Bound: peak.BoundLoader, FixedP95: 0.1, Peaks: []float64{10000, 12000}}},
		{"all failed", []Side{failed, failed}, failed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Median(c.sides)
			if got.OK != c.want.OK || got.Reason != c.want.Reason || !near(got.Peak, c.want.Peak) || got.Bound != c.want.Bound ||
				!near(got.FixedP95, c.want.FixedP95) || !slices.Equal(got.Peaks, c.want.Peaks) {
				t.Fatalf("Median = %+v, want %+v", got, c.want)
			}
		})
	}
	md := Markdown([]Row{Compare("chi", side(12000, peak.BoundTarget, 0.2), Median(cases[2].sides), side(11000, peak.BoundTarget, 0.2))})
	if !strings.Contains(md, "11334 (target), median of 13334, 10667, 11334") {
		t.Errorf("the repetitions are not shown:\n%s", md)
	}
}

// oha as a calibration's sender (make loader-bench): it refuses a mix it
// cannot send, and otherwise sends the scenario's request at the asked
// rate to the server given, reporting its own CPU.
func TestOhaSender(t *testing.T) {
	mixed := &scenario.Scenario{Name: "api", Requests: []scenario.Request{{Method: "GET", Path: "/json"}, {Method: "GET", Path: "/db"}}}
	if _, err := (Oha{Path: "oha"}).Sender(mixed, 8, nil); err == nil || !strings.Contains(err.Error(), "scenario api") {
		t.Fatalf("sender for a two-request mix: err %v, want one naming the scenario", err)
	}
	bin, err := FindOha(os.Getenv("OHA"))
	if err != nil {
		t.Skipf("oha not installed, skipping the live run: %v", err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			hits.Add(1)
		}
		_, _ = w.Write([]byte(`{"message":"Hello, World!"}`))
	}))
	defer srv.Close()
	send, err := (Oha{Path: bin}).Sender(&scenario.Scenario{Name: "json", Requests: []scenario.Request{{Method: "GET", Path: "/json"}}}, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, cpu, err := send(ctx, srv.URL+"/", scenario.Loader{Timeout: scenario.Duration(5 * time.Second)}, 200, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests < 190 || st.Requests > 202 || hits.Load() != int64(st.Requests) || st.Success != 1 {
		t.Errorf("step of %d requests (%.2f success), server saw %d on /json: want about 200, all of them", st.Requests, st.Success, hits.Load())
	}
	if cpu <= 0 {
		t.Errorf("oha's CPU %s: want its rusage", cpu)
	}
}
