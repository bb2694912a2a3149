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
	got := LoaderBenchTable(lb)
	for _, want := range []string{
		"| oha 1.16.0 (open model, 64 connections), capacity (pace held, added p95 ≤ 0.20 ms) | 7500 | – | 30.0 |",
		"| oha 1.16.0, fixed 417 req/s |",
		"Capacity / oha 1.16.0's capacity by the same definition: **4.67×** (35000 against 7500 req/s).",
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
