// Package cpuset splits the machine's CPUs between the target and the loader
// and enforces the split: cgroups (cpuset + CFS quota) for the target, CPU
// affinity for the loader.
package cpuset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Plan is who runs where.
type Plan struct {
	// TargetCPUs are the CPUs the target may run on.
	TargetCPUs []int `json:"target_cpus"`
	// Budget is the target's vCPUs; below len(TargetCPUs) it is enforced as a
	// CFS quota (e.g. 1/3 of CPU 0).
	Budget float64 `json:"vcpus"`
	// LoaderCPUs are the loader's CPUs, disjoint from TargetCPUs.
	LoaderCPUs []int `json:"loader_cpus"`
}

// Workers is the whole number of workers/schedulers the target is told to use.
func (p Plan) Workers() int {
	return max(1, int(math.Ceil(p.Budget-1e-9)))
}

func (p Plan) String() string {
	return fmt.Sprintf("target %.3g vCPU on CPUs %s, loader on CPUs %s", p.Budget, List(p.TargetCPUs), List(p.LoaderCPUs))
}

// Auto sizes a plan to a machine of ncpu CPUs so the loader keeps ratio times
// the target's CPU: on 2 CPUs, 1/3 of CPU 0 for the target and CPU 1 for the
// loader; on 8, 2 target CPUs and 6 loader CPUs.
func Auto(cpus []int, ratio float64) (Plan, error) {
	n := len(cpus)
	if n < 2 {
		return Plan{}, fmt.Errorf("need at least 2 CPUs to keep the loader off the target's, have %d", n)
	}
	whole := int(math.Floor(float64(n) / (1 + ratio)))
	if whole >= 1 {
		return Plan{TargetCPUs: cpus[:whole], Budget: float64(whole), LoaderCPUs: cpus[whole:]}, nil
	}
	// Too few CPUs for a whole one: a fraction of the first CPU, so the
	// loader's share stays ratio times the target's.
	budget := float64(n-1) / ratio
	budget = math.Min(budget, 1)
	return Plan{TargetCPUs: cpus[:1], Budget: budget, LoaderCPUs: cpus[1:]}, nil
}

// Fixed places a budget of vcpus and refuses when the loader cannot get
// ratio times as much CPU.
func Fixed(cpus []int, vcpus, ratio float64) (Plan, error) {
	whole := int(math.Ceil(vcpus - 1e-9))
	needLoader := int(math.Ceil(vcpus*ratio - 1e-9))
	if whole+needLoader > len(cpus) {
		return Plan{}, fmt.Errorf("a %.3g vCPU target needs %d CPUs for itself and %d for the loader (%.3gx), this machine has %d",
			vcpus, whole, needLoader, ratio, len(cpus))
	}
	return Plan{TargetCPUs: cpus[:whole], Budget: vcpus, LoaderCPUs: cpus[whole:]}, nil
}

// List formats CPUs as the kernel does: "0-3,6".
func List(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// ParseList reads the kernel's "0-3,6" form.
func ParseList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, found := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if found {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}
