package scenario

import (
	"fmt"
	"path/filepath"
	"slices"
)

// ReferenceRow is one published figure set, e.g. the article's Fastify line.
type ReferenceRow struct {
	Target  string  `yaml:"target" json:"target"`
	PeakRPS float64 `yaml:"peak_rps" json:"peak_rps"`
	P95MS   float64 `yaml:"p95_ms" json:"p95_ms"`
	RSSMB   float64 `yaml:"rss_mb" json:"rss_mb"`
	CPUPct  float64 `yaml:"cpu_pct" json:"cpu_pct"`
}

// Reference is a published table: where it is from and the conditions it
// was measured under, so figures can be normalised per vCPU.
type Reference struct {
	Name      string  `yaml:"name" json:"name"`
	Source    string  `yaml:"source" json:"source"`
	Quote     string  `yaml:"quote" json:"quote"`
	VCPUs     float64 `yaml:"vcpus" json:"vcpus"`
	FixedRate float64 `yaml:"fixed_rate" json:"fixed_rate"`
	// Scenarios are the scenarios whose runs this table is set beside: a
	// JSON API's figures are no yardstick for a compute run.
	Scenarios []string       `yaml:"scenarios" json:"scenarios"`
	Rows      []ReferenceRow `yaml:"rows" json:"rows"`
}

// Covers says whether the table is set beside runs of scenario.
func (r *Reference) Covers(scenario string) bool { return slices.Contains(r.Scenarios, scenario) }

// LoadReference reads scenarios/reference/<name>.yaml below dir.
func LoadReference(dir, name string) (*Reference, error) {
	path := filepath.Join(dir, "reference", name+".yaml")
	var r Reference
	if err := decodeFile(path, &r); err != nil {
		return nil, err
	}
	if r.VCPUs <= 0 {
		return nil, &FieldError{path, "vcpus", "must be positive"}
	}
	for i, row := range r.Rows {
		if row.Target == "" {
			return nil, &FieldError{path, fmt.Sprintf("rows[%d].target", i), "must be set"}
		}
	}
	return &r, nil
}

// Row returns the figures published for target, if any.
func (r *Reference) Row(target string) (ReferenceRow, bool) {
	if r == nil {
		return ReferenceRow{}, false
	}
	for _, row := range r.Rows {
		if row.Target == target {
			return row, true
		}
	}
	return ReferenceRow{}, false
}
