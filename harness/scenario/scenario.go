// Package scenario reads what a run does: the request mix (scenarios/*.yaml),
// the profile that sizes it to a machine (scenarios/profiles/*.yaml) and the
// published figures it is compared with (scenarios/reference/*.yaml).
package scenario

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Request is one kind of request in a mix, picked with probability Weight/ΣWeight.
type Request struct {
	Name   string `yaml:"name" json:"name"`
	Weight int    `yaml:"weight" json:"weight"`
	Method string `yaml:"method" json:"method"`
	// Path may hold {user_id}, replaced by a uniformly drawn id in 1..10000.
	Path string `yaml:"path" json:"path"`
	// Body is "orders" (the contract's sample orders, in turn) or empty.
	Body string `yaml:"body,omitempty" json:"body,omitempty"`
}

// Scenario is a named request mix.
type Scenario struct {
	Name        string    `yaml:"name" json:"name"`
	Description string    `yaml:"description" json:"description"`
	Requests    []Request `yaml:"requests" json:"requests"`
	// Connections, when set, is how many connections the loader may open
	// to a target, whatever its budget (the profile's per-vCPU cap does not
	// apply): for a scenario that is about connections.
	Connections int `yaml:"connections,omitempty" json:"connections,omitempty"`
	// FixedRatePerVCPU and StartRatePerVCPU, when set, replace the
	// profile's fixed rate and the search's start: the article's 1,250
	// req/s per vCPU is a JSON API's light load, and a request costing
	// milliseconds of CPU needs its own (Profile.Apply).
	FixedRatePerVCPU float64 `yaml:"fixed_rate_per_vcpu,omitempty" json:"fixed_rate_per_vcpu,omitempty"`
	StartRatePerVCPU float64 `yaml:"start_rate_per_vcpu,omitempty" json:"start_rate_per_vcpu,omitempty"`
	// FixedDuration, when set, replaces the profile's fixed-run length: a
	// tail figure such as p99.9 needs many more requests than a p95.
	FixedDuration Duration `yaml:"fixed_duration,omitempty" json:"fixed_duration,omitempty"`
	// Env is given to every target's process (or container) on top of its
	// own: what the scenario asks the targets to set up, such as the GC
	// load's live heap (GC_LIVE_OBJECTS). The harness's own variables
	// (PORT, HOST, VCPUS, BENCH_*) cannot be set here.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Hold, when set, makes this a connection-scale scenario: instead of
	// the fixed run and the peak search, the harness holds ever more
	// keep-alive connections to the target while Requests are the paced
	// probe stream (at the fixed rate) measured at each step.
	Hold *Hold `yaml:"hold,omitempty" json:"hold,omitempty"`
	// Database, when set, gives every target a PostgreSQL seeded from
	// Schema (a file in scenarios/), freshly copied for each target.
	Database *DatabaseScenario `yaml:"database,omitempty" json:"database,omitempty"`
}

// DatabaseScenario is a scenario's database.
type DatabaseScenario struct {
	// Schema is the SQL file, relative to scenarios/, that creates and
	// seeds it; SchemaPath is where it was found.
	Schema     string `yaml:"schema" json:"schema"`
	SchemaPath string `yaml:"-" json:"-"`
}

// Hold is a connection-scale run: steps of held connections, each in use.
type Hold struct {
	// Steps are the connection counts to hold, in increasing order.
	Steps []int `yaml:"steps" json:"steps"`
	// Every is how often each held connection sends one request (Path).
	Every Duration `yaml:"every" json:"every"`
	Path  string   `yaml:"path" json:"path"`
	// Measure is how long the probe runs once a step's connections are
	// all held.
	Measure Duration `yaml:"measure" json:"measure"`
	// SLOP99 is the probe's p99 a step must stay within.
	SLOP99 Duration `yaml:"slo_p99" json:"slo_p99"`
	// DialRate paces new connections (per second), so that a growing step
	// does not flood the target's listen backlog.
	DialRate float64 `yaml:"dial_rate" json:"dial_rate"`
	// Sources spreads the held connections over this many loopback source
	// addresses (127.0.0.2 and up), so that the ephemeral port range of one
	// address (about 28K ports) is not the limit.
	Sources int `yaml:"sources" json:"sources"`
}

// envName is what a scenario may name in env.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// LoadScenario reads scenarios/<name>.yaml below dir.
func LoadScenario(dir, name string) (*Scenario, error) {
	path := filepath.Join(dir, name+".yaml")
	var s Scenario
	if err := decodeFile(path, &s); err != nil {
		return nil, err
	}
	if err := s.validate(path); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Scenario) validate(path string) error {
	if s.Name == "" {
		return &FieldError{path, "name", "must be set"}
	}
	if len(s.Requests) == 0 {
		return &FieldError{path, "requests", "must list at least one request"}
	}
	if s.FixedRatePerVCPU < 0 {
		return &FieldError{path, "fixed_rate_per_vcpu", fmt.Sprintf("must not be negative, got %g", s.FixedRatePerVCPU)}
	}
	if s.StartRatePerVCPU < 0 {
		return &FieldError{path, "start_rate_per_vcpu", fmt.Sprintf("must not be negative, got %g", s.StartRatePerVCPU)}
	}
	if s.FixedDuration < 0 {
		return &FieldError{path, "fixed_duration", fmt.Sprintf("must not be negative, got %s", s.FixedDuration.D())}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		switch {
		case !envName.MatchString(k):
			return &FieldError{path, "env." + k, "must be an upper-case environment variable name (A-Z, 0-9, _)"}
		case k == "PORT" || k == "HOST" || k == "VCPUS" || strings.HasPrefix(k, "BENCH_"):
			return &FieldError{path, "env." + k, "is set by the harness itself"}
		}
	}
	if s.Hold != nil {
		if err := s.Hold.validate(path); err != nil {
			return err
		}
	}
	if d := s.Database; d != nil {
		if d.Schema == "" || filepath.IsAbs(d.Schema) || strings.Contains(d.Schema, "..") {
			return &FieldError{path, "database.schema", fmt.Sprintf("must name a SQL file in scenarios/, got %q", d.Schema)}
		}
		d.SchemaPath = filepath.Join(filepath.Dir(path), d.Schema)
		if _, err := os.Stat(d.SchemaPath); err != nil {
			return &FieldError{path, "database.schema", fmt.Sprintf("%s: %v", d.Schema, err)}
		}
	}
	if s.Connections < 0 {
		return &FieldError{path, "connections", fmt.Sprintf("must not be negative, got %d", s.Connections)}
	}
	for i, r := range s.Requests {
		f := func(name string) string { return fmt.Sprintf("requests[%d].%s", i, name) }
		switch {
		case r.Weight <= 0:
			return &FieldError{path, f("weight"), fmt.Sprintf("must be a positive integer, got %d", r.Weight)}
		case r.Method != "GET" && r.Method != "POST":
			return &FieldError{path, f("method"), fmt.Sprintf("must be GET or POST, got %q", r.Method)}
		case !strings.HasPrefix(r.Path, "/"):
			return &FieldError{path, f("path"), fmt.Sprintf("must start with /, got %q", r.Path)}
		case r.Body != "" && r.Body != "orders":
			return &FieldError{path, f("body"), fmt.Sprintf("must be empty or \"orders\", got %q", r.Body)}
		case r.Method == "POST" && r.Body == "":
			return &FieldError{path, f("body"), "a POST needs a body (\"orders\")"}
		}
	}
	return nil
}

// TargetEnv is the environment the scenario gives every target; nil for
// none (also for a nil scenario).
func (s *Scenario) TargetEnv() map[string]string {
	if s == nil {
		return nil
	}
	return s.Env
}

func (h *Hold) validate(path string) error {
	if len(h.Steps) == 0 {
		return &FieldError{path, "hold.steps", "must list at least one connection count"}
	}
	for i, n := range h.Steps {
		if n < 1 || i > 0 && n <= h.Steps[i-1] {
			return &FieldError{path, fmt.Sprintf("hold.steps[%d]", i), fmt.Sprintf("must be positive and above the step before, got %d", n)}
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"hold.every", h.Every}, {"hold.measure", h.Measure}, {"hold.slo_p99", h.SLOP99}} {
		if d.v <= 0 {
			return &FieldError{path, d.name, fmt.Sprintf("must be a positive duration, got %s", d.v.D())}
		}
	}
	switch {
	case !strings.HasPrefix(h.Path, "/"):
		return &FieldError{path, "hold.path", fmt.Sprintf("must start with /, got %q", h.Path)}
	case h.DialRate <= 0:
		return &FieldError{path, "hold.dial_rate", fmt.Sprintf("must be positive, got %g", h.DialRate)}
	case h.Sources < 1 || h.Sources > 250:
		return &FieldError{path, "hold.sources", fmt.Sprintf("must be 1..250 loopback addresses, got %d", h.Sources)}
	}
	return nil
}
