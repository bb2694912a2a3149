package cpuset

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

type v1 struct{ dirs map[string]string } // controller -> directory

func newV1(name string, l Limits) (Group, error) {
	g := &v1{dirs: map[string]string{}}
	controllers := []string{"cpuset", "cpu"}
	if l.MemoryBytes > 0 {
		controllers = append(controllers, "memory")
	}
	// cpuacct counts the group's CPU time, children that have exited
	// included. It is optional: without it the sampler falls back to
	// per-process times.
	if _, err := ownPath("cpuacct"); err == nil {
		if _, err := os.Stat(filepath.Join(root, "cpuacct", "cgroup.procs")); err == nil {
			controllers = append(controllers, "cpuacct")
		}
	}
	for _, c := range controllers {
		own, err := ownPath(c)
		if err != nil {
			_ = g.Remove()
			return nil, err
		}
		dir := filepath.Join(root, c, own, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			_ = g.Remove()
			return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		g.dirs[c] = dir
	}
	if err := g.set(l); err != nil {
		_ = g.Remove()
		return nil, err
	}
	return g, nil
}

func (g *v1) set(l Limits) error {
	cs := g.dirs["cpuset"]
	mems, err := os.ReadFile(filepath.Join(filepath.Dir(cs), "cpuset.mems"))
	if err != nil {
		return fmt.Errorf("read parent cpuset.mems: %w", err)
	}
	// cpuset v1 accepts no task until both cpus and mems are set.
	if err := write(filepath.Join(cs, "cpuset.mems"), string(mems)); err != nil {
		return err
	}
	if err := write(filepath.Join(cs, "cpuset.cpus"), List(l.CPUs)); err != nil {
		return err
	}
	if l.Quota > 0 {
		quota, period := quotaMicros(l)
		if err := write(filepath.Join(g.dirs["cpu"], "cpu.cfs_period_us"), strconv.FormatInt(period, 10)); err != nil {
			return err
		}
		if err := write(filepath.Join(g.dirs["cpu"], "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)); err != nil {
			return err
		}
	}
	if l.MemoryBytes > 0 {
		if err := write(filepath.Join(g.dirs["memory"], "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (g *v1) JoinFiles() []string {
	var out []string
	for _, dir := range g.dirs {
		out = append(out, filepath.Join(dir, "cgroup.procs"))
	}
	return out
}

func (g *v1) PIDs() ([]int32, error) {
	return readPIDs(filepath.Join(g.dirs["cpuset"], "cgroup.procs"))
}

func (g *v1) Remove() error {
	var first error
	for _, dir := range g.dirs {
		if err := drain(filepath.Join(dir, "cgroup.procs")); err != nil && first == nil {
			first = err
		}
		if err := rmdir(dir); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (g *v1) Version() string { return "v1" }

func (g *v1) CPUAccountingDir() string { return g.dirs["cpuacct"] }
