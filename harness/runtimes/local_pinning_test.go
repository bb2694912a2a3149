package runtimes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/cpuset"
)

type fakeGroup struct{ cpuset.Group }

func (fakeGroup) Version() string { return "v2" }

// Without a cgroup, taskset still holds a whole-CPU budget, but a
// fractional one goes unenforced: the target is then unpinned.
func TestLocalPinning(t *testing.T) {
	noCgroup := errors.New("no writable cgroup hierarchy")
	third := cpuset.Limits{CPUs: []int{0}, Quota: 1.0 / 3, Period: 10 * time.Millisecond}
	whole := cpuset.Limits{CPUs: []int{0, 1}}
	cases := []struct {
		name     string
		limits   cpuset.Limits
		g        cpuset.Group
		err      error
		unpinned bool
		text     string
	}{
		{"quota in a cgroup", third, fakeGroup{}, nil, false, "cgroup v2 cpuset 0, CFS quota 0.333 CPU per 10ms"},
		{"whole CPUs in a cgroup", whole, fakeGroup{}, nil, false, "cgroup v2 cpuset 0-1"},
		{"quota without a cgroup", third, nil, noCgroup, true, "unpinned: affinity CPUs 0 only, the 0.333-CPU quota is not enforced (no cgroup: no writable cgroup hierarchy)"},
		{"whole CPUs without a cgroup: affinity suffices", whole, nil, noCgroup, false, "affinity CPUs 0-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, unpinned := localPinning(c.limits, c.g, c.err)
			if unpinned != c.unpinned {
				t.Errorf("unpinned = %v, want %v (%s)", unpinned, c.unpinned, text)
			}
			if !strings.HasPrefix(text, c.text) {
				t.Errorf("pinning %q, want it to start with %q", text, c.text)
			}
			inst := &localInstance{pinning: text, unpinned: unpinned}
			if got := Unpinned(inst); got != c.unpinned {
				t.Errorf("Unpinned(instance) = %v, want %v", got, c.unpinned)
			}
		})
	}
}
