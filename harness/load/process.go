package load

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
)

// PinProcess makes this process a loader on cpus: pinned there, off the
// target's CPUs, with one scheduler thread per CPU, and collecting its
// garbage less often (loaderGCPercent) unless GOGC says otherwise.
func PinProcess(cpus []int) error {
	if err := cpuset.PinSelf(cpus); err != nil {
		return fmt.Errorf("pin loader: %w", err)
	}
	runtime.GOMAXPROCS(len(cpus))
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(loaderGCPercent)
	}
	return nil
}

// loaderGCPercent is the loader's GOGC. It keeps a few MB live and
// allocates about 2 KB per request; at the default of 100 it collected
// every 50-70 ms at 20-30K req/s, each cycle holding a one-CPU loader's
// requests for about a millisecond. At 800 (a heap of tens of MB) its added
// p95 against the reference server at 25-30K req/s fell from 0.24-2.2 ms to
// 0.07-0.25 ms (two runs each of 3 s steps, the api mix).
const loaderGCPercent = 800

// ProcessCPU is the CPU time this process has used (user and system): a
// loader's own cost around a step, read by getrusage.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
