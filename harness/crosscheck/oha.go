// Package crosscheck measures targets with oha, a load generator that shares
// no code with the harness's loader, and compares its figures with the
// harness's own: the check that the harness measures what it says it does.
package crosscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/logline"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/scenario"
)

// FindOha returns the oha binary to run: explicit when given, else oha on
// PATH, else the one `make crosscheck` installs into the harness's cache.
func FindOha(explicit string) (string, error) {
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return "", fmt.Errorf("oha binary %s: %w", explicit, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("oha"); err == nil {
		return p, nil
	}
	tools := ToolsOha()
	if _, err := os.Stat(tools); err == nil {
		return tools, nil
	}
	return "", fmt.Errorf("oha is not on PATH nor at %s; install it with: cargo install oha --version 1.16.0 --locked --no-default-features --features native-tls --root %s",
		tools, filepath.Dir(filepath.Dir(tools)))
}

// ToolsOha is where `make crosscheck` installs oha: beside the targets'
// builds, so a clean clone reuses it.
func ToolsOha() string { return filepath.Join(runtimes.CacheDir(), "tools", "bin", "oha") }

// OhaStep is one fixed-rate oha run.
type OhaStep struct {
	URL         string
	Rate        float64 // requests per second, offered
	Duration    time.Duration
	Connections int
	// Timeout bounds each request, as the harness's loader timeout does.
	Timeout time.Duration
	// CPUs is oha's CPU affinity (taskset); empty runs it where this
	// process may run.
	CPUs []int
}

// OhaRun is what one oha run measured.
type OhaRun struct {
	Step load.Step `json:"load"`
	// CPUSeconds is oha's user+system time, from its rusage.
	CPUSeconds float64 `json:"cpu_s"`
	Wall       float64 `json:"wall_s"`
	// LoaderCPU is CPUSeconds over wall time and over oha's CPUs: 1 means
	// oha used all the CPU it was pinned to.
	LoaderCPU float64  `json:"loader_cpu"`
	Args      []string `json:"args"`
}

// Oha runs the oha binary at Path.
type Oha struct{ Path string }

// Version is `oha --version`'s answer, for the record.
func (o Oha) Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, o.Path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", o.Path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Args are oha's flags for a step:
//   - -q with --latency-correction: requests are scheduled at i/rate from the
//     start whatever the responses do (an open model), and each latency runs
//     from the moment the request was scheduled, so time spent waiting for a
//     free connection counts, as wrk2 and the harness count it;
//   - --wait-ongoing-requests-after-deadline: requests in flight at the end
//     are waited for, as vegeta waits for them, instead of being aborted;
//   - --redirect 0: the harness's loader does not follow redirects either.
func (s OhaStep) Args() []string {
	args := []string{
		"-q", strconv.FormatFloat(s.Rate, 'f', -1, 64),
		"--latency-correction",
		"-z", s.Duration.String(),
		"-c", strconv.Itoa(s.Connections),
		"--wait-ongoing-requests-after-deadline",
		"--redirect", "0",
		"--no-tui",
		"--output-format", "json",
	}
	if s.Timeout > 0 {
		args = append(args, "-t", s.Timeout.String())
	}
	return append(args, s.URL)
}

// Run runs one step and parses oha's report. A cancelled ctx interrupts oha
// (SIGINT, on which it still reports what it measured).
func (o Oha) Run(ctx context.Context, s OhaStep) (OhaRun, error) {
	if s.Rate <= 0 || s.Duration <= 0 || s.Connections <= 0 {
		return OhaRun{}, fmt.Errorf("oha step needs a positive rate, duration and connections, got %g req/s for %s on %d", s.Rate, s.Duration, s.Connections)
	}
	argv := append([]string{o.Path}, s.Args()...)
	capacity := float64(runtime.NumCPU())
	if len(s.CPUs) > 0 {
		// taskset execs oha in its place: the rusage below is oha's own.
		argv = append([]string{"taskset", "-c", cpuset.List(s.CPUs)}, argv...)
		capacity = float64(len(s.CPUs))
	}
	run := OhaRun{Args: argv}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Own process group: Ctrl-C on the terminal reaches the harness, which
	// interrupts oha itself; Pdeathsig covers a harness killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	began := time.Now()
	err := cmd.Run()
	run.Wall = time.Since(began).Seconds()
	if ps := cmd.ProcessState; ps != nil {
		run.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
		if run.Wall > 0 {
			run.LoaderCPU = run.CPUSeconds / run.Wall / capacity
		}
	}
	if err != nil && stdout.Len() == 0 {
		return run, fmt.Errorf("run oha at %.0f req/s: %w: %s", s.Rate, err, lastLines(stderr.String(), 3))
	}
	step, perr := ParseOha(stdout.Bytes(), s.Rate)
	run.Step = step
	if perr != nil {
		return run, fmt.Errorf("oha at %.0f req/s: %w", s.Rate, perr)
	}
	if ctx.Err() != nil {
		return run, ctx.Err()
	}
	if err != nil {
		return run, fmt.Errorf("run oha at %.0f req/s: %w: %s", s.Rate, err, lastLines(stderr.String(), 3))
	}
	return run, nil
}

// Sender runs calibration steps with oha (calibrate.Config.Sender): the
// scenario's one request, over connections connections, pinned to cpus,
// each timed out as the loader's requests are. The CPU is oha's own.
func (o Oha) Sender(s *scenario.Scenario, connections int, cpus []int) (calibrate.Sender, error) {
	if err := checkScenario(s); err != nil {
		return nil, err
	}
	path := s.Requests[0].Path
	return func(ctx context.Context, url string, lp scenario.Loader, rate float64, d time.Duration) (load.Step, time.Duration, error) {
		run, err := o.Run(ctx, OhaStep{URL: strings.TrimRight(url, "/") + path, Rate: rate, Duration: d,
			Connections: connections, Timeout: lp.Timeout.D(), CPUs: cpus})
		return run.Step, time.Duration(run.CPUSeconds * float64(time.Second)), err
	}, nil
}

// ohaReport is the part of `oha --output-format json` read here. Times are
// in seconds; oha writes NaN (no successful request) as null, hence the
// pointers.
type ohaReport struct {
	Summary struct {
		Total   float64  `json:"total"`
		Slowest *float64 `json:"slowest"`
		Average *float64 `json:"average"`
	} `json:"summary"`
	LatencyPercentiles     map[string]*float64 `json:"latencyPercentiles"`
	StatusCodeDistribution map[string]int      `json:"statusCodeDistribution"`
	ErrorDistribution      map[string]int      `json:"errorDistribution"`
}

// ohaDeadline is oha's error for a request cut off by -z. oha leaves these
// out of its success rate; with --wait-ongoing-requests-after-deadline there
// should be none.
const ohaDeadline = "aborted due to deadline"

// ParseOha turns oha's JSON report into the harness's Step. oha's own
// requestsPerSec counts every outcome, errors and deadline aborts included,
// so Achieved is recomputed as responses received per second, and Success
// as the 2xx/3xx share of every request that had an outcome (oha's
// successRate counts any HTTP response as a success). Its latencies, with
// --latency-correction, run from each request's scheduled time: they are
// the harness's Corrected figures. oha has no uncorrected figure in the
// same run, so Vegeta stays zero.
func ParseOha(b []byte, offered float64) (load.Step, error) {
	var r ohaReport
	if err := json.Unmarshal(b, &r); err != nil {
		return load.Step{}, fmt.Errorf("parse oha's JSON report: %w", err)
	}
	st := load.Step{Offered: offered, Duration: r.Summary.Total, Codes: map[string]int{}}
	var responses, ok, failed int
	for code, n := range r.StatusCodeDistribution {
		st.Codes[code] = n
		responses += n
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 400 {
			ok += n
		}
	}
	errs := map[string]int{}
	for msg, n := range r.ErrorDistribution {
		errs[msg] = n
		if msg != ohaDeadline {
			failed += n
		}
	}
	if failed > 0 {
		st.Codes["0"] = failed // vegeta's code for a request that got no response
	}
	st.Errors = topErrors(errs, 5)
	st.Requests = uint64(responses + failed)
	if st.Requests > 0 {
		st.Success = float64(ok) / float64(st.Requests)
	}
	if st.Duration > 0 {
		st.Achieved = float64(responses) / st.Duration
		st.Throughput = float64(ok) / st.Duration
	}
	ms := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p * 1000
	}
	pc := r.LatencyPercentiles
	st.Corrected = load.Latency{P50: ms(pc["p50"]), P95: ms(pc["p95"]), P99: ms(pc["p99"]),
		Max: ms(r.Summary.Slowest), Mean: ms(r.Summary.Average)}
	if st.Requests == 0 {
		return st, errors.New("oha completed no request")
	}
	return st, nil
}

func topErrors(errs map[string]int, n int) []string {
	msgs := make([]string, 0, len(errs))
	for m := range errs {
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool {
		a, b := msgs[i], msgs[j]
		return errs[a] > errs[b] || errs[a] == errs[b] && a < b
	})
	var out []string
	for _, m := range msgs[:min(n, len(msgs))] {
		out = append(out, fmt.Sprintf("%dx %s", errs[m], m))
	}
	return out
}

func lastLines(s string, n int) string { return strings.Join(logline.Tail(s, n), " | ") }
