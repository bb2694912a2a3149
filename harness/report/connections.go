package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/benchharness/harness/harness/results"
)

// isHold says whether the run is a connection-scale run (scenario hold:),
// whose chart is connectionsChart, not the peak and latency charts.
func isHold(run *results.Run) bool {
	return run.Manifest != nil && run.Manifest.Scenario != nil && run.Manifest.Scenario.Hold != nil
}

// connectionsChart is a connection-scale run on two panels: the target's
// RSS and the probe's p99 against the connections it held, one line per
// target; a cross marks the step that failed.
func connectionsChart(run *results.Run, cols map[string]color.RGBA) (Chart, func(draw.Canvas)) {
	title := "Memory and probe latency against connections held"
	c := Chart{Name: "connections", Title: title,
		About: "Each step's held connections against the target's mean RSS (left) and the paced probe's p99 from the intended send time (right), one line per target; a cross marks the step that failed (connections not held, errors, or p99 over the SLO)"}
	slo := 0.0
	if h := run.Manifest.Scenario.Hold; h != nil {
		slo = float64(h.SLOP99.D().Microseconds()) / 1000
	}
	return c, func(dc draw.Canvas) {
		body := headed(dc, title, run)
		rss, p99 := newPlot(), newPlot()
		rss.Title.Text, rss.Y.Label.Text = "target RSS", "MiB (mean over the probe)"
		p99.Title.Text, p99.Y.Label.Text = "probe p99", "ms from intended send time"
		p99.Y.Scale, p99.Y.Tick.Marker = plot.LogScale{}, logTicks{}
		for _, p := range []*plot.Plot{rss, p99} {
			p.X.Label.Text = "connections held"
			p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
			p.Add(plotter.NewGrid())
			p.Legend.Top, p.Legend.Left = true, true
		}
		xmax := 0.0
		for _, t := range run.Targets {
			if t.Status != results.StatusOK || t.Hold == nil {
				continue
			}
			var mem, lat, failed plotter.XYs
			for _, s := range t.Hold.Steps {
				if s.Probe == nil || s.Held <= 0 {
					continue
				}
				x := float64(s.Held)
				xmax = max(xmax, x)
				if s.Probe.Target != nil {
					mem = append(mem, plotter.XY{X: x, Y: s.Probe.Target.RSSMeanMB})
				}
				lat = append(lat, plotter.XY{X: x, Y: max(s.Probe.Step.Corrected.P99, 0.001)})
				if !s.Pass {
					failed = append(failed, plotter.XY{X: x, Y: max(s.Probe.Step.Corrected.P99, 0.001)})
				}
			}
			for _, d := range []struct {
				p  *plot.Plot
				xy plotter.XYs
			}{{rss, mem}, {p99, lat}} {
				if len(d.xy) == 0 {
					continue
				}
				l, sc, _ := plotter.NewLinePoints(d.xy)
				l.Color, l.Width = cols[t.Name], vg.Points(1.8)
				sc.GlyphStyle = draw.GlyphStyle{Color: cols[t.Name], Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
				d.p.Add(l, sc)
				if d.p == rss {
					d.p.Legend.Add(t.Name, l, sc)
				}
			}
			if len(failed) > 0 {
				fs, _ := plotter.NewScatter(failed)
				fs.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
				p99.Add(fs)
			}
		}
		if xmax == 0 {
			for _, p := range []*plot.Plot{rss, p99} {
				p.X.Min, p.X.Max = 100, 10000
			}
			rss.Y.Min, rss.Y.Max, p99.Y.Min, p99.Y.Max = 0, 1, 0.1, 100
			rss.Title.Text += " (no target was measured)"
		} else if slo > 0 {
			sl, _ := plotter.NewLine(plotter.XYs{{X: 1000, Y: slo}, {X: xmax, Y: slo}})
			sl.Color, sl.Dashes = color.RGBA{0x99, 0x00, 0x00, 0xFF}, []vg.Length{vg.Points(5), vg.Points(3)}
			p99.Add(sl)
			p99.Legend.Add(fmt.Sprintf("SLO p99 %s ms", fmtNum(slo)), sl)
		}
		tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(16), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadBottom: vg.Points(4)}
		cvs := plot.Align([][]*plot.Plot{{rss, p99}}, tiles, body)
		rss.Draw(cvs[0][0])
		p99.Draw(cvs[0][1])
	}
}
