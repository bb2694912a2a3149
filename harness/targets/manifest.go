// Package targets reads targets/<name>/target.yaml: how a reference server is
// built, run and health-checked, and which toolchain it needs.
package targets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Toolchain is one binary a target needs on PATH.
type Toolchain struct {
	Bin     string   `yaml:"bin" json:"bin"`
	Version string   `yaml:"version" json:"version"`
	Apt     []string `yaml:"apt" json:"apt"`
	Hint    string   `yaml:"hint" json:"hint"`
}

// Requirement is a check beyond toolchains (e.g. fetched dependencies). Its
// reason says what the machine lacks; the first line a failing check prints
// on stdout is added to it (CheckRequirements).
type Requirement struct {
	Check  string `yaml:"check" json:"check"`
	Reason string `yaml:"reason" json:"reason"`
	Hint   string `yaml:"hint" json:"hint"`
	// Apt are Debian packages that satisfy the check (libraries a present
	// toolchain lacks), installed like a toolchain's.
	Apt []string `yaml:"apt" json:"apt,omitempty"`
	// Scenarios, when set, limits the requirement to runs of these
	// scenarios: what only their endpoints need (a database driver).
	Scenarios []string `yaml:"scenarios" json:"scenarios,omitempty"`
}

// Manifest is targets/<name>/target.yaml.
type Manifest struct {
	Name      string        `yaml:"name" json:"name"`
	Language  string        `yaml:"language" json:"language"`
	Framework string        `yaml:"framework" json:"framework"`
	Article   string        `yaml:"article" json:"article,omitempty"`
	Toolchain []Toolchain   `yaml:"toolchain" json:"toolchain"`
	Requires  []Requirement `yaml:"requires" json:"requires,omitempty"`
	Sources   []string      `yaml:"sources" json:"sources"`
	// Outputs must all exist for a cached build to count: a clean clone
	// keeps the stamp in the cache but loses in-tree outputs (node_modules).
	Outputs []string `yaml:"outputs" json:"outputs,omitempty"`
	// Release lists what a deployment of the target ships (files or
	// folders, $OUT expanded): its release size is their total. Empty for
	// a target whose deployable is its sources plus an installed runtime.
	Release      []string          `yaml:"release" json:"release,omitempty"`
	Build        string            `yaml:"build" json:"build"`
	Run          []string          `yaml:"run" json:"run"`
	Env          map[string]string `yaml:"env" json:"env,omitempty"`
	Health       string            `yaml:"health" json:"health"`
	StartTimeout string            `yaml:"start_timeout" json:"start_timeout"`

	// Dir is the target's folder, absolute.
	Dir string `yaml:"-" json:"-"`
	// Raw is the manifest's bytes, hashed into the build stamp.
	Raw []byte `yaml:"-" json:"-"`
}

// Timeout is how long the target may take to answer its health check.
func (m *Manifest) Timeout() time.Duration {
	d, err := time.ParseDuration(m.StartTimeout)
	if err != nil || d <= 0 {
		return 30 * time.Second
	}
	return d
}

// Load reads dir/target.yaml.
func Load(dir string) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, "target.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0] // e.g. "line 9: field apt not found in type target.Requirement"
		}
		return nil, fmt.Errorf("%s: %s", path, strings.SplitN(strings.TrimPrefix(msg, "yaml: "), "\n", 2)[0])
	}
	m.Dir, m.Raw = abs, raw
	if err := m.validate(path); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate(path string) error {
	fe := func(field, msg string) error { return fmt.Errorf("%s: field %s: %s", path, field, msg) }
	switch {
	case m.Name == "":
		return fe("name", "must be set")
	case m.Name != filepath.Base(m.Dir):
		return fe("name", fmt.Sprintf("%q must match the folder name %q", m.Name, filepath.Base(m.Dir)))
	case len(m.Run) == 0:
		return fe("run", "must give the command (argv list)")
	case m.Build == "":
		return fe("build", "must be set")
	case len(m.Sources) == 0:
		return fe("sources", "must list the globs hashed for the build cache")
	case !strings.HasPrefix(m.Health, "/"):
		return fe("health", "must be a path such as /health")
	}
	for i, t := range m.Toolchain {
		if t.Bin == "" {
			return fe(fmt.Sprintf("toolchain[%d].bin", i), "must be set")
		}
	}
	for i, r := range m.Requires {
		if r.Check == "" || r.Reason == "" {
			return fe(fmt.Sprintf("requires[%d]", i), "needs check and reason")
		}
	}
	return nil
}

// Discover loads every targets/*/target.yaml, sorted by name.
func Discover(root string) ([]*Manifest, error) {
	paths, err := filepath.Glob(filepath.Join(root, "*", "target.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Manifest
	for _, p := range paths {
		m, err := Load(filepath.Dir(p))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Select picks the named targets from all, in the order given; an empty
// list means all of them.
func Select(all []*Manifest, names []string) ([]*Manifest, error) {
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]*Manifest{}
	var known []string
	for _, m := range all {
		byName[m.Name] = m
		known = append(known, m.Name)
	}
	var out []*Manifest
	for _, n := range names {
		m, ok := byName[n]
		if !ok {
			return nil, errors.New("unknown target " + n + " (known: " + strings.Join(known, ", ") + ")")
		}
		out = append(out, m)
	}
	return out, nil
}

// ForScenario is the manifest as a run of scenario sees it: without the
// requirements that only other scenarios have.
func (m *Manifest) ForScenario(scenario string) *Manifest {
	c := *m
	c.Requires = nil
	for _, r := range m.Requires {
		if len(r.Scenarios) == 0 || slices.Contains(r.Scenarios, scenario) {
			c.Requires = append(c.Requires, r)
		}
	}
	return &c
}
