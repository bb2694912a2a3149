package cpuset

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSys points the idle hold at a fake sysfs with CPUs 0-1 (resume
// latency "0": no constraint, as the kernel has it) and a fresh state file.
func fakeSys(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	oldSys, oldState := sysCPU, stateFile
	sysCPU, stateFile = filepath.Join(dir, "cpu"), filepath.Join(dir, "run", "cpu-idle.json")
	t.Cleanup(func() { sysCPU, stateFile = oldSys, oldState })
	for _, c := range []int{0, 1} {
		if err := os.MkdirAll(filepath.Dir(qosPath(c)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(qosPath(c), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func qos(t *testing.T, cpu int) string {
	t.Helper()
	b, err := os.ReadFile(qosPath(cpu))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestKeepAwakeHoldsAndRestores(t *testing.T) {
	fakeSys(t)
	outer := KeepAwake([]int{1})
	if outer.Record.Policy != IdlePoll || outer.Record.Why != "" {
		t.Fatalf("record %+v, want poll", outer.Record)
	}
	if got := qos(t, 1); got != "n/a" {
		t.Fatalf("CPU 1 resume latency %q during the hold, want n/a", got)
	}
	if got := qos(t, 0); got != "0" {
		t.Fatalf("CPU 0, not the loader's, changed to %q", got)
	}
	if _, err := os.Stat(stateFile); err != nil {
		t.Fatalf("no state file during the hold: %v", err)
	}
	inner := KeepAwake([]int{1}) // a run inside a cross-check
	if err := inner.Release(); err != nil {
		t.Fatal(err)
	}
	if got := qos(t, 1); got != "n/a" {
		t.Fatalf("inner release restored CPU 1 (%q) while the outer hold lasts", got)
	}
	if err := outer.Release(); err != nil {
		t.Fatal(err)
	}
	if err := outer.Release(); err != nil { // twice is harmless
		t.Fatal(err)
	}
	if got := qos(t, 1); got != "0" {
		t.Fatalf("CPU 1 resume latency %q after release, want the 0 found", got)
	}
	if _, err := os.Stat(stateFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state file left after release: %v", err)
	}
}

func TestKeepAwakeRestoresWhatADeadHarnessLeft(t *testing.T) {
	fakeSys(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// A harness killed during its hold: CPU 0 left at n/a, its value saved.
	if err := writeQoS(0, "n/a"); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(idleState{PID: dead.Process.Pid, Previous: map[int]string{0: "0"}})
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a := KeepAwake([]int{1})
	t.Cleanup(func() { _ = a.Release() })
	if a.Record.Policy != IdlePoll {
		t.Fatalf("record %+v, want poll", a.Record)
	}
	if got := qos(t, 0); got != "0" {
		t.Fatalf("CPU 0 still %q: the dead harness's hold was not undone", got)
	}
}

func TestKeepAwakeCannot(t *testing.T) {
	cases := []struct {
		name    string
		setUp   func(t *testing.T)
		cpus    []int
		wantWhy string
	}{
		{"no such CPU", func(*testing.T) {}, []int{7}, "CPU 7"},
		{"a live harness holds them", func(t *testing.T) {
			b, _ := json.Marshal(idleState{PID: os.Getppid(), Previous: map[int]string{1: "0"}})
			_ = os.MkdirAll(filepath.Dir(stateFile), 0o755)
			if err := os.WriteFile(stateFile, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []int{1}, "holds CPUs awake"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fakeSys(t)
			tc.setUp(t)
			a := KeepAwake(tc.cpus)
			if a.Record.Policy != IdleDefault || !strings.Contains(a.Record.Why, tc.wantWhy) {
				t.Fatalf("record %+v, want default with a reason naming %q", a.Record, tc.wantWhy)
			}
			if got := qos(t, 1); got != "0" {
				t.Fatalf("CPU 1 changed to %q by a hold that could not be made", got)
			}
			if err := a.Release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
