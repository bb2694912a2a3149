package sample

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// PIDLister lists the processes that make up a target at this moment.
type PIDLister func() ([]int32, error)

// Tree lists root and all its descendants, for a target with no cgroup of
// its own. It reads the kernel's per-thread children lists, which costs a
// few small reads; gopsutil's Children() scans every process on the machine
// and is the fallback where those lists are missing.
func Tree(root int32) PIDLister {
	return func() ([]int32, error) {
		out := []int32{root}
		for i := 0; i < len(out); i++ {
			kids, err := children(out[i])
			if err != nil {
				continue // exited since it was listed
			}
			out = append(out, kids...)
		}
		return out, nil
	}
}

func children(pid int32) ([]int32, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var out []int32
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if os.IsNotExist(err) {
			return gopsutilChildren(pid)
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, int32(n))
			}
		}
	}
	return out, nil
}

func gopsutilChildren(pid int32) ([]int32, error) {
	p, err := process.NewProcess(pid)
	if err != nil {
		return nil, err
	}
	kids, _ := p.Children()
	out := make([]int32, 0, len(kids))
	for _, k := range kids {
		out = append(out, k.Pid)
	}
	return out, nil
}

// Processes reads CPU, RSS and PSS of a set of processes, summed: CPU and
// RSS with gopsutil, PSS from smaps_rollup at most every PSSEvery.
// It keeps one *Process and the last CPU time per PID, so each reading is
// the CPU used since the previous one, never a lifetime average.
type Processes struct {
	list    PIDLister
	procs   map[int32]*proc
	last    time.Time
	noPSS   bool
	lastPSS time.Time

	// cpu, when set, is a cumulative CPU counter for the whole set (a
	// cgroup's); it replaces the per-process sum, which loses a process
	// that starts and exits between two readings.
	cpu     func() (float64, error)
	lastCPU float64
}

// CPUFrom makes p read CPU time from counter (cumulative seconds over the
// whole set, e.g. a cgroup's) instead of summing its processes'.
func (p *Processes) CPUFrom(counter func() (float64, error)) *Processes {
	p.cpu = counter
	return p
}

// PSSEvery is how often a process's PSS is read. Reading smaps_rollup walks
// the process's page tables under its memory-map lock: about 4 ms for
// 200 MB here, charged to the sampler (the loader's process) and able to
// stall the target's own mmap calls meanwhile, so it is read at a fifth
// of the usual sampling rate, enough for a mean over a fixed run of 10 s
// or more.
const PSSEvery = time.Second

type proc struct {
	p       *process.Process
	cpuTime float64
}

// NewProcesses samples whatever list returns at each read.
func NewProcesses(list PIDLister) *Processes {
	return &Processes{list: list, procs: map[int32]*proc{}}
}

// WithoutPSS stops p reading PSS, for a process whose PSS nobody reports
// (the loader's own), which then pays nothing for it.
func (p *Processes) WithoutPSS() *Processes {
	p.noPSS = true
	return p
}

// Read implements Source.
func (p *Processes) Read(ctx context.Context) (Reading, error) {
	pids, err := p.list()
	if err != nil {
		return Reading{}, err
	}
	r := Reading{At: time.Now()}
	if p.cpu != nil {
		total, err := p.cpu()
		if err != nil {
			return Reading{}, fmt.Errorf("read CPU counter: %w", err)
		}
		if !p.last.IsZero() {
			r.CPUSeconds = max(0, total-p.lastCPU)
		}
		p.lastCPU = total
	}
	if !p.last.IsZero() {
		r.Interval = r.At.Sub(p.last)
	}
	p.last = r.At
	readPSS := !p.noPSS && r.At.Sub(p.lastPSS) >= PSSEvery
	if readPSS {
		p.lastPSS = r.At
	}
	seen := make(map[int32]bool, len(pids))
	pssComplete := readPSS
	for _, pid := range pids {
		seen[pid] = true
		pr, known := p.procs[pid]
		if !known {
			gp, err := process.NewProcessWithContext(ctx, pid)
			if err != nil {
				continue
			}
			pr = &proc{p: gp}
			p.procs[pid] = pr
		}
		if t, err := pr.p.TimesWithContext(ctx); err == nil {
			now := t.User + t.System
			// A PID seen for the first time only sets its baseline.
			if known && p.cpu == nil {
				r.CPUSeconds += max(0, now-pr.cpuTime)
			}
			pr.cpuTime = now
		}
		if mem, err := pr.p.MemoryInfoWithContext(ctx); err == nil {
			r.RSSBytes += mem.RSS
			if readPSS {
				pss, err := PSS(pid)
				r.PSSBytes += pss
				pssComplete = pssComplete && err == nil
			}
		}
	}
	if !pssComplete {
		r.PSSBytes = 0
	}
	for pid := range p.procs {
		if !seen[pid] {
			delete(p.procs, pid)
		}
	}
	return r, nil
}
