package load

import (
	"strings"
	"syscall"
	"testing"
)

func noFile(t *testing.T) syscall.Rlimit {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return lim
}

func TestRaiseNoFile(t *testing.T) {
	orig := noFile(t)
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("putting RLIMIT_NOFILE back: %v", err)
		}
	})
	const start = 512
	if orig.Max < 2*start {
		t.Skipf("hard RLIMIT_NOFILE %d is too low to test with", orig.Max)
	}
	cases := []struct {
		name    string
		want    uint64
		wantGot uint64
	}{
		{"below the soft limit: left alone", start / 2, start},
		{"between soft and hard", start + 100, start + 100},
		{"above the hard limit: up to it, the hard limit untouched", orig.Max + 1000, orig.Max},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: start, Max: orig.Max}); err != nil {
				t.Fatal(err)
			}
			restore, got, err := RaiseNoFile(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			now := noFile(t)
			if got != tc.wantGot || now.Cur != tc.wantGot || now.Max != orig.Max {
				t.Errorf("RaiseNoFile(%d) = %d, limit now %d/%d; want %d/%d", tc.want, got, now.Cur, now.Max, tc.wantGot, orig.Max)
			}
			if k := ReadKernelLimits(); k.NoFileSoft != now.Cur {
				t.Errorf("ReadKernelLimits says soft %d, getrlimit %d", k.NoFileSoft, now.Cur)
			}
			if err := restore(); err != nil {
				t.Fatal(err)
			}
			if now := noFile(t); now.Cur != start || now.Max != orig.Max {
				t.Errorf("after restore: %d/%d, want %d/%d", now.Cur, now.Max, start, orig.Max)
			}
		})
	}
}

func TestKernelLimits(t *testing.T) {
	k := ReadKernelLimits()
	t.Logf("%+v", k)
	if k.Somaxconn <= 0 || k.FileMax <= 0 || k.NrOpen <= 0 || k.Ports() <= 0 || k.NoFileSoft == 0 || k.NoFileHard < k.NoFileSoft {
		t.Errorf("limits not all read: %+v", k)
	}
	ports := KernelLimits{NoFileSoft: 1 << 20, PortLow: 32768, PortHigh: 60999, FileMax: 1 << 30}
	cases := []struct {
		name    string
		k       KernelLimits
		n       int
		sources int
		kernel  bool
		whyHas  string // "": allowed
	}{
		{"descriptors", KernelLimits{NoFileSoft: 20000, NoFileHard: 20000, PortLow: 32768, PortHigh: 60999, FileMax: 1 << 20}, 20000, 16, false, "RLIMIT_NOFILE allows 20000 per process (hard limit 20000)"},
		{"under the descriptors", KernelLimits{NoFileSoft: 20000, PortLow: 32768, PortHigh: 60999, FileMax: 1 << 20}, 15000, 16, false, ""},
		{"ports of one source", ports, 28233, 1, true, "ip_local_port_range 32768-60999 gives 28232 per address, 1 addresses"},
		{"more sources, more ports", ports, 112928, 4, false, ""},
		{"system-wide files", KernelLimits{NoFileSoft: 1 << 20, PortLow: 1024, PortHigh: 65535, FileMax: 50000}, 25000, 4, true, "fs.file-max is 50000"},
		{"nothing read", KernelLimits{}, 1 << 20, 0, false, ""},
	}
	for _, tc := range cases {
		why, kernel := tc.k.Refuse(tc.n, 600, tc.sources)
		if !strings.Contains(why, tc.whyHas) || (why == "") != (tc.whyHas == "") || why != "" && kernel != tc.kernel {
			t.Errorf("%s: Refuse(%d, 600, %d) = %q, kernel %v; want %q, kernel %v", tc.name, tc.n, tc.sources, why, kernel, tc.whyHas, tc.kernel)
		}
	}
}
