package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/benchharness/harness/harness/results"
)

// Claims is a claims file, scenarios/claims/<name>.yaml: published
// statements about the targets, each with the rule that decides whether a
// run bears it out. The format is documented in scenarios/claims/README.md.
type Claims struct {
	Name string `yaml:"name"`
	// Sources are where the claims come from, by id.
	Sources map[string]Source `yaml:"sources"`
	// Tolerance is the relative tolerance of a `near` rule that sets none.
	Tolerance float64 `yaml:"tolerance"`
	Claims    []Claim `yaml:"claims"`
}

// Source is a document claims are quoted from, cited as a reader finds
// it: title, author, date and canonical URL (empty when none is known).
type Source struct {
	Title   string `yaml:"title"`
	Author  string `yaml:"author"`
	Date    string `yaml:"date"`
	URL     string `yaml:"url"`
	Section string `yaml:"section"`
}

// Cite is the source as one line of a report.
func (s Source) Cite() string {
	var parts []string
	for _, p := range []string{s.Author, s.Date} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if s.URL != "" {
		parts = append(parts, s.URL)
	} else {
		parts = append(parts, "no URL known")
	}
	if s.Section != "" {
		parts = append(parts, "section "+s.Section)
	}
	return fmt.Sprintf("%q (%s)", s.Title, strings.Join(parts, ", "))
}

// Claim is one published statement and its rule. Its subject is exactly one
// of Target (a figure of one target), Ratio (the figure of one target over
// another's) or Order (targets from highest to lowest figure).
type Claim struct {
	ID     string `yaml:"id"`
	Source string `yaml:"source"`
	// Quote is the source's words; Says is the statement the rule checks.
	Quote string `yaml:"quote"`
	Says  string `yaml:"says"`
	// Proxy says what the harness measures when that is not the claim's own
	// subject (raw compute judged by a JSON API's req/s), so a verdict is
	// never read as more than it is.
	Proxy string `yaml:"proxy"`
	// Extrapolated says how a measured figure is carried to the claim's
	// scale (RSS per connection times two million); the verdict is marked
	// "(extrapolated)".
	Extrapolated string `yaml:"extrapolated"`
	// NotMeasured says why no scenario measures the claim: its verdict is
	// then "not measured" whatever the run.
	NotMeasured string `yaml:"not_measured"`
	// Scenario is the one scenario whose runs measure the claim (compute);
	// empty means the JSON API scenarios (jsonAPIScenarios). On any other
	// run the claim is not measured.
	Scenario string `yaml:"scenario"`

	Figure string   `yaml:"figure"`
	Target string   `yaml:"target"`
	Ratio  []string `yaml:"ratio"`
	Order  []string `yaml:"order"`
	// Similar: the figure of these targets (the ones measured, at least
	// MinTargets of them) within Factor of each other: largest over
	// smallest at most Factor.
	Similar    []string `yaml:"similar"`
	Factor     float64  `yaml:"factor"`
	MinTargets int      `yaml:"min_targets"`
	// DatabaseBound: the rule is judged only when, at each target's peak,
	// the scenario's database was the bottleneck (its CPU at least
	// boundShare of its budget, the target's below that).
	DatabaseBound bool `yaml:"database_bound"`

	// Near: within ±Tolerance (relative) of this value.
	Near      *float64 `yaml:"near"`
	Tolerance float64  `yaml:"tolerance"`
	// Within: [lo, hi], either side may be ~ (open).
	Within []*float64 `yaml:"within"`
	// Gap: for Order, each neighbour's figure over the next one's within
	// [lo, hi].
	Gap []*float64 `yaml:"gap"`
	// VCPUs is the budget of the one instance an absolute figure is about
	// (peak req/s, memory: see perInstance). Such a figure is judged only
	// on a target measured at that budget: a third of one core with one
	// worker is not an eighth of 8 cores with 8 workers.
	VCPUs float64 `yaml:"vcpus"`
}

// jsonAPIScenarios measure the claims that name no scenario: the article's
// table is a JSON API's, which api (its request mix) and json (the
// TechEmpower test alone) both are.
var jsonAPIScenarios = []string{"api", "json"}

// measuredBy says whether a run of scenario measures the claim. A release
// size is the build's, whatever the scenario; a run that does not say its
// scenario is taken to measure what it was judged on before scenarios had
// claims of their own.
func (cl *Claim) measuredBy(scenario string) bool {
	switch {
	case cl.Figure == results.FigReleaseMB && cl.Scenario == "", scenario == "":
		return true
	case cl.Scenario != "":
		return scenario == cl.Scenario
	}
	return slices.Contains(jsonAPIScenarios, scenario)
}

// perInstance says whether fig is an absolute figure of one instance,
// which changes with the budget in ways no division undoes (worker counts,
// memory, scaling), unlike a latency or CPU % at a load per vCPU.
func perInstance(fig string) bool {
	return fig == results.FigPeakRPS || strings.HasSuffix(fig, "_mb") && fig != results.FigReleaseMB
}

// claimFigures are the figures a claim may be about. Memory is the fixed
// run's alone: rss_peak_mb spans the warm-up and the overload steps of the
// peak search, a load no published memory figure was measured at.
var claimFigures = []string{results.FigMaxConnections, results.FigRSSPerConnKB, results.FigP99AtMaxMS, results.FigPeakRPS, results.FigP50, results.FigP95, results.FigP99, results.FigCPUPct,
	results.FigRSSMeanMB, results.FigRSSFixedMeanMB, results.FigRSSFixedPeakMB, results.FigPSSFixedMeanMB,
	results.FigReleaseMB, results.FigP999, results.FigMax, results.FigP999OverP50,
	results.FigGCPauseP99, results.FigGCPauseMax, results.FigGCLargestProcGC}

// LoadClaims reads and checks a claims file.
func LoadClaims(path string) (*Claims, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	c, err := ParseClaims(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseClaims decodes a claims file, refusing unknown keys, so a typo in a
// rule fails loudly instead of silently judging nothing.
func ParseClaims(r io.Reader) (*Claims, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c Claims
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if c.Tolerance == 0 {
		c.Tolerance = 0.3
	}
	return &c, c.validate()
}

func (c *Claims) validate() error {
	seen := map[string]bool{}
	var errs []error
	for i := range c.Claims {
		cl := &c.Claims[i]
		if cl.ID == "" {
			errs = append(errs, fmt.Errorf("claims[%d]: id must be set", i))
			continue
		}
		if seen[cl.ID] {
			errs = append(errs, fmt.Errorf("claim %s: duplicate id", cl.ID))
		}
		seen[cl.ID] = true
		if err := cl.validate(c); err != nil {
			errs = append(errs, fmt.Errorf("claim %s: %w", cl.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (cl *Claim) validate(c *Claims) error {
	if _, ok := c.Sources[cl.Source]; !ok {
		return fmt.Errorf("source %q is not in sources", cl.Source)
	}
	if cl.Says == "" {
		return errors.New("says must state the claim")
	}
	if cl.NotMeasured != "" {
		return nil
	}
	if cl.Figure == results.FigRSSPeakMB {
		return fmt.Errorf("figure %s is the whole run's peak, warm-up and overload steps included: judge memory on the fixed run's %s, %s or %s",
			cl.Figure, results.FigPSSFixedMeanMB, results.FigRSSFixedMeanMB, results.FigRSSFixedPeakMB)
	}
	if !slices.Contains(claimFigures, cl.Figure) {
		return fmt.Errorf("figure %q: want one of %v", cl.Figure, claimFigures)
	}
	if err := cl.validateBudget(); err != nil {
		return err
	}
	subjects := 0
	for _, set := range []bool{cl.Target != "", len(cl.Ratio) > 0, len(cl.Order) > 0, len(cl.Similar) > 0} {
		if set {
			subjects++
		}
	}
	if subjects != 1 {
		return errors.New("set exactly one of target, ratio, order, similar")
	}
	if cl.DatabaseBound && cl.Scenario == "" {
		return errors.New("database_bound needs the scenario with the database (scenario:)")
	}
	if len(cl.Similar) > 0 {
		return cl.validateSimilar()
	}
	if cl.Factor != 0 || cl.MinTargets != 0 {
		return errors.New("factor and min_targets apply to similar only")
	}
	switch {
	case len(cl.Ratio) > 0 && len(cl.Ratio) != 2:
		return errors.New("ratio needs [numerator, denominator]")
	case len(cl.Order) == 1:
		return errors.New("order needs at least two targets")
	}
	if len(cl.Order) > 0 {
		if cl.Near != nil || cl.Within != nil {
			return errors.New("order takes gap, not near or within")
		}
		if cl.Gap != nil {
			return checkRange("gap", cl.Gap)
		}
		return nil
	}
	if cl.Gap != nil {
		return errors.New("gap applies to order only")
	}
	if (cl.Near != nil) == (cl.Within != nil) {
		return errors.New("set exactly one of near, within")
	}
	if cl.Within != nil {
		return checkRange("within", cl.Within)
	}
	if cl.Tolerance < 0 || cl.Tolerance >= 1 {
		return fmt.Errorf("tolerance %g: want a fraction in [0, 1)", cl.Tolerance)
	}
	return nil
}

func (cl *Claim) validateSimilar() error {
	switch {
	case len(cl.Similar) < 2:
		return errors.New("similar needs at least two targets")
	case cl.Factor <= 1:
		return fmt.Errorf("factor %g: want the largest over the smallest figure, > 1", cl.Factor)
	case cl.MinTargets < 0 || cl.MinTargets > len(cl.Similar):
		return fmt.Errorf("min_targets %d: want 2..%d", cl.MinTargets, len(cl.Similar))
	case cl.Near != nil || cl.Within != nil || cl.Gap != nil:
		return errors.New("similar takes factor, not near, within or gap")
	}
	if cl.MinTargets == 0 {
		cl.MinTargets = len(cl.Similar)
	}
	return nil
}

// validateBudget: a claim about one instance's absolute figure must say
// the budget it is about; every other claim is judged at the run's budget
// and must not pretend otherwise.
func (cl *Claim) validateBudget() error {
	switch {
	case cl.VCPUs < 0:
		return fmt.Errorf("vcpus %g: want a budget > 0", cl.VCPUs)
	case cl.Target != "" && perInstance(cl.Figure) && cl.VCPUs == 0:
		return fmt.Errorf("%s of one target is an absolute figure of one instance: set vcpus, the budget the claim is about", cl.Figure)
	case cl.VCPUs > 0 && !perInstance(cl.Figure):
		return errors.New("vcpus applies to absolute figures (peak_rps, memory) only: p50–p99 and CPU % are measured at the article's load per vCPU")
	case cl.VCPUs > 0 && cl.Target == "":
		return errors.New("vcpus applies to a target's figure only: a ratio or an order compares targets measured alike")
	}
	return nil
}

func checkRange(name string, r []*float64) error {
	if len(r) != 2 || r[0] == nil && r[1] == nil {
		return fmt.Errorf("%s needs [lo, hi] with at least one side set (~ leaves a side open)", name)
	}
	if r[0] != nil && r[1] != nil && *r[0] > *r[1] {
		return fmt.Errorf("%s [%g, %g]: lo > hi", name, *r[0], *r[1])
	}
	return nil
}
