package cpuset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Idle policies for the loader's CPUs (profile loader.cpu_idle).
const (
	// IdlePoll holds the CPUs in the polling idle state while a run lasts.
	IdlePoll = "poll"
	// IdleDefault leaves the CPUs' idle states as the machine has them.
	IdleDefault = "default"
)

// IdleRecord is what a run did to its loader CPUs' idle states; the
// manifest carries it, so that every figure says on which machine state
// it was measured.
type IdleRecord struct {
	// Policy is IdlePoll when the CPUs were held in the polling state for
	// the run, IdleDefault when they were left as found.
	Policy string `json:"policy"`
	CPUs   []int  `json:"cpus,omitempty"`
	// Why says why a requested hold could not be made (the policy is then
	// IdleDefault); empty when none was requested or it was made.
	Why string `json:"why,omitempty"`
}

// An idle vCPU of a VM halts, and the hypervisor takes the CPU away: here
// the next wake-up cost 35-40 µs of CPU (a sleep loop, measured) and
// arrived 30-100 µs late. A loader wakes once or twice per request at light
// rates, so that was most of its CPU and of the latency it added. A CPU
// whose PM QoS resume latency is "n/a" (none tolerated) idles in cpuidle's
// polling state instead and wakes at once (the same loop: 15-20 µs).
// Writing it needs root; the value is restored when the hold is released,
// and a state file lets the next hold restore what a killed process left.
var (
	sysCPU    = "/sys/devices/system/cpu"
	stateFile = "/run/bench-harness/cpu-idle.json"
)

// String says it in a sentence's words: "polling (CPUs 1)".
func (r IdleRecord) String() string {
	switch {
	case r.Policy == IdlePoll:
		return "polling (CPUs " + List(r.CPUs) + ")"
	case r.Why != "":
		return "as the machine has them (a hold could not be made: " + r.Why + ")"
	}
	return "as the machine has them"
}

// Awake is a hold of CPUs in the polling idle state.
type Awake struct {
	Record IdleRecord
	held   bool
}

// awake counts this process's holds of the same CPUs: a cross-check
// holds the loader's CPUs for both of its loaders, and the run it makes
// inside holds them again.
var awake struct {
	sync.Mutex
	n        int
	previous map[int]string
	cpus     []int
}

type idleState struct {
	PID      int            `json:"pid"`
	Previous map[int]string `json:"previous"`
}

// KeepAwake holds cpus in the polling idle state until Release. It never
// fails the run: a hold that cannot be made (no cpuidle, not root) returns
// an Awake whose record is IdleDefault with the reason.
func KeepAwake(cpus []int) *Awake {
	awake.Lock()
	defer awake.Unlock()
	if awake.n > 0 {
		awake.n++
		return &Awake{Record: IdleRecord{Policy: IdlePoll, CPUs: awake.cpus}, held: true}
	}
	why := func(err error) *Awake {
		return &Awake{Record: IdleRecord{Policy: IdleDefault, CPUs: cpus, Why: err.Error()}}
	}
	if err := recoverStale(); err != nil {
		return why(err)
	}
	previous := map[int]string{}
	for _, c := range cpus {
		v, err := os.ReadFile(qosPath(c))
		if err != nil {
			return why(fmt.Errorf("read CPU %d's PM QoS resume latency: %w", c, err))
		}
		previous[c] = strings.TrimSpace(string(v))
	}
	if err := saveState(previous); err != nil {
		return why(err)
	}
	for _, c := range cpus {
		if err := writeQoS(c, "n/a"); err != nil {
			_ = restore(previous)
			_ = os.Remove(stateFile)
			return why(err)
		}
	}
	awake.n, awake.previous, awake.cpus = 1, previous, cpus
	return &Awake{Record: IdleRecord{Policy: IdlePoll, CPUs: cpus}, held: true}
}

// Release ends the hold; the last release restores the values found.
func (a *Awake) Release() error {
	if a == nil || !a.held {
		return nil
	}
	a.held = false
	awake.Lock()
	defer awake.Unlock()
	if awake.n--; awake.n > 0 {
		return nil
	}
	err := restore(awake.previous)
	if err == nil {
		err = os.Remove(stateFile)
	}
	awake.previous, awake.cpus = nil, nil
	return err
}

func qosPath(cpu int) string {
	return filepath.Join(sysCPU, "cpu"+strconv.Itoa(cpu), "power", "pm_qos_resume_latency_us")
}

func writeQoS(cpu int, v string) error {
	if err := os.WriteFile(qosPath(cpu), []byte(v), 0); err != nil {
		return fmt.Errorf("set CPU %d's PM QoS resume latency to %q: %w", cpu, v, err)
	}
	return nil
}

func restore(previous map[int]string) error {
	var errs []error
	for c, v := range previous {
		errs = append(errs, writeQoS(c, v))
	}
	return errors.Join(errs...)
}

func saveState(previous map[int]string) error {
	b, _ := json.Marshal(idleState{PID: os.Getpid(), Previous: previous})
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o755); err != nil {
		return fmt.Errorf("record the CPUs' idle settings: %w", err)
	}
	if err := os.WriteFile(stateFile, b, 0o644); err != nil {
		return fmt.Errorf("record the CPUs' idle settings: %w", err)
	}
	return nil
}

// recoverStale restores what a harness that died holding CPUs awake left
// behind; a live one's hold is refused rather than stacked on.
func recoverStale() error {
	b, err := os.ReadFile(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", stateFile, err)
	}
	var st idleState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s: %w", stateFile, err)
	}
	if st.PID > 0 && syscall.Kill(st.PID, 0) == nil {
		return fmt.Errorf("harness pid %d holds CPUs awake (%s)", st.PID, stateFile)
	}
	if err := restore(st.Previous); err != nil {
		return fmt.Errorf("restore the idle settings pid %d left: %w", st.PID, err)
	}
	return os.Remove(stateFile)
}
