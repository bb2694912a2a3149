package cpuset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const root = "/sys/fs/cgroup"

// Limits is what a target's cgroup enforces.
type Limits struct {
	CPUs []int
	// Quota in CPUs (0.333 = a third of one); 0 leaves CPU time unlimited.
	Quota  float64
	Period time.Duration
	// MemoryBytes caps memory; 0 leaves it unlimited.
	MemoryBytes int64
}

// Group is a cgroup the harness made for one target. cgroup v1 and v2 lay
// the same controls out differently, hence two implementations.
type Group interface {
	// JoinFiles are the files a process writes its PID into to join the group.
	JoinFiles() []string
	// PIDs lists every process in the group: the target's whole tree,
	// daemonised or re-parented children included.
	PIDs() ([]int32, error)
	// Remove kills what is left in the group and deletes it.
	Remove() error
	// Version is "v1" or "v2".
	Version() string
	// CPUAccountingDir is the directory whose CPU counter (cpuacct.usage
	// on v1, cpu.stat on v2) covers the group, "" when there is none.
	CPUAccountingDir() string
}

// Available tells which cgroup version this machine offers to a root
// process, or "" when none is usable.
func Available() string {
	if os.Geteuid() != 0 {
		return ""
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return "v2"
	}
	if _, err := os.Stat(filepath.Join(root, "cpu", "cgroup.procs")); err == nil {
		if _, err := os.Stat(filepath.Join(root, "cpuset", "cgroup.procs")); err == nil {
			return "v1"
		}
	}
	return ""
}

// New makes a cgroup called name beneath this process's own cgroup in each
// hierarchy (so a sandbox's limits still apply) and sets its limits.
func New(name string, l Limits) (Group, error) {
	switch Available() {
	case "v1":
		return newV1(name, l)
	case "v2":
		return newV2(name, l)
	}
	return nil, errors.New("no writable cgroup hierarchy (need root and cgroup v1 cpu+cpuset or cgroup v2)")
}

// ownPath returns this process's path in the hierarchy that has controller
// ("" selects the v2 unified line).
func ownPath(controller string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return parts[2], nil
			}
		}
	}
	return "", fmt.Errorf("no cgroup line for controller %q", controller)
}

func write(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

func readPIDs(procs string) ([]int32, error) {
	b, err := os.ReadFile(procs)
	if err != nil {
		return nil, err
	}
	var out []int32
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, int32(n))
		}
	}
	return out, nil
}

// drain kills every process left in procs and waits until the file is empty,
// since a cgroup with members cannot be removed.
func drain(procs string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := readPIDs(procs)
		if err != nil || len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in %s", pids, filepath.Dir(procs))
		}
		for _, p := range pids {
			_ = syscall.Kill(int(p), syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rmdir removes a cgroup directory; the kernel may report EBUSY for a moment
// after its last process died.
func rmdir(dir string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

// quotaMicros turns a fractional CPU budget into a CFS quota.
func quotaMicros(l Limits) (quota, period int64) {
	period = l.Period.Microseconds()
	if period <= 0 {
		period = 100_000
	}
	quota = int64(l.Quota * float64(period))
	return max(quota, 1000), period // the kernel's minimum quota is 1 ms
}

// Capacity is the CPU this process can use, in CPUs: its affinity, capped by
// its cgroup's CFS quota. The loader-saturation guard divides by it.
func Capacity() float64 {
	cpus, err := Online()
	capacity := float64(len(cpus))
	if err != nil || capacity == 0 {
		capacity = 1
	}
	if q := ownQuota(); q > 0 && q < capacity {
		capacity = q
	}
	return capacity
}

func ownQuota() float64 {
	if p, err := ownPath(""); err == nil && Available() == "v2" {
		b, err := os.ReadFile(filepath.Join(root, p, "cpu.max"))
		if err == nil {
			f := strings.Fields(string(b))
			if len(f) == 2 && f[0] != "max" {
				q, _ := strconv.ParseFloat(f[0], 64)
				per, _ := strconv.ParseFloat(f[1], 64)
				if per > 0 {
					return q / per
				}
			}
		}
		return 0
	}
	p, err := ownPath("cpu")
	if err != nil {
		return 0
	}
	dir := filepath.Join(root, "cpu", p)
	q, err1 := readInt(filepath.Join(dir, "cpu.cfs_quota_us"))
	per, err2 := readInt(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil || q <= 0 || per <= 0 {
		return 0
	}
	return float64(q) / float64(per)
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
