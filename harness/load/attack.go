package load

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Config is one constant-rate attack.
type Config struct {
	Rate        float64 // requests per second, offered
	Duration    time.Duration
	Workers     int
	MaxWorkers  int
	Connections int
	Timeout     time.Duration
	// Progress, if set, is called about twice a second with the step so far.
	Progress func(Step)
}

// Step is what one attack measured. Latencies are in milliseconds.
// "Vegeta" latencies start when a worker sent the request; "Corrected" ones
// start at the request's intended send time (attack start + seq/rate, as
// wrk2 does), so a loader that falls behind cannot hide queueing.
type Step struct {
	Offered    float64        `json:"offered_rps"`
	Achieved   float64        `json:"achieved_rps"`
	Throughput float64        `json:"throughput_rps"`
	Requests   uint64         `json:"requests"`
	Success    float64        `json:"success"`
	Duration   float64        `json:"duration_s"`
	Vegeta     Latency        `json:"latency_ms"`
	Corrected  Latency        `json:"corrected_latency_ms"`
	CODiverges bool           `json:"co_diverges"`
	Codes      map[string]int `json:"status_codes"`
	Errors     []string       `json:"errors,omitempty"`
}

// Latency is a latency distribution summary in ms.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// A step is flagged as hiding queueing behind a late loader when corrected
// p95 exceeds vegeta's by more than coThreshold and by more than coFloor:
// an idle loader wakes about a millisecond late (measured here: corrected
// p95 1.0 ms above vegeta's at 200 req/s against an instant server; timer
// granularity), which the relative rule alone would flag at every light
// step against a sub-millisecond server.
const (
	coThreshold = 0.10
	coFloor     = 2 * time.Millisecond
)

// Attack runs one constant-rate attack against mix and folds every result
// into metrics as it arrives; results are never kept.
func Attack(ctx context.Context, mix *Mix, cfg Config) (Step, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return Step{}, fmt.Errorf("attack needs a positive rate and duration, got %g req/s for %s", cfg.Rate, cfg.Duration)
	}
	// v12's Attacker cannot be reused after an attack: one per step. It
	// gets a transport of ours so the step's keep-alive connections can be
	// closed when it ends: otherwise every step leaves its connections open
	// and the target ends a peak search holding thousands of them, which
	// shows up in its RSS. No proxy from the environment: loopback only.
	transport := &http.Transport{
		DialContext: (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
	}
	defer transport.CloseIdleConnections()
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: transport}),
		vegeta.Workers(uint64(cfg.Workers)),
		vegeta.MaxWorkers(uint64(cfg.MaxWorkers)),
		vegeta.Connections(cfg.Connections),
		vegeta.MaxConnections(cfg.Connections),
		vegeta.KeepAlive(true),
		vegeta.Timeout(cfg.Timeout),
		vegeta.MaxBody(0), // bodies are drained, not kept: correctness is `harness verify`'s job
		vegeta.Redirects(vegeta.NoFollow),
	)
	pacer := vegeta.ConstantPacer{Freq: int(math.Round(cfg.Rate)), Per: time.Second}
	// The pacer's schedule: hit n (from 0) is due at (n+1) intervals of
	// Per/Freq whole nanoseconds after the attack began.
	interval := time.Duration(pacer.Per.Nanoseconds() / int64(pacer.Freq))

	corrected := hdrhistogram.New(1, int64(2*time.Minute/time.Microsecond), 3)
	var metrics vegeta.Metrics
	codes := map[string]int{}
	errs := map[string]int{}

	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	// vegeta's own clock starts inside Attack, a few µs after this; the
	// correction is therefore at worst a few µs pessimistic.
	began := time.Now()
	lastProgress := began
	for res := range atk.Attack(mix.Targeter(), pacer, cfg.Duration, "") {
		metrics.Add(res)
		intended := began.Add(time.Duration(res.Seq+1) * interval)
		lat := max(res.Timestamp.Add(res.Latency).Sub(intended), res.Latency)
		_ = corrected.RecordValue(max(1, lat.Microseconds()))
		codes[fmt.Sprint(res.Code)]++
		if res.Error != "" {
			errs[res.Error]++
		}
		if cfg.Progress != nil && time.Since(lastProgress) > 500*time.Millisecond {
			lastProgress = time.Now()
			elapsed := time.Since(began).Seconds()
			cfg.Progress(Step{Offered: cfg.Rate, Achieved: float64(corrected.TotalCount()) / elapsed,
				Requests: uint64(corrected.TotalCount()), Corrected: summarize(corrected)})
		}
	}
	metrics.Close()

	st := Step{
		Offered:    cfg.Rate,
		Achieved:   metrics.Rate,
		Throughput: metrics.Throughput,
		Requests:   metrics.Requests,
		Success:    metrics.Success,
		Duration:   metrics.Duration.Seconds(),
		Vegeta: Latency{P50: ms(metrics.Latencies.P50), P95: ms(metrics.Latencies.P95), P99: ms(metrics.Latencies.P99),
			Max: ms(metrics.Latencies.Max), Mean: ms(metrics.Latencies.Mean)},
		Corrected: summarize(corrected),
		Codes:     codes,
		Errors:    topErrors(errs, 5),
	}
	if diff := st.Corrected.P95 - st.Vegeta.P95; st.Vegeta.P95 > 0 {
		st.CODiverges = diff/st.Vegeta.P95 > coThreshold && diff > ms(coFloor)
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	if metrics.Requests == 0 {
		return st, fmt.Errorf("no request was sent")
	}
	return st, nil
}

func summarize(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{P50: us(h.ValueAtQuantile(50)), P95: us(h.ValueAtQuantile(95)), P99: us(h.ValueAtQuantile(99)),
		Max: us(h.Max()), Mean: h.Mean() / 1000}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func topErrors(errs map[string]int, n int) []string {
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	for m, c := range errs {
		all = append(all, kv{m, c})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].msg < all[j].msg })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%dx %s", all[i].n, all[i].msg))
	}
	return out
}
