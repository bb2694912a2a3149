package crosscheck

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/scenario"
)

// Two open-model loaders offering the same rate need not deliver the same
// arrivals. oha's pacer rides tokio's millisecond timer: at 4,000 req/s it
// sends bursts of about five requests every 1.2 ms (measured against the
// reference server, gaps p50 30 µs, p90 1.2 ms), where the harness's sends
// one every 250 µs. A target on a fraction of a CPU pays a wake-up per
// burst, so its CPU per request, and with it its peak, depends on the
// shape: measured here, chi on 1/3 of a CPU at 4,000 req/s used 105-133
// CPU ticks in 4 s of evenly paced requests and 53-74 of bunched ones
// (oha's or the harness's with a 1 ms release-ahead). So the cross-check
// measures each loader's arrivals before the targets, and runs the
// harness a second time with oha's bunching and, as oha does, requests
// rotated over every open connection (ohaShaped): that run and oha's offer
// the target the same load, and their peaks compare the loaders.

// OhaTick is the bunching of oha's pacer: its timer's resolution.
const OhaTick = time.Millisecond

// ohaShaped is the profile for the harness's run with oha's load: every
// hit due within a tick leaves with the ones before it, no spinning (which
// would release hits one by one at light rates), and requests spread over
// every open connection, as oha rotates through its.
func ohaShaped(p *scenario.Profile) *scenario.Profile {
	q := *p
	q.Loader.SpinBelow = 0
	q.Loader.ReleaseAhead = scenario.Duration(OhaTick)
	q.Loader.ConnectionReuse = scenario.ReuseRotate
	return &q
}

// The loaders whose arrivals are measured, by name in the report.
const (
	LoaderHarness       = "harness"
	LoaderHarnessShaped = "harness, oha's arrivals"
	LoaderOha           = "oha"
)

// ArrivalRow is how one loader's requests reached the reference server at
// one rate.
type ArrivalRow struct {
	Loader   string             `json:"loader"`
	Rate     float64            `json:"rate_rps"`
	Achieved float64            `json:"achieved_rps"`
	Arrivals calibrate.Arrivals `json:"arrivals"`
	Err      string             `json:"error,omitempty"`
}

// arrivalStep is how long each loader sends at each rate, and over how
// many connections: enough for thousands of gaps, few connections since the
// reference server answers at once.
const (
	arrivalStep  = 3 * time.Second
	arrivalConns = 16
)

// probeArrivals runs each loader at the fixed rate and at ten times it
// against a reference server on the target's CPUs, reading what arrived
// after each. A loader that fails is recorded and the probe goes on.
func probeArrivals(ctx context.Context, o Options, oha Oha, plan cpuset.Plan) ([]ArrivalRow, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("arrival probe: find the harness binary: %w", err)
	}
	srv, err := calibrate.StartProcess(ctx, exe, calibrate.ServerConfig{Addr: "127.0.0.1:0"}, plan.TargetCPUs)
	if err != nil {
		return nil, fmt.Errorf("arrival probe: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	url := srv.URL()
	senders := []sender{
		{LoaderHarness, harnessSender(ctx, o.Profile, o.Scenario, url, arrivalStep)},
		{LoaderHarnessShaped, harnessSender(ctx, ohaShaped(o.Profile), o.Scenario, url, arrivalStep)},
		{LoaderOha, func(rate float64) (float64, error) {
			run, err := oha.Run(ctx, OhaStep{URL: url + o.Scenario.Requests[0].Path, Rate: rate, Duration: arrivalStep,
				Connections: arrivalConns, Timeout: o.Profile.Loader.Timeout.D(), CPUs: plan.LoaderCPUs})
			return run.Step.Achieved, err
		}},
	}
	fixed := o.Profile.FixedRatePerVCPU * plan.Budget
	return measureArrivals(ctx, url, []float64{fixed, 10 * fixed}, senders, o.Progress.Logf)
}

// sender sends at a rate for the probe's step and returns what it achieved.
type sender struct {
	name string
	send func(rate float64) (achieved float64, err error)
}

// measureArrivals runs every sender at every rate against the reference
// server at url, each in a window of its own.
func measureArrivals(ctx context.Context, url string, rates []float64, senders []sender, logf func(string, ...any)) ([]ArrivalRow, error) {
	var rows []ArrivalRow
	for _, rate := range rates {
		for _, s := range senders {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			row := ArrivalRow{Loader: s.name, Rate: rate}
			// Read once to start the window: what came before is not this loader's.
			if _, err := calibrate.ReadArrivals(ctx, url); err != nil {
				return rows, fmt.Errorf("arrival probe: %w", err)
			}
			achieved, err := s.send(rate)
			row.Achieved = achieved
			if err != nil {
				row.Err = err.Error()
			}
			if row.Arrivals, err = calibrate.ReadArrivals(ctx, url); err != nil {
				return rows, fmt.Errorf("arrival probe: %w", err)
			}
			logf("arrivals: %-24s %6.0f req/s: %s%s", s.name, rate, row.Arrivals, errSuffix(row.Err))
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// harnessSender is the harness's loader as profile p sets it, in this
// process (pinned to the loader's CPUs), sending scenario s to url.
func harnessSender(ctx context.Context, p *scenario.Profile, s *scenario.Scenario, url string, d time.Duration) func(rate float64) (float64, error) {
	mix := load.NewMix(url, s)
	lp := p.Loader
	lp.Connections = arrivalConns
	return func(rate float64) (float64, error) {
		load.Collect()
		st, err := load.Attack(ctx, mix, load.ProfileConfig(lp, rate, d))
		return st.Achieved, err
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (error: " + e + ")"
}

// ArrivalsMarkdown is the probe's table.
func ArrivalsMarkdown(rows []ArrivalRow) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| loader | offered req/s | achieved req/s | gap p10 / p50 / p90 µs | arriving within %s of the one before | requests per burst |\n", calibrate.BunchGap)
	b.WriteString("|---|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		if r.Err != "" {
			fmt.Fprintf(&b, "| %s | %.0f | – | failed: %s | – | – |\n", r.Loader, r.Rate, r.Err)
			continue
		}
		a := r.Arrivals
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f / %.0f / %.0f | %.0f %% | %.1f |\n", r.Loader, r.Rate, r.Achieved,
			a.GapP10US, a.GapP50US, a.GapP90US, 100*a.Bunched, a.MeanBurst)
	}
	return b.String()
}
