package cpuset

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

type v2 struct{ dir string }

func newV2(name string, l Limits) (Group, error) {
	own, err := ownPath("")
	if err != nil {
		return nil, err
	}
	parent := filepath.Join(root, own)
	// Controllers must be delegated to children. This fails on a non-root
	// cgroup that holds processes (v2's no-internal-process rule); the error
	// then says so and the caller falls back to affinity alone.
	if err := write(filepath.Join(parent, "cgroup.subtree_control"), "+cpu +cpuset +memory"); err != nil {
		return nil, fmt.Errorf("delegate controllers in %s: %w", parent, err)
	}
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	g := &v2{dir: dir}
	if err := g.set(l); err != nil {
		_ = g.Remove()
		return nil, err
	}
	return g, nil
}

func (g *v2) set(l Limits) error {
	if err := write(filepath.Join(g.dir, "cpuset.cpus"), List(l.CPUs)); err != nil {
		return err
	}
	if l.Quota > 0 {
		quota, period := quotaMicros(l)
		if err := write(filepath.Join(g.dir, "cpu.max"), fmt.Sprintf("%d %d", quota, period)); err != nil {
			return err
		}
	}
	if l.MemoryBytes > 0 {
		if err := write(filepath.Join(g.dir, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (g *v2) JoinFiles() []string    { return []string{filepath.Join(g.dir, "cgroup.procs")} }
func (g *v2) PIDs() ([]int32, error) { return readPIDs(filepath.Join(g.dir, "cgroup.procs")) }
func (g *v2) Version() string        { return "v2" }

func (g *v2) CPUAccountingDir() string { return g.dir }

func (g *v2) Remove() error {
	// cgroup.kill (5.14+) ends the whole tree at once; drain covers older kernels.
	_ = write(filepath.Join(g.dir, "cgroup.kill"), "1")
	if err := drain(filepath.Join(g.dir, "cgroup.procs")); err != nil {
		return err
	}
	return rmdir(g.dir)
}
