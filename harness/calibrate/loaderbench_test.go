package calibrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/scenario"
)

// kneeSender is a simulated loader with a known answer: it keeps any pace,
// adds 0.05 ms at p95 up to knee req/s and 1 ms above, and uses usPerReq of
// CPU per request. It records the rates it was asked for.
type kneeSender struct {
	knee, usPerReq float64
	rates          []float64
	urls           []string
}

func (k *kneeSender) step(_ context.Context, url string, _ scenario.Loader, rate float64, d time.Duration) (load.Step, time.Duration, error) {
	k.rates, k.urls = append(k.rates, rate), append(k.urls, url)
	n := uint64(rate * d.Seconds())
	p95 := 0.05
	if rate > k.knee {
		p95 = 1
	}
	st := load.Step{Offered: rate, Achieved: rate, Throughput: rate, Requests: n, Success: 1, Duration: d.Seconds(),
		Corrected: load.Latency{P50: 0.02, P95: p95, P99: p95, Max: p95, Mean: 0.03}, Codes: map[string]int{"200": int(n)}}
	return st, time.Duration(float64(n)*k.usPerReq) * time.Microsecond, nil
}

// A calibration through a Sender (the agents, or loader-bench's
// independent loader) runs every step on it, the fixed rate first, and
// finds its capacity and CPU cost by the loader's own definition.
func TestCalibrationThroughASender(t *testing.T) {
	k := &kneeSender{knee: 12000, usPerReq: 30}
	cfg := Config{Scenario: jsonScenario(), FixedRate: 417, FixedDuration: time.Second, Step: time.Second,
		MaxRate: 100000, AddedP95Limit: 200 * time.Microsecond, Sender: k.step}
	srv := &refServer{url: "http://127.0.0.1:9", describe: "simulated"}
	res, err := measure(context.Background(), cfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.rates) < 4 || k.rates[0] != 417 || k.rates[1] != 417 {
		t.Fatalf("rates asked %v: want the warm-up and the fixed rate (417) first, then a search", k.rates)
	}
	for _, u := range k.urls {
		if u != srv.url {
			t.Fatalf("sender asked for %q, want the reference server %q", u, srv.url)
		}
	}
	// The search's precision is 5 %: the capacity is the knee or within 5 % below it.
	if res.Capacity > k.knee || res.Capacity < 0.95*k.knee || res.CapacityBound != "loader" {
		t.Errorf("capacity %.0f (%s), want within 5 %% below the knee at %.0f (loader)", res.Capacity, res.CapacityBound, k.knee)
	}
	if res.CPUPerRequestUS < 29 || res.CPUPerRequestUS > 31 {
		t.Errorf("CPU per request %.1f µs, want the sender's 30", res.CPUPerRequestUS)
	}
	if res.Added.P95 != 0.05 {
		t.Errorf("added p95 at the fixed rate %.3f ms, want 0.05", res.Added.P95)
	}
}

// The loader bench holds the independent loader to the loader's own
// definition of capacity, then reads its CPU at the light rate.
func TestBenchIndependent(t *testing.T) {
	k := &kneeSender{knee: 8000, usPerReq: 30}
	cfg := Config{Scenario: jsonScenario(), FixedRate: 417, FixedDuration: time.Second, Step: time.Second,
		MaxRate: 100000, AddedP95Limit: 200 * time.Microsecond}
	lb := LoaderBench{Calibration: Result{Capacity: 32000}}
	err := benchIndependent(context.Background(), cfg, &refServer{url: "http://127.0.0.1:9"}, &Independent{Name: "sim 1.0", Setup: "knee at 8000", Step: k.step}, 667, &lb)
	if err != nil {
		t.Fatal(err)
	}
	o := lb.Independent
	if o == nil || o.Capacity > 8000 || o.Capacity < 7600 || lb.IndependentName != "sim 1.0" || lb.IndependentSetup != "knee at 8000" {
		t.Fatalf("independent %+v (%q, %q): want its capacity within 5 %% below 8000 and its name kept", o, lb.IndependentName, lb.IndependentSetup)
	}
	if want := 32000 / o.Capacity; lb.IndependentRatio != want {
		t.Errorf("ratio %.3f, want the loader's capacity over the independent one's, %.3f", lb.IndependentRatio, want)
	}
	// 667 req/s at 30 µs each, over one second: 2.0 % of a core.
	if s := lb.IndependentIdle; s == nil || s.Rate != 667 || s.CPUPct < 1.99 || s.CPUPct > 2.01 || k.rates[len(k.rates)-1] != 667 {
		t.Errorf("light-rate step %+v (last rate asked %.0f): want 667 req/s at 2.0 %% of a core", s, k.rates[len(k.rates)-1])
	}
}

func TestLoaderBenchTableShowsTheIndependentLoader(t *testing.T) {
	lb := LoaderBench{
		Calibration: Result{Server: "test", FixedRate: 417, Capacity: 35000, AddedP95Limit: 0.2, CPUPerRequestUS: 19},
		Wrk:         WrkResult{Threads: 1, Connections: 64, RPS: 140000, CPUPct: 99, CPUPerRequestUS: 7},
		Ratio:       0.25,
	}
	if got := LoaderBenchTable(lb); strings.Contains(got, "oha") {
		t.Fatalf("a bench without an independent loader names one:\n%s", got)
	}
	lb.Independent = &Result{FixedRate: 417, Capacity: 7500, AddedP95Limit: 0.2, CPUPerRequestUS: 30}
	lb.IndependentName, lb.IndependentSetup, lb.IndependentRatio = "oha 1.16.0", "open model, 64 connections", 35000.0/7500
	lb.IndependentIdle = &IdleStep{Rate: 667, Added: load.Latency{P50: 0.07, P95: 0.15}, CPUPct: 6.1, WorkCPUPct: 6.1}
	got := LoaderBenchTable(lb)
	for _, want := range []string{
		"| oha 1.16.0 (open model, 64 connections), capacity (pace held, added p95 ≤ 0.20 ms) | 7500 | – | 30.0 |",
		"| oha 1.16.0, fixed 417 req/s |",
		"Capacity / oha 1.16.0's capacity by the same definition: **4.67×** (35000 against 7500 req/s).",
		"| oha 1.16.0, 667 req/s | 667 | 6.1 | – | 0.070 / 0.150 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	// An independent loader that met the bound at no rate: no ratio to give.
	lb.Independent.Capacity, lb.IndependentRatio = 0, 0
	if got := LoaderBenchTable(lb); !strings.Contains(got, "same definition: **–** (35000 against 0 req/s)") {
		t.Errorf("with the independent loader's capacity 0, want the ratio shown as –:\n%s", got)
	}
}
