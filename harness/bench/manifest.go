package bench

import (
	"context"
	"os/exec"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/results"
)

func newManifest(ctx context.Context, o Options, plan cpuset.Plan) *results.Manifest {
	m := &results.Manifest{
		RunID: o.RunID, Command: o.Command, Profile: o.Profile, Scenario: o.Scenario, Runtime: o.Runtime.Name(),
		Machine: machine(ctx), GoVersion: goruntime.Version(), Toolchains: map[string]map[string]string{},
		VCPUs: plan.Budget, TargetCPUs: cpuset.List(plan.TargetCPUs), LoaderCPUs: cpuset.List(plan.LoaderCPUs),
		LoaderCap: cpuset.Capacity(), Start: time.Now().UTC(), Reference: o.Reference,
	}
	m.GitSHA = git("rev-parse", "HEAD")
	m.GitDirty = git("status", "--porcelain", "--untracked-files=no") != ""
	return m
}

func machine(ctx context.Context) results.Machine {
	var mc results.Machine
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		mc.CPUModel = strings.TrimSpace(infos[0].ModelName)
	}
	mc.Cores, _ = cpu.CountsWithContext(ctx, true)
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		mc.MemoryGB = float64(vm.Total) / (1 << 30)
	}
	if info, err := host.InfoWithContext(ctx); err == nil {
		mc.Kernel = info.KernelVersion
		mc.OS = strings.TrimSpace(info.Platform + " " + info.PlatformVersion)
	}
	return mc
}

func git(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
