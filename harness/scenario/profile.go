package scenario

import (
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// Profile sizes a run: how many vCPUs a target gets, how the loader is
// configured, how long each step lasts, and the SLO that defines a peak.
type Profile struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	Scenario    string `yaml:"scenario" json:"scenario"`

	// Budget is the target's vCPUs: a number (8, 0.333) or "auto" to size it to
	// the machine so the loader keeps LoaderRatio times the target's CPU.
	Budget      string  `yaml:"vcpus" json:"vcpus"`
	LoaderRatio float64 `yaml:"loader_ratio" json:"loader_ratio"`
	// StrictBudget refuses to run (rather than shrink) when the machine cannot
	// give both the target and the loader their CPUs; the article profile sets it.
	StrictBudget bool `yaml:"strict_budget" json:"strict_budget"`
	// QuotaPeriod is the CFS period of a fractional budget; short, so
	// throttling shows as a few ms of stall rather than a 100 ms cliff.
	QuotaPeriod   Duration `yaml:"quota_period" json:"quota_period"`
	MemoryLimitMB int      `yaml:"memory_limit_mb" json:"memory_limit_mb"`

	Warmup Duration `yaml:"warmup" json:"warmup"`
	Step   Duration `yaml:"step" json:"step"`
	// Cooldown is the least pause between steps. After it the harness
	// waits until the target's CPU is back under IdleCPU of its budget, for
	// at most SettleTimeout, so one step's backlog does not bleed into the
	// next (after an overload step a fixed second was not enough).
	Cooldown      Duration `yaml:"cooldown" json:"cooldown"`
	SettleTimeout Duration `yaml:"settle_timeout" json:"settle_timeout"`
	IdleCPU       float64  `yaml:"idle_cpu" json:"idle_cpu"`

	// FixedRatePerVCPU is the article's fixed load: 10,000 req/s on 8 vCPUs.
	FixedRatePerVCPU float64  `yaml:"fixed_rate_per_vcpu" json:"fixed_rate_per_vcpu"`
	FixedDuration    Duration `yaml:"fixed_duration" json:"fixed_duration"`

	Search Search `yaml:"search" json:"search"`
	Loader Loader `yaml:"loader" json:"loader"`
	// Database sizes a scenario's database (scenario database:).
	Database Database `yaml:"database" json:"database"`
	// Kubernetes sizes the loader agents of a run on a cluster
	// (-runtime k8s); other runtimes ignore it.
	Kubernetes Kubernetes `yaml:"kubernetes" json:"kubernetes,omitzero"`

	// File is the profile's path, for errors about its fields.
	File string `yaml:"-" json:"-"`
}

// Kubernetes is how a cluster run sizes its loader agents: the number of
// agents comes from the loader's calibrated capacity per core (or
// CapacityPerCore when no calibration is at hand) and the profile's
// highest rate (runtimes/k8s.Agents).
type Kubernetes struct {
	// AgentCPUs is each agent pod's whole CPUs (requests = limits).
	AgentCPUs int `yaml:"agent_cpus" json:"agent_cpus"`
	// AgentMemoryMB is each agent pod's memory (requests = limits).
	AgentMemoryMB int `yaml:"agent_memory_mb" json:"agent_memory_mb"`
	// CapacityPerCore is the loader's capacity per core (req/s) to size
	// the agents by when no calibration is given.
	CapacityPerCore float64 `yaml:"capacity_per_core_rps" json:"capacity_per_core_rps"`
	// TargetMemoryMB is the target container's memory when the profile
	// sets no memory_limit_mb: a Guaranteed pod needs one.
	TargetMemoryMB int `yaml:"target_memory_mb" json:"target_memory_mb"`
}

// Database is the PostgreSQL a database scenario runs, on the target's
// CPUs under its own CFS quota: its own budget, separate from the
// target's and the loader's.
type Database struct {
	// VCPUs is its budget; 0 gives it the target's.
	VCPUs float64 `yaml:"vcpus" json:"vcpus"`
	// Pool is the connection pool every target opens (DB_POOL).
	Pool int `yaml:"pool" json:"pool"`
}

// DatabaseVCPUs is the database's budget beside a target of budget vCPUs.
func (p *Profile) DatabaseVCPUs(target float64) float64 {
	if p.Database.VCPUs > 0 {
		return p.Database.VCPUs
	}
	return target
}

// Search bounds the peak search.
type Search struct {
	SLOP95         Duration `yaml:"slo_p95" json:"slo_p95"`
	MinSuccess     float64  `yaml:"min_success" json:"min_success"`
	MinAchieved    float64  `yaml:"min_achieved" json:"min_achieved"`
	StartPerVCPU   float64  `yaml:"start_rate_per_vcpu" json:"start_rate_per_vcpu"`
	MaxRate        float64  `yaml:"max_rate" json:"max_rate"`
	Growth         float64  `yaml:"growth" json:"growth"`
	Precision      float64  `yaml:"precision" json:"precision"`
	MaxSteps       int      `yaml:"max_steps" json:"max_steps"`
	LoaderCPUGuard float64  `yaml:"loader_cpu_guard" json:"loader_cpu_guard"`
	// LoaderLatencyGuard is the largest latency the loader may add itself
	// (its sentinel's p95), as a fraction of slo_p95, for a failing step to
	// be the target's.
	LoaderLatencyGuard float64 `yaml:"loader_latency_guard" json:"loader_latency_guard"`
}

// Loader caps vegeta's concurrency: unlimited workers collapse a loader core
// (measured here: 1.6K of 10K req/s achieved), capped ones hold the pace.
type Loader struct {
	Workers     int `yaml:"workers" json:"workers"`
	MaxWorkers  int `yaml:"max_workers" json:"max_workers"`
	Connections int `yaml:"connections" json:"connections"`
	// ConnectionsPerVCPU caps a target's connections by its budget, under
	// Connections: a third of a CPU is not served 512 connections because
	// an 8-vCPU instance is. 0 leaves Connections as the only cap.
	ConnectionsPerVCPU float64  `yaml:"connections_per_vcpu" json:"connections_per_vcpu"`
	Timeout            Duration `yaml:"timeout" json:"timeout"`
	// SpinBelow is the rate (req/s) at or below which the loader
	// busy-waits rather than sleeps, so that an idle CPU's wake-up delay is
	// not counted as the target's latency (load.SpinPolicy); 0 never spins.
	SpinBelow float64 `yaml:"spin_below_rps" json:"spin_below_rps"`
	// SpinMaxInflight is how many requests may be out while the loader
	// still busy-waits (load.SpinPolicy.MaxInflight); 0: the default, 2.
	SpinMaxInflight int `yaml:"spin_max_inflight,omitempty" json:"spin_max_inflight,omitempty"`
	// ReleaseAhead is how early a hit may leave, together with the hits
	// before it, when the loader does not spin, rather than wait on a
	// timer of its own (load.Config.ReleaseAhead); 0: the loader's default,
	// 100 µs. It sets how bunched the target's arrivals are: the
	// cross-check sets 1 ms to send as oha's millisecond timer does.
	ReleaseAhead Duration `yaml:"release_ahead,omitempty" json:"release_ahead,omitempty"`
	// ConnectionReuse is which idle connection a request takes: "recent"
	// (the most recently used, so that the connections in use track the
	// load's concurrency) or "rotate" (the longest idle, spreading requests
	// over every connection open, as oha and wrk do); "" is recent. The
	// cross-check rotates to send oha's load.
	ConnectionReuse string `yaml:"connection_reuse,omitempty" json:"connection_reuse,omitempty"`
	// CPUIdle is what the loader's CPUs do when idle during a run: "poll"
	// holds them in cpuidle's polling state (cpuset.KeepAwake), so that a
	// wake-up costs neither a VM exit nor its tens of µs of latency;
	// "default" leaves them as the machine has them.
	CPUIdle string `yaml:"cpu_idle" json:"cpu_idle"`
	// CapacityAddedP95 defines the loader's calibrated capacity: the
	// highest rate at which it adds at most this much latency at p95.
	CapacityAddedP95 Duration `yaml:"capacity_added_p95" json:"capacity_added_p95"`
}

// KeepAwake says whether the loader's CPUs are held in the polling idle
// state during a run (cpu_idle: poll).
func (l Loader) KeepAwake() bool { return l.CPUIdle == "poll" }

// The values of loader.connection_reuse ("" is ReuseRecent).
const (
	ReuseRecent = "recent"
	ReuseRotate = "rotate"
)

// Rotates says whether a request takes the longest-idle connection
// (connection_reuse: rotate) rather than the most recently used.
func (l Loader) Rotates() bool { return l.ConnectionReuse == ReuseRotate }

// Apply gives the profile the rates scenario s sets for itself (see
// Scenario.FixedRatePerVCPU); the manifest then records the rates used.
func (p *Profile) Apply(s *Scenario) {
	if s.FixedRatePerVCPU > 0 {
		p.FixedRatePerVCPU = s.FixedRatePerVCPU
	}
	if s.StartRatePerVCPU > 0 {
		p.Search.StartPerVCPU = s.StartRatePerVCPU
	}
	if s.FixedDuration > 0 {
		p.FixedDuration = s.FixedDuration
	}
}

// maxReleaseAhead bounds loader.release_ahead: hits sent further ahead
// would arrive in bursts coarser than any timer's a loader here competes with.
const maxReleaseAhead = 10 * time.Millisecond

// minConnections is the fewest connections a per-vCPU cap leaves a target.
const minConnections = 16

// For is the loader as it serves a target of budget vCPUs in scenario s:
// the scenario's own connection count when it asks for one, else at most
// ConnectionsPerVCPU per vCPU (at least minConnections), never more than
// Connections.
func (l Loader) For(budget float64, s *Scenario) Loader {
	switch {
	case s != nil && s.Connections > 0:
		l.Connections = s.Connections
	case l.ConnectionsPerVCPU > 0:
		l.Connections = min(l.Connections, max(minConnections, int(math.Ceil(l.ConnectionsPerVCPU*budget))))
	}
	return l
}

// LoadProfile reads scenarios/profiles/<name>.yaml below dir.
func LoadProfile(dir, name string) (*Profile, error) {
	path := filepath.Join(dir, "profiles", name+".yaml")
	p := Profile{
		Budget: "auto", LoaderRatio: 3, QuotaPeriod: Duration(10 * time.Millisecond),
		Cooldown: Duration(time.Second), SettleTimeout: Duration(15 * time.Second), IdleCPU: 0.1, FixedRatePerVCPU: 1250,
		Search: Search{SLOP95: Duration(50 * time.Millisecond), MinSuccess: 0.999, MinAchieved: 0.98,
			StartPerVCPU: 2000, MaxRate: 200000, Growth: 2, Precision: 0.05, MaxSteps: 12, LoaderCPUGuard: 0.85,
			LoaderLatencyGuard: 0.1},
		Loader: Loader{Workers: 16, MaxWorkers: 512, Connections: 512, Timeout: Duration(5 * time.Second), SpinBelow: 2500,
			CPUIdle: "poll", CapacityAddedP95: Duration(200 * time.Microsecond)},
		Database:   Database{Pool: 16},
		Kubernetes: Kubernetes{AgentCPUs: 4, AgentMemoryMB: 1024, CapacityPerCore: 20000, TargetMemoryMB: 2048},
	}
	if err := decodeFile(path, &p); err != nil {
		return nil, err
	}
	p.File = path
	if err := p.validate(path); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Profile) validate(path string) error {
	fe := func(field, format string, a ...any) error {
		return &FieldError{File: path, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if p.Name == "" {
		return fe("name", "must be set")
	}
	if p.Scenario == "" {
		return fe("scenario", "must name a file in scenarios/ (e.g. api)")
	}
	if p.Budget != "auto" {
		if _, err := ParseBudget(p.Budget); err != nil {
			return fe("vcpus", "%v", err)
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"step", p.Step}, {"fixed_duration", p.FixedDuration}, {"search.slo_p95", p.Search.SLOP95}, {"loader.timeout", p.Loader.Timeout},
		{"loader.capacity_added_p95", p.Loader.CapacityAddedP95}} {
		if d.v <= 0 {
			return fe(d.name, "must be a positive duration, got %s", d.v.D())
		}
	}
	switch {
	case p.Warmup < 0:
		return fe("warmup", "must not be negative")
	case p.Cooldown < 0 || p.SettleTimeout < 0:
		return fe("settle_timeout", "cooldown and settle_timeout must not be negative")
	case p.IdleCPU <= 0 || p.IdleCPU >= 1:
		return fe("idle_cpu", "must be a share of the budget in (0,1), got %g", p.IdleCPU)
	case p.LoaderRatio <= 0:
		return fe("loader_ratio", "must be positive, got %g", p.LoaderRatio)
	case p.FixedRatePerVCPU <= 0:
		return fe("fixed_rate_per_vcpu", "must be positive, got %g", p.FixedRatePerVCPU)
	case p.Database.VCPUs < 0:
		return fe("database.vcpus", "must not be negative, got %g", p.Database.VCPUs)
	case p.Database.Pool < 1:
		return fe("database.pool", "must be at least 1, got %d", p.Database.Pool)
	case p.Search.Growth <= 1:
		return fe("search.growth", "must be > 1, got %g", p.Search.Growth)
	case p.Search.Precision <= 0 || p.Search.Precision >= 1:
		return fe("search.precision", "must be in (0,1), got %g", p.Search.Precision)
	case p.Search.MinSuccess <= 0 || p.Search.MinSuccess > 1:
		return fe("search.min_success", "must be in (0,1], got %g", p.Search.MinSuccess)
	case p.Search.MinAchieved <= 0 || p.Search.MinAchieved > 1:
		return fe("search.min_achieved", "must be in (0,1], got %g", p.Search.MinAchieved)
	case p.Search.StartPerVCPU <= 0:
		return fe("search.start_rate_per_vcpu", "must be positive")
	case p.Search.MaxRate < p.Search.StartPerVCPU:
		return fe("search.max_rate", "must be at least start_rate_per_vcpu")
	case p.Search.MaxSteps < 2:
		return fe("search.max_steps", "must be at least 2")
	case p.Loader.MaxWorkers < 1 || p.Loader.Workers < 1 || p.Loader.Workers > p.Loader.MaxWorkers:
		return fe("loader.workers", "need 1 <= workers <= max_workers")
	case p.Loader.Connections < 1:
		return fe("loader.connections", "must be positive")
	case p.Loader.ConnectionsPerVCPU < 0:
		return fe("loader.connections_per_vcpu", "must not be negative")
	case p.Loader.SpinBelow < 0:
		return fe("loader.spin_below_rps", "must not be negative (0 never spins)")
	case p.Loader.ConnectionReuse != "" && p.Loader.ConnectionReuse != ReuseRecent && p.Loader.ConnectionReuse != ReuseRotate:
		return fe("loader.connection_reuse", "must be recent or rotate, got %q", p.Loader.ConnectionReuse)
	case p.Loader.ReleaseAhead < 0 || p.Loader.ReleaseAhead.D() > maxReleaseAhead:
		return fe("loader.release_ahead", "must be in [0, %s] (0: the loader's default), got %s", maxReleaseAhead, p.Loader.ReleaseAhead.D())
	case p.Loader.CPUIdle != "poll" && p.Loader.CPUIdle != "default":
		return fe("loader.cpu_idle", "must be poll or default, got %q", p.Loader.CPUIdle)
	case p.Search.LoaderLatencyGuard < 0 || p.Search.LoaderLatencyGuard >= 1:
		return fe("search.loader_latency_guard", "must be in [0,1), got %g", p.Search.LoaderLatencyGuard)
	case p.Kubernetes.AgentCPUs < 1:
		return fe("kubernetes.agent_cpus", "must be a whole number of CPUs, at least 1, got %d", p.Kubernetes.AgentCPUs)
	case p.Kubernetes.AgentMemoryMB < 64:
		return fe("kubernetes.agent_memory_mb", "must be at least 64, got %d", p.Kubernetes.AgentMemoryMB)
	case p.Kubernetes.CapacityPerCore <= 0:
		return fe("kubernetes.capacity_per_core_rps", "must be positive, got %g", p.Kubernetes.CapacityPerCore)
	case p.Kubernetes.TargetMemoryMB < 64:
		return fe("kubernetes.target_memory_mb", "must be at least 64, got %d", p.Kubernetes.TargetMemoryMB)
	}
	return nil
}

// ParseBudget reads a vCPU budget: "8", "0.333", or a fraction "1/3".
func ParseBudget(s string) (float64, error) {
	var a, b float64
	if n, _ := fmt.Sscanf(s, "%g/%g", &a, &b); n == 2 {
		if b <= 0 || a <= 0 {
			return 0, fmt.Errorf("%q is not a positive fraction", s)
		}
		return a / b, nil
	}
	var v float64
	if _, err := fmt.Sscanf(s, "%g", &v); err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a positive number of vCPUs (8, 0.5, 1/3 or auto)", s)
	}
	return v, nil
}
