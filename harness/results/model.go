// Package results is the run's record: manifest.json, results.json,
// summary.csv and summary.md in results/<run-id>/. Their fields are a
// contract documented in results/README.md.
package results

import (
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/verify"
)

// Statuses of a target in a run.
const (
	StatusOK      = "ok"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Machine is what the run ran on.
type Machine struct {
	CPUModel string  `json:"cpu_model"`
	Cores    int     `json:"cores"`
	MemoryGB float64 `json:"memory_gb"`
	Kernel   string  `json:"kernel"`
	OS       string  `json:"os"`
}

// Manifest is manifest.json: everything needed to know how a run was made.
type Manifest struct {
	RunID      string                       `json:"run_id"`
	Command    []string                     `json:"command"`
	Profile    *scenario.Profile            `json:"profile"`
	Scenario   *scenario.Scenario           `json:"scenario"`
	Runtime    string                       `json:"runtime"`
	Machine    Machine                      `json:"machine"`
	GitSHA     string                       `json:"git_sha"`
	GitDirty   bool                         `json:"git_dirty"`
	GoVersion  string                       `json:"go_version"`
	Toolchains map[string]map[string]string `json:"toolchains"`
	VCPUs      float64                      `json:"vcpus"`
	TargetCPUs string                       `json:"target_cpus"`
	LoaderCPUs string                       `json:"loader_cpus"`
	LoaderCap  float64                      `json:"loader_cpu_capacity"`
	// LoaderIdle is what the run did to the loader CPUs' idle states
	// (profile loader.cpu_idle): the machine's share of every figure.
	LoaderIdle  cpuset.IdleRecord   `json:"loader_cpu_idle"`
	Start       time.Time           `json:"start"`
	End         time.Time           `json:"end"`
	Interrupted bool                `json:"interrupted"`
	Reference   *scenario.Reference `json:"reference,omitempty"`
	// Calibration is the loader measured against the instant reference
	// server before the targets (package calibrate); nil when skipped.
	Calibration *calibrate.Result `json:"calibration,omitempty"`
	// CalibrationError says why a calibration that was asked for failed.
	CalibrationError string `json:"calibration_error,omitempty"`
	// AssumedCapacity is a loader capacity not measured in this run (a
	// cluster's agents, sized from an earlier calibration or the profile),
	// and AssumedCapacitySource says where it comes from; 0 when none.
	AssumedCapacity       float64 `json:"loader_capacity_assumed_rps,omitempty"`
	AssumedCapacitySource string  `json:"loader_capacity_assumed_from,omitempty"`
	// Database is the scenario's database, when it has one.
	Database *DatabaseInfo `json:"database,omitempty"`
	// Agents are the loader's agents when it ran as several (make bench
	// LOADERS=N), with their totals over the run; absent otherwise.
	Agents []AgentRecord `json:"loader_agents,omitempty"`
	// LoaderChoice says which way the loader ran and why, when the run
	// chose by calibrating both (several loader CPUs, LOADERS unset).
	LoaderChoice string `json:"loader_choice,omitempty"`
}

// AgentRecord is one loader agent over a run: where it ran and, summed
// over every step it took part in, what it sent and what it cost.
type AgentRecord struct {
	agent.Info
	Steps      int     `json:"steps"`
	Requests   uint64  `json:"requests"`
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPerRequestUS is CPUSeconds over Requests, in µs.
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
	// MaxLoaderCPU is its highest CPU share in a step, of the CPU it may
	// use; MaxAddedP95MS the highest p95 its sentinel saw (ms).
	MaxLoaderCPU  float64 `json:"max_loader_cpu"`
	MaxAddedP95MS float64 `json:"max_added_p95_ms"`
	// MaxStartOffsetMS is the latest it began after its due instant.
	MaxStartOffsetMS float64 `json:"max_start_offset_ms"`
}

// Add counts one step's figures.
func (r *AgentRecord) Add(f agent.Figures) {
	r.Steps++
	r.Requests += f.Requests
	r.CPUSeconds += f.CPUSeconds
	if r.Requests > 0 {
		r.CPUPerRequestUS = r.CPUSeconds * 1e6 / float64(r.Requests)
	}
	r.MaxLoaderCPU = max(r.MaxLoaderCPU, f.LoaderCPU)
	if f.Added != nil {
		r.MaxAddedP95MS = max(r.MaxAddedP95MS, f.Added.P95)
	}
	r.MaxStartOffsetMS = max(r.MaxStartOffsetMS, f.StartOffsetMS)
}

// Observations lists every step of every target: warm-ups, fixed runs and
// peak searches, repetitions included.
func (r *Run) Observations() []peak.Observation {
	var out []peak.Observation
	add := func(f *Fixed, p *peak.Result) {
		if f != nil {
			out = append(out, f.Observation)
		}
		if p != nil {
			for _, s := range p.Steps {
				out = append(out, s.Observation)
			}
		}
	}
	for _, t := range r.Targets {
		if t.Warmup != nil {
			out = append(out, *t.Warmup)
		}
		if len(t.Repeats) == 0 {
			add(t.Fixed, t.Peak)
		}
		for _, rep := range t.Repeats {
			add(rep.Fixed, rep.Peak)
		}
	}
	return out
}

// DatabaseInfo is the PostgreSQL a database scenario ran against.
type DatabaseInfo struct {
	Version string  `json:"version"`
	Pinning string  `json:"pinning"`
	VCPUs   float64 `json:"vcpus"`
	Pool    int     `json:"pool"`
	Schema  string  `json:"schema"`
	// SeedSeconds is how long loading the schema took, once per run;
	// each target then starts from a copy of the seeded template.
	SeedSeconds float64 `json:"seed_seconds"`
}

// LoaderCapacity is the calibrated capacity, else an assumed one, 0 when
// there is none.
func (m *Manifest) LoaderCapacity() float64 {
	switch {
	case m == nil:
		return 0
	case m.Calibration != nil:
		return m.Calibration.Capacity
	default:
		return m.AssumedCapacity
	}
}

// Fixed is the fixed-rate run: the article's "serving 10K req/s" figures.
type Fixed struct {
	peak.Observation
	Sample sample.Stats `json:"target"`
	// CPUPct is the target's mean CPU as % of its vCPU budget.
	CPUPct float64 `json:"cpu_pct"`
	// GC is what the target's runtime reports of its collections during
	// this run (GET /gc/stats after a POST /gc/reset just before it); nil
	// when the target does not answer them.
	GC *contract.GCStats `json:"gc,omitempty"`
}

// Target is one target's record in results.json.
type Target struct {
	Name      string  `json:"target"`
	Language  string  `json:"language"`
	Framework string  `json:"framework"`
	Status    string  `json:"status"`
	Reason    string  `json:"reason,omitempty"`
	Hint      string  `json:"hint,omitempty"`
	Runtime   string  `json:"runtime"`
	VCPUs     float64 `json:"vcpus"`
	Workers   int     `json:"workers"`
	Pinning   string  `json:"pinning,omitempty"`
	// Unpinned: the budget could not be enforced (a fractional budget and
	// no usable cgroup), so the target had whole CPUs while its figures are
	// divided by VCPUs. No claim is judged on such a target.
	Unpinned bool `json:"unpinned,omitempty"`
	// ImageSizeMB is the size of the image the container runtime ran (MiB,
	// as `docker images` counts it); 0 for the local runtime.
	ImageSizeMB float64 `json:"image_size_mb,omitempty"`
	// ReleaseMB is the size of what a deployment of the target ships, as
	// its target.yaml's release lists it (MiB); 0 when it lists nothing.
	ReleaseMB float64 `json:"release_mb,omitempty"`
	// Connections is the most connections the loader could open to the
	// target (the profile's cap for its budget, or the scenario's).
	Connections int `json:"loader_connections,omitempty"`

	Verify *verify.Report    `json:"verify,omitempty"`
	Warmup *peak.Observation `json:"warmup,omitempty"`
	Fixed  *Fixed            `json:"fixed,omitempty"`
	Peak   *peak.Result      `json:"peak,omitempty"`
	// Hold is a connection-scale run's outcome (scenario hold:), which
	// replaces the fixed run and the peak search.
	Hold *peak.HoldResult `json:"hold,omitempty"`
	// RSSPeakMB is the highest RSS seen while the target was under load.
	RSSPeakMB float64   `json:"rss_peak_mb"`
	LogTail   string    `json:"log_tail,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`

	Article *scenario.ReferenceRow `json:"article,omitempty"`

	// Repeats holds every repetition of a run made with -repeat N > 1; the
	// top-level Fixed and Peak are then its median repetitions (see
	// SetMedians). Empty for a single measurement, so such a results.json
	// is what it always was.
	Repeats []Repeat `json:"repeats,omitempty"`
}

// Repeat is one repetition of a target's measurement: a fixed-rate run and
// a peak search against the same running server.
type Repeat struct {
	Fixed *Fixed           `json:"fixed,omitempty"`
	Peak  *peak.Result     `json:"peak,omitempty"`
	Hold  *peak.HoldResult `json:"hold,omitempty"`
	// RSSPeakMB is the highest RSS seen during this repetition (the first
	// one includes the warm-up).
	RSSPeakMB float64   `json:"rss_peak_mb"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// Run is results.json.
type Run struct {
	Manifest *Manifest `json:"manifest"`
	Targets  []Target  `json:"targets"`
}
