package sample

import (
	"context"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// PIDLister lists the processes that make up a target at this moment.
type PIDLister func() ([]int32, error)

// Tree lists root and all its descendants. Used when the target has no
// cgroup of its own to list its members.
func Tree(root int32) PIDLister {
	return func() ([]int32, error) {
		out := []int32{root}
		for i := 0; i < len(out); i++ {
			p, err := process.NewProcess(out[i])
			if err != nil {
				continue // exited since it was listed
			}
			kids, _ := p.Children()
			for _, k := range kids {
				out = append(out, k.Pid)
			}
		}
		return out, nil
	}
}

// Processes reads CPU and RSS of a set of processes with gopsutil, summed.
// It keeps one *Process per PID because Percent(0) measures since that
// object's previous call; a fresh object would give a lifetime average.
type Processes struct {
	list  PIDLister
	procs map[int32]*process.Process
}

// NewProcesses samples whatever list returns at each read.
func NewProcesses(list PIDLister) *Processes {
	return &Processes{list: list, procs: map[int32]*process.Process{}}
}

// Read implements Source.
func (p *Processes) Read(ctx context.Context) (Reading, error) {
	pids, err := p.list()
	if err != nil {
		return Reading{}, err
	}
	r := Reading{At: time.Now()}
	seen := make(map[int32]bool, len(pids))
	for _, pid := range pids {
		seen[pid] = true
		proc, ok := p.procs[pid]
		if !ok {
			if proc, err = process.NewProcessWithContext(ctx, pid); err != nil {
				continue
			}
			p.procs[pid] = proc
		}
		if pct, err := proc.PercentWithContext(ctx, 0); err == nil {
			r.CPUPct += pct
		}
		if mem, err := proc.MemoryInfoWithContext(ctx); err == nil {
			r.RSSBytes += mem.RSS
		}
	}
	for pid := range p.procs {
		if !seen[pid] {
			delete(p.procs, pid)
		}
	}
	return r, nil
}
