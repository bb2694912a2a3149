package sample

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// PSS reads a process's proportional set size from /proc/<pid>/smaps_rollup
// (Linux 4.14 and later): its resident pages with each shared page divided
// among the processes that map it. Summed over forked workers, it counts
// their shared pages once, where an RSS sum counts them once per worker.
// It fails on a kernel without smaps_rollup and for a process this one may
// not inspect (another user's, without root).
func PSS(pid int32) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, fmt.Errorf("read PSS of pid %d: %w", pid, err)
	}
	kb, err := rollupField(b, "Pss:")
	if err != nil {
		return 0, fmt.Errorf("read PSS of pid %d: %w", pid, err)
	}
	return kb << 10, nil
}

// rollupField is the value, in kB, of the smaps_rollup line that starts
// with name ("Pss:       1234 kB").
func rollupField(b []byte, name string) (uint64, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseUint(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("smaps_rollup has no %s line", name)
}
