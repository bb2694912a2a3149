package load

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// RaiseNoFile raises this process's soft RLIMIT_NOFILE toward
// min(want, hard limit), never touching the hard limit (an unprivileged
// process could not raise it back). A soft limit already at or above that
// is left alone. got is the soft limit after the call; restore puts back
// the soft limit found, and is safe to call when nothing was changed.
//
// Two things Go does that matter here: it raises the soft limit to the hard
// one (less one) at startup on its own, so in a Go process this mostly
// finds the limit already raised; and a process it starts gets the soft
// limit the Go process was started with, unless the limit was set through
// syscall.Setrlimit, as here, after which children inherit the current one.
// A target started after RaiseNoFile therefore starts with the raised limit.
func RaiseNoFile(want uint64) (restore func() error, got uint64, err error) {
	noop := func() error { return nil }
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		return noop, 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	soft := min(want, old.Max)
	if soft <= old.Cur {
		return noop, old.Cur, nil
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: soft, Max: old.Max}); err != nil {
		return noop, old.Cur, fmt.Errorf("setrlimit NOFILE soft %d (hard %d): %w", soft, old.Max, err)
	}
	restore = func() error {
		var now syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
			return fmt.Errorf("getrlimit NOFILE: %w", err)
		}
		now.Cur = min(old.Cur, now.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
			return fmt.Errorf("setrlimit NOFILE soft %d: %w", now.Cur, err)
		}
		return nil
	}
	return restore, soft, nil
}

// KernelLimits are the limits that cap how many connections one process
// can hold on this machine, as read now. A field that could not be read is
// zero.
type KernelLimits struct {
	// Somaxconn (net.core.somaxconn) caps a listener's accept backlog: a
	// burst of dials larger than it has SYNs dropped and retried 1 s later.
	Somaxconn int `json:"somaxconn"`
	// FileMax (fs.file-max) caps open files system-wide.
	FileMax int64 `json:"file_max"`
	// NrOpen (fs.nr_open) caps any process's RLIMIT_NOFILE.
	NrOpen int64 `json:"nr_open"`
	// PortLow and PortHigh (net.ipv4.ip_local_port_range) bound the
	// ephemeral ports: connections per source address.
	PortLow  int `json:"port_low"`
	PortHigh int `json:"port_high"`
	// NoFileSoft and NoFileHard are this process's RLIMIT_NOFILE: one file
	// descriptor per connection, on each side.
	NoFileSoft uint64 `json:"nofile_soft"`
	NoFileHard uint64 `json:"nofile_hard"`
}

// ReadKernelLimits reads the limits from /proc and getrlimit.
func ReadKernelLimits() KernelLimits {
	var k KernelLimits
	k.Somaxconn = int(procInt("/proc/sys/net/core/somaxconn"))
	k.FileMax = procInt("/proc/sys/fs/file-max")
	k.NrOpen = procInt("/proc/sys/fs/nr_open")
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			k.PortLow, _ = strconv.Atoi(f[0])
			k.PortHigh, _ = strconv.Atoi(f[1])
		}
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		k.NoFileSoft, k.NoFileHard = lim.Cur, lim.Max
	}
	return k
}

func procInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Ports is how many ephemeral ports one source address has.
func (k KernelLimits) Ports() int {
	if k.PortHigh < k.PortLow || k.PortLow == 0 {
		return 0
	}
	return k.PortHigh - k.PortLow + 1
}

// Refuse says why holding n connections from sources source addresses
// (0 counts as 1) cannot be tried on this machine, or "". Each connection
// takes a descriptor in this process and one in the target, which inherits
// this process's RLIMIT_NOFILE, and slack more are needed besides; both
// ends count against fs.file-max. kernel tells a kernel setting (the
// ephemeral ports, file-max) from this process's own limit.
func (k KernelLimits) Refuse(n, slack, sources int) (why string, kernel bool) {
	need := uint64(n + slack)
	src := max(1, sources)
	switch {
	case k.NoFileSoft > 0 && need > k.NoFileSoft:
		return fmt.Sprintf("%d connections need about %d file descriptors in the loader and as many in the target; RLIMIT_NOFILE allows %d per process (hard limit %d)",
			n, need, k.NoFileSoft, k.NoFileHard), false
	case k.Ports() > 0 && n > k.Ports()*src:
		return fmt.Sprintf("%d connections need as many source ports; ip_local_port_range %d-%d gives %d per address, %d addresses",
			n, k.PortLow, k.PortHigh, k.Ports(), src), true
	case k.FileMax > 0 && int64(2*need) > k.FileMax:
		return fmt.Sprintf("%d connections need about %d file descriptors on this machine (loader and target); fs.file-max is %d", n, 2*need, k.FileMax), true
	}
	return "", false
}
