package load

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/benchharness/harness/harness/scenario"
)

// Config is one constant-rate attack.
type Config struct {
	Rate        float64 // requests per second, offered
	Duration    time.Duration
	Workers     int
	MaxWorkers  int
	Connections int
	Timeout     time.Duration
	// Spin is the busy-wait policy (see SpinPolicy); nil parks between hits.
	Spin *SpinPolicy
	// ReleaseAhead is how early a hit may leave, with the hits before it,
	// when the loader does not spin (NewPacer); 0 is earlyRelease.
	ReleaseAhead time.Duration
	// RotateConnections spreads requests over every open connection
	// (Transport.Rotate) instead of reusing the most recent.
	RotateConnections bool
	// Progress, if set, is called about twice a second with the step so far.
	Progress func(Step)
	// StartAt, if set, is the instant the first hit is due: loaders that
	// share a step start together (see package agent). It must not have
	// passed when Attack is called.
	StartAt time.Time
}

// ProfileConfig is one attack as a profile's loader settings make it:
// its workers, connections and timeout, and its busy-wait policy (spin at
// rates up to spin_below_rps, never when that is zero).
func ProfileConfig(lp scenario.Loader, rate float64, d time.Duration) Config {
	cfg := Config{Rate: rate, Duration: d, Workers: lp.Workers, MaxWorkers: lp.MaxWorkers,
		Connections: lp.Connections, Timeout: lp.Timeout.D(), ReleaseAhead: lp.ReleaseAhead.D(),
		RotateConnections: lp.Rotates()}
	if lp.SpinBelow > 0 {
		cfg.Spin = DefaultSpin()
		cfg.Spin.MaxRate = lp.SpinBelow
		if lp.SpinMaxInflight > 0 {
			cfg.Spin.MaxInflight = int32(lp.SpinMaxInflight)
		}
	}
	return cfg
}

// Step is what one attack measured. Latencies are in milliseconds.
// "Vegeta" latencies start when a worker sent the request; "Corrected" ones
// start at the request's intended send time (attack start + seq/rate, as
// wrk2 does), so a loader that falls behind cannot hide queueing. Both end
// when the response's last byte reached the loader's socket (arrival.go).
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
	// Lateness is how late the pacer's timer woke (ms), before it spun to
	// the due instant: what the loader's clock would have added.
	LatenessP50 float64 `json:"pacer_lateness_p50_ms"`
	LatenessP95 float64 `json:"pacer_lateness_p95_ms"`
	// SpinS is the time the loader spent busy-waiting for precision (s).
	SpinS float64 `json:"loader_spin_s"`
	// Connections is the most connections open at once.
	Connections int `json:"connections"`
	// Dropped counts latencies above the histogram's range (2 min).
	Dropped uint64 `json:"latency_dropped,omitempty"`
	// Over10ms counts requests whose corrected latency exceeded 10 ms: the
	// tail a GC pause or a stall leaves, which percentiles can hide.
	Over10ms uint64 `json:"over_10ms"`
	// Spectrum is the corrected latency at SpectrumPercentiles: the data of
	// an HDR percentile plot.
	Spectrum []Quantile `json:"corrected_spectrum,omitempty"`
	// Began is when the first hit was due (the pacer's start).
	Began time.Time `json:"began,omitzero"`
}

// Quantile is one point of a latency distribution.
type Quantile struct {
	Percentile float64 `json:"percentile"`
	MS         float64 `json:"ms"`
}

// SpectrumPercentiles are the points of Step.Spectrum, denser toward the
// tail, as an HDR percentile plot draws them; 100 is the maximum.
var SpectrumPercentiles = []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100}

// Latency is a latency distribution summary in ms.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// A step is flagged as hiding queueing behind a late loader when corrected
// p95 exceeds vegeta's by more than coThreshold and by more than coFloor.
// The floor keeps a sub-millisecond target's light steps from being flagged
// for a few tens of µs of scheduling.
const (
	coThreshold = 0.10
	coFloor     = 2 * time.Millisecond
)

// Attack runs one constant-rate attack against mix and folds every result
// into histograms as it arrives; results are never kept.
func Attack(ctx context.Context, mix *Mix, cfg Config) (Step, error) {
	st, _, err := AttackTally(ctx, mix, cfg)
	return st, err
}

// AttackTally is Attack that also returns the step's tally, for a loader
// whose step is merged with others' (package agent).
func AttackTally(ctx context.Context, mix *Mix, cfg Config) (Step, *Tally, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return Step{}, nil, fmt.Errorf("attack needs a positive rate and duration, got %g req/s for %s", cfg.Rate, cfg.Duration)
	}
	if !cfg.StartAt.IsZero() {
		if late := time.Since(cfg.StartAt); late > 0 {
			return Step{}, nil, fmt.Errorf("attack due to start at %s, %s ago", cfg.StartAt.Format(time.RFC3339Nano), late)
		}
		if err := waitUntil(ctx, cfg.StartAt, cfg.Spin != nil && cfg.Rate <= cfg.Spin.MaxRate); err != nil {
			return Step{}, nil, err
		}
	}
	// v12's Attacker cannot be reused after an attack: one per step, over
	// the loader's own transport (see Transport). The client goes last:
	// vegeta's options that assume an *http.Transport would otherwise
	// configure one we do not use. No client timeout: it would arm a timer
	// per request; the transport's deadline does that job.
	pacer := NewPacer(cfg.Rate, cfg.Spin, cfg.ReleaseAhead)
	defer pacer.Close()
	tr := &Transport{MaxConns: cfg.Connections, Timeout: cfg.Timeout, Rotate: cfg.RotateConnections, spin: pacer.spin}
	defer tr.Close()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	atk := vegeta.NewAttacker(
		vegeta.Workers(uint64(cfg.Workers)),
		vegeta.MaxWorkers(uint64(cfg.MaxWorkers)),
		vegeta.MaxBody(0), // bodies are drained, not kept: correctness is `harness verify`'s job
		vegeta.Client(client),
	)

	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	tally := NewTally()
	lastProgress := time.Now()
	for res := range atk.Attack(mix.Targeter(), pacer, cfg.Duration, "") {
		arrived, _ := tr.Arrival(res.Seq)
		tally.add(res, pacer.Intended(res.Seq), arrived)
		if cfg.Progress != nil && time.Since(lastProgress) > 500*time.Millisecond {
			lastProgress = time.Now()
			tally.conns = max(tally.conns, tr.OpenConns())
			cfg.Progress(tally.progress(cfg.Rate, pacer.Began()))
		}
	}
	tally.conns = max(tally.conns, tr.OpenConns())

	st := tally.Step(cfg.Rate)
	st.Began = pacer.Began()
	lp50, lp95 := pacer.Lateness()
	st.LatenessP50, st.LatenessP95 = ms(lp50), ms(lp95)
	st.SpinS = pacer.spin.Spent().Seconds()
	if ctx.Err() != nil {
		return st, tally, ctx.Err()
	}
	if st.Requests == 0 {
		return st, tally, fmt.Errorf("no request was sent")
	}
	return st, tally, nil
}

// waitUntil waits for t on a timerfd (Go's own timers wake up to a
// millisecond late here), then, if the attack spins, busy-waits the last
// stretch: attacks that share an instant with other loaders begin within
// tens of microseconds of it. Loaders that share a CPU do not spin (see
// agent.Local), or they would take turns being late. The wait (at most a
// coordinator's lead) is not interrupted by ctx; the attack then is.
func waitUntil(ctx context.Context, t time.Time, spin bool) error {
	var spinFor time.Duration
	if spin {
		spinFor = 200 * time.Microsecond
	}
	if time.Until(t) > spinFor {
		tfd, err := newTimerFD()
		if err != nil {
			return fmt.Errorf("wait for the start instant: %w", err)
		}
		err = tfd.waitUntil(t.Add(-spinFor))
		tfd.close()
		if err != nil {
			return fmt.Errorf("wait for the start instant: %w", err)
		}
	}
	for spin && time.Now().Before(t) {
	}
	return ctx.Err()
}

func summarize(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{P50: us(h.ValueAtQuantile(50)), P95: us(h.ValueAtQuantile(95)), P99: us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)), Max: us(h.Max()), Mean: h.Mean() / 1000}
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
