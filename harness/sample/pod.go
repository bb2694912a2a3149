package sample

// A sampler beside its target in one pod (a sidecar with the pod's PID
// namespace shared) sees the pod's processes: the pause process as PID 1,
// its own, and the target container's. A container's processes share one
// cgroup, so the target's are those in the cgroup that is neither the
// sampler's nor PID 1's: found by what the kernel says, with no name of the
// target's command or container needed.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultNeighbourWait is how long a sidecar waits for its target to start.
const DefaultNeighbourWait = 2 * time.Minute

// Neighbour finds the one other container's processes in this process's
// PID namespace, waiting up to wait for them to appear (a sidecar may start
// before its target). The Source reads their CPU, RSS and PSS as the local
// runtime does: CPU from their cgroup when it is readable from here, else
// summed over the processes; what says which.
func Neighbour(ctx context.Context, wait time.Duration) (src Source, what string, err error) {
	deadline := time.Now().Add(wait)
	for {
		cg, pids, err := neighbourCgroup()
		if err == nil {
			return neighbourSource(cg, pids)
		}
		if time.Now().After(deadline) {
			return nil, "", err
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func neighbourSource(cg string, pids []int32) (Source, string, error) {
	procs := NewProcesses(func() ([]int32, error) { return inCgroup(cg), nil })
	what := fmt.Sprintf("processes of cgroup %s (%d now)", cg, len(pids))
	// The cgroup's own CPU counter keeps the CPU of processes that exited
	// between readings; it is readable when the node's cgroup tree is
	// visible here (no private cgroup namespace).
	if c, err := ForPID(int(pids[0])); err == nil {
		procs.CPUFrom(c.CPUSeconds)
		what += ", CPU from " + c.Dir()
	}
	return procs, what, nil
}

// neighbourCgroup is the cgroup of the processes that are neither this
// process's container nor the pod's pause process, and those processes.
func neighbourCgroup() (string, []int32, error) {
	self, err := procCgroup("self")
	if err != nil {
		return "", nil, err
	}
	pause, _ := procCgroup("1")
	found := map[string][]int32{}
	for pid, cg := range allCgroups() {
		if pid == 1 || cg == self || cg == pause {
			continue
		}
		found[cg] = append(found[cg], pid)
	}
	switch len(found) {
	case 0:
		return "", nil, fmt.Errorf("no other container's process is visible (is the pod's shareProcessNamespace set?)")
	case 1:
		for cg, pids := range found {
			return cg, pids, nil
		}
	}
	var names []string
	for cg := range found {
		names = append(names, cg)
	}
	sort.Strings(names)
	return "", nil, fmt.Errorf("processes of %d other containers are visible (%s): the sampler samples one", len(found), strings.Join(names, ", "))
}

// inCgroup lists the processes whose cgroup is cg now.
func inCgroup(cg string) []int32 {
	var out []int32
	for pid, c := range allCgroups() {
		if c == cg {
			out = append(out, pid)
		}
	}
	return out
}

// allCgroups maps every visible process to its /proc/<pid>/cgroup.
func allCgroups() map[int32]string {
	out := map[int32]string{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cg, err := procCgroup(e.Name()); err == nil {
			out[int32(pid)] = cg
		}
	}
	return out
}

func procCgroup(pid string) (string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("read the cgroup of process %s: %w", pid, err)
	}
	return strings.TrimSpace(string(b)), nil
}
