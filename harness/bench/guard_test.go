package bench

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
)

// stallLoader holds the loader's only scheduler thread in a raw sleep, one
// the Go runtime cannot take the thread back from, for period at a time,
// and lets it go for as long between stalls: the loader stops sending and
// reading half the time without using any CPU, as a loader does that
// queues requests inside itself. The sleep is a ppoll with the runtime's
// preemption signal (SIGURG) blocked, so that sysmon, which preempts a
// goroutine after 10 ms, cannot cut it short. The hits due in a stall leave
// at its end. It stalls for span at most (a stall at a step's end would
// leave its hits unsent, and the pace unkept), and returns a stop function.
func stallLoader(period, span time.Duration) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	end := time.Now().Add(span)
	go func() {
		defer close(stopped)
		for time.Now().Before(end) {
			select {
			case <-done:
				return
			default:
			}
			var urg unix.Sigset_t
			urg.Val[0] = 1 << (uint(unix.SIGURG) - 1)
			until := time.Now().Add(period)
			for d := time.Until(until); d > 0; d = time.Until(until) {
				ts := unix.NsecToTimespec(int64(d))
				unix.RawSyscall6(unix.SYS_PPOLL, 0, 0, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&urg)), 8, 0)
			}
			time.Sleep(period)
		}
	}()
	return func() { close(done); <-stopped }
}

// The guard reads more than CPU: a loader that stalls without burning CPU
// makes a step fail that a real loader would have passed, and the sentinel
// says so. Judged on CPU alone (no sentinel figure), the same step would be
// blamed on the target.
func TestGuardBlamesAStalledLoader(t *testing.T) {
	url, srv := startHelperServer(t)
	tsamp := sample.Start(context.Background(), sample.NewProcesses(sample.Tree(int32(srv.Pid))), 100*time.Millisecond)
	t.Cleanup(tsamp.Stop)
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })

	obs, err := StartObserver(context.Background(), load.NewMix(url, jsonOnly), testLoader, tsamp, 1, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Close)
	crit := searchConfig(500).Criteria
	crit.LoaderLatencyGuard = 0.1

	// First, unstalled: the step passes and the loader adds little.
	o, _, err := obs.Observe(context.Background(), 500, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v := peak.Judge(o, crit); !v.Pass || o.LoaderAdded == nil || o.LoaderAdded.P95 > 5 {
		t.Fatalf("healthy loader: verdict %+v, sentinel %+v", v, o.LoaderAdded)
	}

	// Stalls of 100 ms, half the time, over the first half of a 2 s step:
	// a quarter of the hits leave up to 100 ms late, so p95 is about 80 ms,
	// over the SLO, while every hit is still sent within the step.
	stop := stallLoader(100*time.Millisecond, time.Second)
	o, _, err = obs.Observe(context.Background(), 500, 2*time.Second)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stalled: p95 %.1f ms, sentinel p95 %.1f ms, loader CPU %.0f%%, target CPU %.0f%%",
		o.Step.Corrected.P95, o.LoaderAdded.P95, 100*o.LoaderCPU, 100*o.TargetCPU)
	v := peak.Judge(o, crit)
	if v.Pass || !v.LoaderBound || !strings.Contains(v.Reason, "sentinel") {
		t.Fatalf("stalled loader: verdict %+v, want a failure blamed on the loader by its sentinel", v)
	}
	if o.LoaderCPU >= crit.LoaderGuard {
		t.Fatalf("loader CPU %.0f%%: the stall was meant to use none", 100*o.LoaderCPU)
	}
	o.LoaderAdded = nil
	if v := peak.Judge(o, crit); v.LoaderBound {
		t.Fatalf("without the sentinel the step is still blamed on the loader (%s): the test no longer shows what the sentinel adds", v.Reason)
	}
}
