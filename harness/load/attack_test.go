package load

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/scenario"
)

func attack(t *testing.T, h http.Handler, rate float64, d time.Duration) Step {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/json"}}}
	st, err := Attack(context.Background(), NewMix(srv.URL, s), Config{Rate: rate, Duration: d, Workers: 4, MaxWorkers: 64, Connections: 64, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A fast server under a light load: a loader that keeps its schedule must
// not report queueing it did not see. (Charging each request one pacer
// interval too many, as an off-by-one in the schedule would, shows here as
// a corrected p95 at least 5 ms above vegeta's at 200 req/s.)
func TestCorrectedLatencyFollowsThePacer(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
	st := attack(t, ok, 200, 2*time.Second)
	t.Logf("vegeta p95 %.3f ms, corrected p95 %.3f ms, achieved %.0f", st.Vegeta.P95, st.Corrected.P95, st.Achieved)
	if st.Success != 1 || st.Achieved < 195 {
		t.Fatalf("step %+v", st)
	}
	if st.Corrected.P95-st.Vegeta.P95 > 2.5 || st.CODiverges {
		t.Fatalf("corrected p95 %.3f ms vs vegeta's %.3f (flagged %v): the schedule is off", st.Corrected.P95, st.Vegeta.P95, st.CODiverges)
	}
}

// A server that stalls every request for longer than the pacer interval
// with too few workers allowed: the loader falls behind, vegeta's own
// latency stays near the stall, and only the corrected figure shows the
// queue that built up.
func TestCorrectedLatencyShowsQueueing(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte(`{}`))
	})
	srv := httptest.NewServer(slow)
	t.Cleanup(srv.Close)
	s := &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/json"}}}
	st, err := Attack(context.Background(), NewMix(srv.URL, s), Config{Rate: 200, Duration: 2 * time.Second, Workers: 1, MaxWorkers: 2, Connections: 2, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vegeta p95 %.1f ms, corrected p95 %.1f ms, achieved %.0f", st.Vegeta.P95, st.Corrected.P95, st.Achieved)
	if st.Vegeta.P95 > 40 || st.Corrected.P95 < 200 || !st.CODiverges || st.Achieved > 150 {
		t.Fatalf("queueing hidden: %+v", st)
	}
}

// Each step closes its connections when it ends: a target must not carry
// the idle connections of every earlier step (they inflate its memory).
func TestAttackClosesItsConnections(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := &scenario.Scenario{Name: "json", Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/json"}}}
	for step := 0; step < 3; step++ {
		if _, err := Attack(context.Background(), NewMix(srv.URL, s), Config{Rate: 500, Duration: 300 * time.Millisecond,
			Workers: 8, MaxWorkers: 32, Connections: 32, Timeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for open.Load() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("after step %d the server still has %d open connections", step+1, open.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// The tail is counted, not only summarised: requests over 10 ms (here one
// in ten, held 15 ms by the server) and the p99.9.
func TestAttackCountsTheTail(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			time.Sleep(15 * time.Millisecond)
		}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	mix := NewMix(srv.URL, &scenario.Scenario{Name: "t", Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/"}}})
	st, err := Attack(context.Background(), mix, Config{Rate: 200, Duration: time.Second, Workers: 8, MaxWorkers: 64, Connections: 64, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if want := st.Requests / 10; st.Over10ms < want*8/10 || st.Over10ms > want*12/10+2 {
		t.Errorf("%d of %d requests over 10 ms, want about %d", st.Over10ms, st.Requests, want)
	}
	if st.Corrected.P999 < 15 || st.Corrected.P999 > st.Corrected.Max {
		t.Errorf("p99.9 %.2f ms, want at least the 15 ms hold and at most the max %.2f", st.Corrected.P999, st.Corrected.Max)
	}
	// The spectrum rises with the percentile, up to the maximum.
	if len(st.Spectrum) != len(SpectrumPercentiles) {
		t.Fatalf("spectrum of %d points, want %d", len(st.Spectrum), len(SpectrumPercentiles))
	}
	for i, q := range st.Spectrum {
		if q.Percentile != SpectrumPercentiles[i] || i > 0 && q.MS < st.Spectrum[i-1].MS {
			t.Fatalf("spectrum %v does not rise with the percentile", st.Spectrum)
		}
	}
	if last := st.Spectrum[len(st.Spectrum)-1].MS; last != st.Corrected.Max {
		t.Errorf("spectrum ends at %.3f ms, want the max %.3f", last, st.Corrected.Max)
	}
}
