package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/benchharness/harness/harness/results"
)

// latencyPoint is one offered rate of a target's peak search: every
// repetition's corrected p50/p95/p99 at that rate.
type latencyPoint struct {
	rate   float64
	pct    [3][]float64
	failed bool // some repetition failed the step
}

func latencyPoints(t results.Target) []latencyPoint {
	byRate := map[float64]*latencyPoint{}
	for _, r := range t.Repetitions() {
		if r.Peak == nil {
			continue
		}
		for _, s := range r.Peak.Steps {
			lp := byRate[s.Rate]
			if lp == nil {
				lp = &latencyPoint{rate: s.Rate}
				byRate[s.Rate] = lp
			}
			l := s.Step.Corrected
			for k, v := range []float64{l.P50, l.P95, l.P99} {
				lp.pct[k] = append(lp.pct[k], max(v, 0.001))
			}
			lp.failed = lp.failed || !s.Verdict.Pass
		}
	}
	var out []latencyPoint
	for _, lp := range byRate {
		out = append(out, *lp)
	}
	slices.SortFunc(out, func(a, b latencyPoint) int { return int(math.Copysign(1, a.rate-b.rate)) })
	return out
}

// errPoints are medians with min–max error bars, for plotter.YErrorBars.
type errPoints []struct{ x, y, lo, hi float64 }

func (e errPoints) Len() int                    { return len(e) }
func (e errPoints) XY(i int) (float64, float64) { return e[i].x, e[i].y }
func (e errPoints) YError(i int) (float64, float64) {
	return e[i].y - e[i].lo, e[i].hi - e[i].y
}

func latencyChart(run *results.Run, cols map[string]color.RGBA) (Chart, func(draw.Canvas)) {
	title := "Latency against offered rate (peak-search steps, corrected for coordinated omission)"
	c := Chart{Name: "latency", Title: title,
		About: "The p50, p95 and p99 of every peak-search step against its offered rate (median and min–max of the steps at one rate: repetitions, or a ramp step and its confirmation); crosses mark steps that failed the criteria"}
	slo := 0.0
	if p := run.Manifest.Profile; p != nil {
		slo = float64(p.Search.SLOP95.D().Microseconds()) / 1000
	}
	return c, func(dc draw.Canvas) {
		body := headed(dc, title, run)

		names := []string{"p50", "p95", "p99"}
		plots := make([]*plot.Plot, 3)
		xmin, xmax := math.Inf(1), 0.0
		anyRepeat, anyFailed := false, false
		for k := range plots {
			p := newPlot()
			p.Title.Text = names[k]
			p.X.Label.Text = "offered req/s"
			p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
			p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
			p.Y.Label.Text = "ms from intended send time"
			p.Add(plotter.NewGrid())
			plots[k] = p
		}
		for _, t := range run.Targets {
			if t.Status != results.StatusOK {
				continue
			}
			pts := latencyPoints(t)
			if len(pts) == 0 {
				continue
			}
			col := cols[t.Name]
			for k, p := range plots {
				var line plotter.XYs
				var errs errPoints
				var failed plotter.XYs
				for _, lp := range pts {
					s := results.NewSpread(lp.pct[k])
					line = append(line, plotter.XY{X: lp.rate, Y: s.Median})
					if s.N > 1 {
						errs = append(errs, struct{ x, y, lo, hi float64 }{lp.rate, s.Median, s.Min, s.Max})
					}
					if lp.failed {
						failed = append(failed, plotter.XY{X: lp.rate, Y: s.Median})
					}
					xmin, xmax = min(xmin, lp.rate), max(xmax, lp.rate)
				}
				l, sc, _ := plotter.NewLinePoints(line)
				l.Color, l.Width = col, vg.Points(1.8)
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
				p.Add(l, sc)
				if len(errs) > 0 {
					eb, _ := plotter.NewYErrorBars(errs)
					eb.Color = col
					p.Add(eb)
					anyRepeat = true
				}
				if len(failed) > 0 {
					fs, _ := plotter.NewScatter(failed)
					fs.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
					p.Add(fs)
					anyFailed = true
				}
				if k == 0 {
					p.Legend.Add(t.Name, l, sc)
				}
			}
		}
		if slo > 0 && xmax > 0 {
			sl, _ := plotter.NewLine(plotter.XYs{{X: xmin, Y: slo}, {X: xmax, Y: slo}})
			sl.Color, sl.Dashes = color.RGBA{0x99, 0x00, 0x00, 0xFF}, []vg.Length{vg.Points(5), vg.Points(3)}
			plots[1].Add(sl)
			plots[1].Legend.Add(fmt.Sprintf("SLO p95 %s ms", fmtNum(slo)), sl)
		}
		if anyFailed {
			fs, _ := plotter.NewScatter(plotter.XYs{{X: 1, Y: 1}})
			fs.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
			plots[0].Legend.Add("step failed", fs)
		}
		if anyRepeat {
			plots[2].Legend.Add("bars: min–max of steps at one rate", swatch{whisker: true})
		}
		if xmax == 0 {
			// Nothing measured: keep log axes valid and say so.
			for _, p := range plots {
				p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 100, 10000, 0.1, 100
			}
			plots[0].Title.Text = "p50 (no target was measured)"
		}
		for _, p := range plots {
			p.Legend.Top, p.Legend.Left = true, true
		}
		tiles := draw.Tiles{Rows: 1, Cols: 3, PadX: vg.Points(12), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadBottom: vg.Points(4)}
		cvs := plot.Align([][]*plot.Plot{plots}, tiles, body)
		for k, p := range plots {
			p.Draw(cvs[0][k])
		}
	}
}

// headed draws a multi-panel chart's title and the run's subtitle across
// the top of dc and returns the canvas below them, for the panels.
func headed(dc draw.Canvas, title string, run *results.Run) draw.Canvas {
	style := draw.TextStyle{Color: color.Black, Font: sans(13), XAlign: draw.XCenter,
		YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	head := title + "\n" + subtitle(run)
	dc.FillText(style, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(6)}, head)
	return draw.Crop(dc, 0, 0, 0, -(style.Height(head) + vg.Points(14)))
}

// logTicks labels 1, 2 and 5 of each decade, so a log axis spanning a
// decade or two still has readable numbers.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := math.Pow10(int(math.Floor(math.Log10(lo)))); d <= hi; d *= 10 {
		for i := 1; i < 10; i++ {
			v := d * float64(i)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || i == 2 || i == 5 {
				t.Label = shortNum(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
