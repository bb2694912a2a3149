package report

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/load"
	"github.com/benchharness/harness/harness/peak"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

func TestChartsHaveTheirSizeInPNGAndSVG(t *testing.T) {
	for _, fixture := range []string{"repeat3", "single"} {
		t.Run(fixture, func(t *testing.T) {
			dir := t.TempDir()
			charts, err := WriteCharts(loadFixture(t, fixture), dir)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][2]int{
				"peak_rps": {BarChartWidth, BarChartHeight}, "p95_ms": {BarChartWidth, BarChartHeight},
				"pss_fixed_mean_mb": {BarChartWidth, BarChartHeight}, "cpu_pct": {BarChartWidth, BarChartHeight},
				"latency": {LatencyChartWidth, LatencyChartHeight},
			}
			if len(charts) != len(want) {
				t.Fatalf("%d charts, want %d", len(charts), len(want))
			}
			for _, c := range charts {
				size, ok := want[c.Name]
				if !ok {
					t.Fatalf("unexpected chart %s", c.Name)
				}
				b, err := os.ReadFile(filepath.Join(dir, c.Name+".png"))
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s.png: %v", c.Name, err)
				}
				if cfg.Width != size[0] || cfg.Height != size[1] {
					t.Errorf("%s.png is %dx%d px, want %dx%d", c.Name, cfg.Width, cfg.Height, size[0], size[1])
				}
				// Plain PNGs of flat bars compress well, but a chart with
				// text and bars is never tiny.
				if len(b) < 10_000 {
					t.Errorf("%s.png is only %d bytes", c.Name, len(b))
				}
				svg, err := os.ReadFile(filepath.Join(dir, c.Name+".svg"))
				if err != nil {
					t.Fatal(err)
				}
				// 100 px at 100 dpi is one inch, 72 pt.
				dims := fmt.Sprintf(`width="%gpt" height="%gpt"`, float64(size[0])*0.72, float64(size[1])*0.72)
				if !bytes.Contains(svg, []byte(dims)) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
					t.Errorf("%s.svg: want a complete SVG with %s, got %d bytes", c.Name, dims, len(svg))
				}
			}
		})
	}
}

var svgText = regexp.MustCompile(`(?s)<text[^>]*>(.*?)</text>`)

// svgTexts is every text of an SVG in drawing order: titles, axis labels,
// ticks, bar labels and legend entries.
func svgTexts(svg []byte) string {
	var lines []string
	for _, m := range svgText.FindAllSubmatch(svg, -1) {
		lines = append(lines, html.UnescapeString(string(m[1])))
	}
	return strings.Join(lines, "\n") + "\n"
}

// The golden files pin what a reader reads on each chart; regenerate after
// an intended change with: go test ./harness/report -run Golden -update
func TestChartTextsMatchGolden(t *testing.T) {
	dir := t.TempDir()
	charts, err := WriteCharts(loadFixture(t, "repeat3"), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		t.Run(c.Name, func(t *testing.T) {
			svg, err := os.ReadFile(filepath.Join(dir, c.Name+".svg"))
			if err != nil {
				t.Fatal(err)
			}
			got := svgTexts(svg)
			golden := filepath.Join("testdata", "golden", "repeat3-"+c.Name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (create with -update)", err)
			}
			if got != string(want) {
				t.Errorf("texts of %s.svg differ from %s:\n--- got\n%s--- want\n%s", c.Name, golden, got, want)
			}
		})
	}
}

func TestChartsMarkLoaderBoundPeaksAndKeepTargetColours(t *testing.T) {
	run := loadFixture(t, "repeat3")
	dir := t.TempDir()
	charts, err := WriteCharts(run, dir)
	if err != nil {
		t.Fatal(err)
	}
	peakSVG, _ := os.ReadFile(filepath.Join(dir, "peak_rps.svg"))
	texts := svgTexts(peakSVG)
	for _, want := range []string{"≥ 46k", "measured, loader-bound: a lower bound (≥)", "skipped",
		"AMD EPYC 7B13 64-Core Processor, 2 cores · profile quick", "req/s per vCPU (normalised: measured ÷ 0.33, article ÷ 8)"} {
		if !strings.Contains(texts, want) {
			t.Errorf("peak chart lacks %q:\n%s", want, texts)
		}
	}
	if strings.Contains(texts, "≥ 26k") {
		t.Error("chi's target-bound peak is marked as a lower bound")
	}
	cols := palette(run)
	for _, c := range charts {
		svg, _ := os.ReadFile(filepath.Join(dir, c.Name+".svg"))
		for _, tg := range run.Targets {
			if tg.Status != results.StatusOK {
				continue
			}
			col := cols[tg.Name]
			hex := fmt.Sprintf("#%02X%02X%02X", col.R, col.G, col.B)
			if !bytes.Contains(svg, []byte("stroke:"+hex)) && !bytes.Contains(svg, []byte("fill:"+hex)) {
				t.Errorf("%s: %s is not drawn in its colour %s", c.Name, tg.Name, hex)
			}
		}
	}
}

func TestChartsOfARunWithNothingMeasured(t *testing.T) {
	run := loadFixture(t, "single")
	for i := range run.Targets {
		run.Targets[i].Status, run.Targets[i].Reason = results.StatusFailed, "build failed"
	}
	if _, err := WriteCharts(run, t.TempDir()); err != nil {
		t.Fatalf("charts of a run where every target failed: %v", err)
	}
}

// A run interrupted before its first target (during the loader's
// calibration) has no rows at all: no chart, and no error.
func TestChartsOfARunInterruptedBeforeAnyTarget(t *testing.T) {
	run := loadFixture(t, "single")
	run.Targets = nil
	charts, err := WriteCharts(run, t.TempDir())
	if err != nil || len(charts) != 0 {
		t.Fatalf("charts of a run with no target: %d charts, err %v", len(charts), err)
	}
}

// The fixed run's latency spectrum is drawn as an HDR percentile plot, one
// line per target in its colour, on a percentile axis that stretches the
// tail; a results.json without spectra gets no such chart.
func TestSpectrumChart(t *testing.T) {
	run := loadFixture(t, "repeat3")
	dir := t.TempDir()
	charts, _ := WriteCharts(run, dir)
	for _, c := range charts {
		if c.Name == "latency_spectrum" {
			t.Fatal("a spectrum chart from a results.json that has no spectra")
		}
	}
	for i := range run.Targets {
		tg := &run.Targets[i]
		if tg.Status != results.StatusOK || tg.Fixed == nil {
			continue
		}
		f := *tg.Fixed
		for k, p := range load.SpectrumPercentiles {
			f.Step.Spectrum = append(f.Step.Spectrum, load.Quantile{Percentile: p, MS: 0.2 * float64(k+1)})
		}
		tg.Fixed = &f
	}
	charts, err := WriteCharts(run, dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range charts {
		found = found || c.Name == "latency_spectrum"
	}
	if !found {
		t.Fatal("no latency_spectrum chart")
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "latency_spectrum.svg"))
	texts := svgTexts(svg)
	for _, want := range []string{"99.9%", "99.99%", "max", "percentile"} {
		if !strings.Contains(texts, want) {
			t.Errorf("spectrum chart lacks %q:\n%s", want, texts)
		}
	}
	cols := palette(run)
	for _, tg := range run.Targets {
		if tg.Status != results.StatusOK {
			continue
		}
		col := cols[tg.Name]
		if hex := fmt.Sprintf("#%02X%02X%02X", col.R, col.G, col.B); !bytes.Contains(svg, []byte("stroke:"+hex)) {
			t.Errorf("%s is not drawn in its colour %s", tg.Name, hex)
		}
	}
}

// A connection-scale run has the connections chart and none of the peak
// search's, and its summary.md has the hold tables.
func TestConnectionsChartAndTables(t *testing.T) {
	step := func(n int, rssMB, p99 float64, pass bool) peak.HoldStep {
		s := peak.HoldStep{Connections: n, Held: n, Pass: pass,
			Probe: &peak.Observation{Step: load.Step{Success: 1, Corrected: load.Latency{P50: p99 / 3, P99: p99}}, Target: &sample.Stats{RSSMeanMB: rssMB}}}
		if !pass {
			s.Held, s.Why, s.Limit = n-7, "held 7 fewer", peak.BoundTarget
		}
		return s
	}
	res := peak.SummariseHold([]peak.HoldStep{step(1000, 30, 1, true), step(2000, 40, 2, true), step(5000, 70, 90, false)})
	run := &results.Run{Manifest: &results.Manifest{RunID: "h", VCPUs: 1.0 / 3, Profile: &scenario.Profile{Name: "quick", FixedRatePerVCPU: 300},
		Scenario: &scenario.Scenario{Name: "connections", Hold: &scenario.Hold{Steps: []int{1000, 2000, 5000}, Path: "/json",
			Every: scenario.Duration(5 * time.Second), Measure: scenario.Duration(10 * time.Second), SLOP99: scenario.Duration(50 * time.Millisecond)}}},
		Targets: []results.Target{{Name: "chi", Status: results.StatusOK, VCPUs: 1.0 / 3, Hold: &res}, {Name: "phoenix", Status: results.StatusSkipped, Reason: "no deps"}}}
	charts, err := WriteCharts(run, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 1 || charts[0].Name != "connections" {
		t.Fatalf("charts %+v, want the connections chart alone", charts)
	}
	var b strings.Builder
	if err := results.WriteMarkdown(&b, run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| chi | ok | 2000 | target | 10.24 | 2.00 |", "| chi | 5000 | 4993 | 0 / 0 | 30.00 / 90.00", "**target**: held 7 fewer"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, b.String())
		}
	}
	claims, err := LoadClaims(filepath.Join("..", "..", "scenarios", "claims", "article.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rep strings.Builder
	if err := WriteReport(&rep, run, charts, claims, Judge(run, claims)); err != nil {
		t.Fatal(err)
	}
	if want := "| chi | ok | 0.33 | 2000 | target | 10.2 | 2 |"; !strings.Contains(rep.String(), want) {
		t.Errorf("report.md lacks %q:\n%s", want, rep.String())
	}
}
