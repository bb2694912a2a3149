package sample

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A fake cgroup directory: the counters are files, so the arithmetic can be
// checked without a container.
func TestReadV1AndV2(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		dir := t.TempDir()
		procs := filepath.Join(dir, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		setCPU := func(seconds float64) {
			name, body := "cpuacct.usage", strconv.FormatInt(int64(seconds*1e9), 10)
			if v2 {
				name, body = "cpu.stat", "usage_usec "+strconv.FormatInt(int64(seconds*1e6), 10)+"\nuser_usec 1\n"
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		setCPU(10)
		c, err := ForDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		first, err := c.Read(ctx)
		if err != nil || first.Interval != 0 || first.CPUSeconds != 0 {
			t.Fatalf("v2=%v first read %+v %v: want a baseline only", v2, first, err)
		}
		// PSS is read at the first reading and then every PSSEvery.
		if _, err := PSS(int32(os.Getpid())); err == nil && (first.PSSBytes == 0 || first.PSSBytes > first.RSSBytes) {
			t.Errorf("v2=%v: PSS %d bytes, want in (0, RSS %d]", v2, first.PSSBytes, first.RSSBytes)
		}
		time.Sleep(20 * time.Millisecond)
		setCPU(10.5)
		r, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.CPUSeconds < 0.4999 || r.CPUSeconds > 0.5001 || r.Interval <= 0 {
			t.Errorf("v2=%v: CPU %.4f s over %s, want 0.5 s", v2, r.CPUSeconds, r.Interval)
		}
		if r.RSSBytes == 0 {
			t.Errorf("v2=%v: RSS of this process read as 0", v2)
		}
		if r.PSSBytes != 0 {
			t.Errorf("v2=%v: PSS read again %v after the first reading, want every %v", v2, r.At.Sub(first.At), PSSEvery)
		}
	}
}

func TestParseProcCgroup(t *testing.T) {
	got := parseProcCgroup("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n")
	if got["cpuacct"] != "/docker/abc" || got["cpu"] != "/docker/abc" || got[""] != "/docker/abc" || got["memory"] != "/docker/abc" {
		t.Errorf("parseProcCgroup = %v", got)
	}
}

// ForPID finds this process's own cgroup on any Linux machine with cgroups.
func TestForPIDSelf(t *testing.T) {
	c, err := ForPID(os.Getpid())
	if err != nil {
		t.Skipf("no readable cgroup here: %v", err)
	}
	if _, err := c.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
}
