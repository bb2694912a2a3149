package sample

// A Source over a cgroup (a container, or a local target's group): CPU time
// from the cgroup's own accounting (every process it ever held, exited ones
// too) and resident memory (RSS, and PSS every PSSEvery) summed over the
// processes it holds now, the way Processes sums a process tree, so the two
// sources fill the same columns with the same meaning.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cgroup is a Source over one cgroup (v1 or v2).
type Cgroup struct {
	// cpuFile holds cumulative CPU time: cpuacct.usage (ns, v1) or
	// cpu.stat's usage_usec (v2).
	cpuFile string
	v2      bool
	// procsFile lists the cgroup's processes.
	procsFile string
	pageSize  uint64

	lastCPU float64
	lastAt  time.Time
	lastPSS time.Time
}

// ForPID finds the cgroup that pid belongs to, e.g. a container's init
// process (State.Pid in `docker inspect`).
func ForPID(pid int) (*Cgroup, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	paths := parseProcCgroup(string(b))
	// v2 when the machine mounts the unified hierarchy at the usual place and
	// has no v1 cpuacct controller; a hybrid machine (v1 controllers plus an
	// empty unified tree) accounts CPU in v1.
	if dir, ok := mounts["cpuacct"]; ok {
		if p, ok := paths["cpuacct"]; ok {
			cg := filepath.Join(dir, p)
			procs := filepath.Join(cg, "cgroup.procs")
			return newCgroup(filepath.Join(cg, "cpuacct.usage"), procs, false)
		}
	}
	if dir, ok := mounts[""]; ok {
		if p, ok := paths[""]; ok {
			cg := filepath.Join(dir, p)
			return newCgroup(filepath.Join(cg, "cpu.stat"), filepath.Join(cg, "cgroup.procs"), true)
		}
	}
	return nil, fmt.Errorf("no readable cpuacct (v1) or unified (v2) cgroup for pid %d", pid)
}

// ForDir samples the cgroup at dir (a v1 cpuacct directory or a v2 one).
func ForDir(dir string) (*Cgroup, error) {
	if _, err := os.Stat(filepath.Join(dir, "cpuacct.usage")); err == nil {
		return newCgroup(filepath.Join(dir, "cpuacct.usage"), filepath.Join(dir, "cgroup.procs"), false)
	}
	return newCgroup(filepath.Join(dir, "cpu.stat"), filepath.Join(dir, "cgroup.procs"), true)
}

func newCgroup(cpuFile, procsFile string, v2 bool) (*Cgroup, error) {
	c := &Cgroup{cpuFile: cpuFile, procsFile: procsFile, v2: v2, pageSize: uint64(os.Getpagesize())}
	if _, err := c.CPUSeconds(); err != nil {
		return nil, err
	}
	if _, err := os.ReadFile(procsFile); err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	return c, nil
}

// Dir is the cgroup directory sampled, for the record.
func (c *Cgroup) Dir() string { return filepath.Dir(c.cpuFile) }

// Read implements Source. The first reading only sets the CPU
// baseline (Interval 0), as Processes does.
func (c *Cgroup) Read(ctx context.Context) (Reading, error) {
	if err := ctx.Err(); err != nil {
		return Reading{}, err
	}
	cpu, err := c.CPUSeconds()
	if err != nil {
		return Reading{}, err
	}
	r := Reading{At: time.Now()}
	if !c.lastAt.IsZero() {
		r.Interval = r.At.Sub(c.lastAt)
		r.CPUSeconds = max(0, cpu-c.lastCPU)
	}
	c.lastAt, c.lastCPU = r.At, cpu
	readPSS := r.At.Sub(c.lastPSS) >= PSSEvery
	if readPSS {
		c.lastPSS = r.At
	}
	r.RSSBytes, r.PSSBytes, err = c.memory(readPSS)
	return r, err
}

// CPUSeconds is the cgroup's cumulative CPU time.
func (c *Cgroup) CPUSeconds() (float64, error) {
	b, err := os.ReadFile(c.cpuFile)
	if err != nil {
		return 0, fmt.Errorf("read cgroup CPU time: %w", err)
	}
	if !c.v2 {
		ns, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", c.cpuFile, err)
		}
		return float64(ns) / 1e9, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %w", c.cpuFile, err)
			}
			return float64(us) / 1e6, nil
		}
	}
	return 0, fmt.Errorf("%s has no usage_usec", c.cpuFile)
}

// memory sums the resident set of every process in the cgroup, read from
// /proc/<pid>/statm as ps and gopsutil do: pages shared between forked
// workers count once per process, like the local runtime's figure. With
// readPSS it also sums their PSS (PSS), which counts those pages
// once; that sum is 0 when any process's PSS could not be read (processes
// of another user, without root).
func (c *Cgroup) memory(readPSS bool) (rss, pss uint64, err error) {
	b, err := os.ReadFile(c.procsFile)
	if err != nil {
		return 0, 0, fmt.Errorf("list cgroup processes: %w", err)
	}
	pssComplete := readPSS
	for _, f := range strings.Fields(string(b)) {
		statm, err := os.ReadFile("/proc/" + f + "/statm")
		if err != nil {
			continue // exited since it was listed
		}
		fields := strings.Fields(string(statm))
		if len(fields) < 2 {
			continue
		}
		pages, _ := strconv.ParseUint(fields[1], 10, 64)
		rss += pages * c.pageSize
		if readPSS {
			pid, _ := strconv.ParseInt(f, 10, 32)
			v, err := PSS(int32(pid))
			pss += v
			pssComplete = pssComplete && err == nil
		}
	}
	if !pssComplete {
		pss = 0
	}
	return rss, pss, nil
}

// parseProcCgroup maps controller -> path from /proc/<pid>/cgroup; the v2
// line ("0::/path") is under "".
func parseProcCgroup(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// cgroupMounts maps controller -> mount point from /proc/self/mountinfo; the
// unified (v2) mount is under "". Reading the mounts, instead of assuming
// /sys/fs/cgroup/<controller>, copes with co-mounted "cpu,cpuacct".
func cgroupMounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		// A bind mount of a sub-cgroup (root != "/") would shift every path.
		if pf[3] != "/" {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			if _, seen := out[""]; !seen {
				out[""] = pf[4]
			}
		case "cgroup":
			for _, o := range strings.Split(qf[2], ",") {
				if _, seen := out[o]; !seen {
					out[o] = pf[4]
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup filesystem is mounted")
	}
	return out, sc.Err()
}
