package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
)

// fdSlack is what the loader needs open besides the held connections: the
// probe's connections, the sentinel, samplers' /proc files, logs.
const fdSlack = 600

// raiseNoFile lifts this process's soft RLIMIT_NOFILE toward its hard
// limit before any target starts, so that the targets, which inherit it,
// and the connection holder can open as many descriptors as a
// connection-scale scenario needs. restore puts it back.
func raiseNoFile(s *scenario.Scenario, logf func(string, ...any)) (restore func()) {
	if s == nil || s.Hold == nil {
		return func() {}
	}
	want := uint64(s.Hold.Steps[len(s.Hold.Steps)-1] + fdSlack)
	undo, got, err := load.RaiseNoFile(want)
	if err != nil {
		logf("raise RLIMIT_NOFILE: %v", err)
		return func() {}
	}
	if got < want {
		logf("RLIMIT_NOFILE: %d file descriptors per process (the hard limit), short of the %d the last step needs", got, want)
	}
	return func() {
		if err := undo(); err != nil {
			logf("restore RLIMIT_NOFILE: %v", err)
		}
	}
}

// hold is a connection-scale run: at each of the scenario's steps, hold
// that many keep-alive connections, each in use, then measure the probe
// stream at the fixed rate; the first step that fails ends it.
func (r *targetRun) hold(ctx context.Context) error {
	h := r.o.Scenario.Hold
	holder, err := load.NewHolder(load.HoldConfig{URL: r.inst.URL() + h.Path, Every: h.Every.D(), DialRate: h.DialRate,
		Timeout: r.o.Profile.Loader.Timeout.D(), Sources: h.Sources})
	if err != nil {
		return fmt.Errorf("connection holder: %w", err)
	}
	defer holder.Close()
	crit := peak.HoldCriteria{SLOP99: h.SLOP99.D(), LoaderGuard: r.o.Profile.Search.LoaderCPUGuard}
	limits := load.ReadKernelLimits()
	r.p.Logf("%s: holding up to %d connections; limits: RLIMIT_NOFILE %d (hard %d), ephemeral ports %d-%d x %d sources, fs.file-max %d, somaxconn %d",
		r.m.Name, h.Steps[len(h.Steps)-1], limits.NoFileSoft, limits.NoFileHard, limits.PortLow, limits.PortHigh, h.Sources, limits.FileMax, limits.Somaxconn)
	var steps []peak.HoldStep
	for _, n := range h.Steps {
		if ctx.Err() != nil {
			break
		}
		s, ran := r.holdStep(ctx, holder, n, limits)
		if ran {
			crit.Judge(&s)
		}
		steps = append(steps, s)
		r.logHold(s)
		if !s.Pass {
			break
		}
	}
	res := peak.SummariseHold(steps)
	r.t.Hold = &res
	return ctx.Err()
}

// holdStep grows the held connections to n, lets each send a request at
// that count, then runs the probe; the step's errors are those since it
// began. A step the loader's or the kernel's limits cannot reach is not
// run (ran is false), and says why.
func (r *targetRun) holdStep(ctx context.Context, holder *load.Holder, n int, limits load.KernelLimits) (s peak.HoldStep, ran bool) {
	h := r.o.Scenario.Hold
	s.Connections = n
	if why, limit := refusal(limits, n, h.Sources); why != "" {
		s.Why, s.Limit = why, limit
		return s, false
	}
	before := holder.Stats()
	r.phase = fmt.Sprintf("hold %d", n)
	growFor := time.Duration(float64(n)/h.DialRate*float64(time.Second)) + 30*time.Second
	gctx, cancel := context.WithTimeout(ctx, growFor)
	err := holder.Grow(gctx, n)
	cancel()
	if err == nil {
		// Every held connection sends at least once at this count before
		// the probe, so none is merely open.
		select {
		case <-ctx.Done():
		case <-time.After(h.Every.D()):
		}
		obs, _, perr := r.step(ctx, r.phase, r.fixedRate(), h.Measure.D())
		if perr != nil {
			err = perr
		} else {
			s.Probe = &obs
		}
	}
	after := holder.Stats()
	s.Held, s.LoaderFDs = after.Held, after.FDs
	s.ConnectErrors, s.RequestErrors = int64(after.ConnectErrors-before.ConnectErrors), int64(after.RequestErrors-before.RequestErrors)
	s.HeldRequests, s.Errors = int64(after.Requests-before.Requests), after.Errors
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
	}
	return s, true
}

// refusal says why a step of n held connections cannot run on this
// machine and whose limit that is (load.KernelLimits.Refuse), or "".
func refusal(k load.KernelLimits, n, sources int) (why, limit string) {
	why, kernel := k.Refuse(n, fdSlack, sources)
	if kernel {
		return why, peak.BoundKernel
	}
	return why, peak.BoundLoader
}

func (r *targetRun) logHold(s peak.HoldStep) {
	if s.Probe == nil {
		r.p.Logf("%s: hold %6d: not measured: %s (%s)", r.m.Name, s.Connections, s.Why, s.Limit)
		return
	}
	t := s.Probe.Target
	rss, pss := 0.0, 0.0
	if t != nil {
		rss, pss = t.RSSMeanMB, t.PSSMeanMB
	}
	verdict := "pass"
	if !s.Pass {
		verdict = "FAIL (" + s.Limit + "): " + s.Why
	}
	r.p.Logf("%s: hold %6d: held %6d, errors %d+%d, probe p50 %.2f p99 %.2f max %.2f ms, CPU %3.0f%%, RSS %.0f MB, PSS %.0f MB, loader CPU %3.0f%% fds %d: %s",
		r.m.Name, s.Connections, s.Held, s.ConnectErrors, s.RequestErrors, s.Probe.Step.Corrected.P50, s.Probe.Step.Corrected.P99,
		s.Probe.Step.Corrected.Max, 100*s.Probe.TargetCPU, rss, pss, 100*s.Probe.LoaderCPU, s.LoaderFDs, verdict)
}

// finishHold records a connection-scale run's outcome as the target's.
func (r *targetRun) finishHold() {
	res := r.t.Hold
	r.t.Status = results.StatusOK
	r.p.Logf("%s: held %d connections (%s-bound): %s; RSS %.2f KiB per connection", r.m.Name, res.MaxConnections, res.Bound, res.Note, res.RSSPerConnKB)
}
