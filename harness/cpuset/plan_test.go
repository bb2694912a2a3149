package cpuset

import (
	"reflect"
	"strings"
	"testing"
)

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestAuto(t *testing.T) {
	cases := []struct {
		cpus   int
		budget float64
		target []int
		loader []int
	}{
		{2, 1.0 / 3, []int{0}, []int{1}},
		{3, 2.0 / 3, []int{0}, []int{1, 2}},
		{4, 1, []int{0}, []int{1, 2, 3}},
		{8, 2, []int{0, 1}, []int{2, 3, 4, 5, 6, 7}},
		{32, 8, seq(8), seq(32)[8:]},
	}
	for _, c := range cases {
		p, err := Auto(seq(c.cpus), 3)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.Budget - c.budget; d > 1e-9 || d < -1e-9 || !reflect.DeepEqual(p.TargetCPUs, c.target) || !reflect.DeepEqual(p.LoaderCPUs, c.loader) {
			t.Errorf("%d CPUs: got %+v", c.cpus, p)
		}
	}
	if _, err := Auto(seq(1), 3); err == nil {
		t.Error("one CPU accepted")
	}
}

func TestFixedRefusesWhatTheMachineCannotGive(t *testing.T) {
	_, err := Fixed(seq(2), 8, 3)
	if err == nil || !strings.Contains(err.Error(), "needs 8 CPUs for itself and 24 for the loader") {
		t.Fatalf("got %v", err)
	}
	p, err := Fixed(seq(32), 8, 3)
	if err != nil || len(p.TargetCPUs) != 8 || len(p.LoaderCPUs) != 24 {
		t.Fatalf("got %+v, %v", p, err)
	}
	if w := (Plan{Budget: 1.0 / 3}).Workers(); w != 1 {
		t.Fatalf("workers of 1/3 vCPU = %d", w)
	}
}

func TestList(t *testing.T) {
	for s, cpus := range map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "0-1,4,6-7": {0, 1, 4, 6, 7}} {
		if got := List(cpus); got != s {
			t.Errorf("List(%v) = %q", cpus, got)
		}
		got, err := ParseList(s)
		if err != nil || !reflect.DeepEqual(got, cpus) {
			t.Errorf("ParseList(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseList("3-1"); err == nil {
		t.Error("3-1 accepted")
	}
}
