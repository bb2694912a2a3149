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
// garbage between steps rather than during them (see Collect) unless GOGC
// or GOMEMLIMIT says otherwise.
func PinProcess(cpus []int) error {
	if err := cpuset.PinSelf(cpus); err != nil {
		return fmt.Errorf("pin loader: %w", err)
	}
	runtime.GOMAXPROCS(len(cpus))
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(loaderMemoryLimit())
	}
	return nil
}

// The loader allocates about 2 KB per request (vegeta's request, its
// header copies and result), and a collection on a one-CPU loader holds
// its requests for a millisecond or more: at GOGC 100 it collected every
// 50-70 ms at 20-30K req/s; at 800, every 0.3-0.6 s, and its p99 against
// the reference server at 20K req/s was still 2.7 ms. With no collection
// during the step it was 0.27 ms, and 30K req/s held p95 0.12 ms instead of
// 0.57 (loadprobe, 5 s steps). So the loader does not collect by heap
// growth at all: Collect runs before each step, and the memory limit
// (a quarter of the machine's memory, at most 1 GiB) collects only a step
// that allocates more than that, about 15 s at 30K req/s.
const maxLoaderMemory = 1 << 30

func loaderMemoryLimit() int64 {
	limit := int64(maxLoaderMemory)
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil && si.Totalram > 0 {
		limit = min(limit, int64(si.Totalram)*int64(si.Unit)/4)
	}
	return limit
}

// Collect collects the garbage of the steps before, and finishes sweeping,
// so that the next step starts with an empty heap and no collection
// pending. Call it before a step's first hit, never during one (the
// sentinel's attack runs beside the step's: it must not collect).
func Collect() { runtime.GC() }

// ProcessCPU is the CPU time this process has used (user and system): a
// loader's own cost around a step, read by getrusage.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
