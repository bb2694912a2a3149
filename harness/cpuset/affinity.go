package cpuset

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// startCPUs is the affinity the process started with: the CPUs it was
// given to share between target and loader, before PinSelf narrowed them.
var startCPUs, startErr = Online()

// Given returns the CPUs the process was started with.
func Given() ([]int, error) { return startCPUs, startErr }

// Online returns the CPUs this process may use now.
func Online() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read CPU affinity: %w", err)
	}
	var out []int
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// PinSelf moves every thread of this process onto cpus. Affinity is per
// thread, and threads the Go runtime starts later inherit it from the thread
// that creates them, so setting it on all current threads pins the process.
func PinSelf(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may exit between listing and setting: not an error.
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d to CPUs %s: %w", tid, List(cpus), err)
		}
	}
	return nil
}
