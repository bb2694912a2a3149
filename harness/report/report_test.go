package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/results"
)

func TestGenerateWritesReportFromResultsJSONAlone(t *testing.T) {
	for _, fixture := range []string{"repeat3", "single"} {
		t.Run(fixture, func(t *testing.T) {
			dir := t.TempDir()
			b, err := os.ReadFile(filepath.Join(fixtureDir, fixture, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			claims, err := LoadClaims(filepath.Join("..", "..", "scenarios", "claims", "article.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			g, err := Generate(dir, claims)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Verdicts) != len(claims.Claims) {
				t.Errorf("%d verdicts for %d claims", len(g.Verdicts), len(claims.Claims))
			}
			rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
			md := string(rep)
			for _, want := range []string{"## How this run was made", "Measured on AMD EPYC 7B13 64-Core Processor with 2 cores",
				"Profile `quick` with scenario `api`", "## Figures", "## Claims", "hold,", "## Charts", "| `rust-beats-go` |",
				"measured by proxy: peak req/s per vCPU of the JSON API (axum over chi), not raw compute", "| axum | ok | 0.33 |", "| ≥ 1",
				"| `axum-peak` | Axum peaks at 89K req/s on 8 vCPU | not measured at this budget (0.33 vCPU; the claim is about 8) | ≥ 1"} {
				if !strings.Contains(md, want) {
					t.Errorf("report.md lacks %q", want)
				}
			}
			// Every image link is relative and resolves.
			links := regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(md, -1)
			if len(links) != len(g.Charts) {
				t.Errorf("%d image links for %d charts", len(links), len(g.Charts))
			}
			for _, l := range links {
				if filepath.IsAbs(l[1]) {
					t.Errorf("absolute image link %s", l[1])
				}
				if _, err := os.Stat(filepath.Join(dir, l[1])); err != nil {
					t.Errorf("image link %s: %v", l[1], err)
				}
			}
			// summary.md is exactly what the bench writes.
			run, _ := results.Read(dir)
			var want bytes.Buffer
			_ = results.WriteMarkdown(&want, run)
			if got, _ := os.ReadFile(filepath.Join(dir, "summary.md")); !bytes.Equal(got, want.Bytes()) {
				t.Error("summary.md differs from results.WriteMarkdown")
			}
		})
	}
}

// report.md's figures mark an unpinned target as summary.md does.
func TestReportMarksAnUnpinnedTarget(t *testing.T) {
	run := loadFixture(t, "single")
	for i := range run.Targets {
		run.Targets[i].Unpinned = run.Targets[i].Name == "chi"
	}
	var b bytes.Buffer
	if err := WriteReport(&b, run, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if md := b.String(); !strings.Contains(md, "| chi | ok, unpinned | 0.33 |") || !strings.Contains(md, "| axum | ok | 0.33 |") {
		t.Errorf("report.md figures do not mark chi alone as unpinned:\n%s", md)
	}
}
