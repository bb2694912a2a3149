package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/benchharness/harness/harness/results"
)

// spectrumX places a percentile on the HDR plot's axis: -log10(1 - p/100),
// so 90, 99, 99.9 and 99.99 are evenly spaced and the tail gets the room;
// the maximum (100) sits one decade past 99.99.
func spectrumX(p float64) float64 {
	if p >= 100 {
		return 5
	}
	return -math.Log10(1 - p/100)
}

// spectrumTicks labels the percentile axis in percentiles.
type spectrumTicks struct{}

func (spectrumTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range []struct {
		p     float64
		label string
	}{{0, "0%"}, {50, "50%"}, {90, "90%"}, {99, "99%"}, {99.9, "99.9%"}, {99.99, "99.99%"}, {100, "max"}} {
		if x := spectrumX(t.p); x >= lo && x <= hi {
			out = append(out, plot.Tick{Value: x, Label: t.label})
		}
	}
	return out
}

// hasSpectrum says whether any target's fixed run recorded a spectrum.
func hasSpectrum(run *results.Run) bool {
	for _, t := range run.Targets {
		if t.Status == results.StatusOK && t.Fixed != nil && len(t.Fixed.Step.Spectrum) > 0 {
			return true
		}
	}
	return false
}

// spectrumChart is the HDR percentile plot of the fixed-rate run: the
// latency at each percentile, one line per target, the way tails are
// compared (a GC pause shows as a line bending up at 99.9 %).
func spectrumChart(run *results.Run, cols map[string]color.RGBA) (Chart, func(draw.Canvas)) {
	title := "Latency by percentile, fixed-rate run (corrected for coordinated omission)"
	c := Chart{Name: "latency_spectrum", Title: title,
		About: "The latency of the fixed-rate run at each percentile, from the intended send time, one line per target: the percentile axis stretches the tail (90, 99, 99.9, 99.99 % evenly spaced, then the slowest request)"}
	return c, func(dc draw.Canvas) {
		p := newPlot()
		p.Title.Text = title + "\n" + subtitle(run)
		p.Title.TextStyle.Font.Size = vg.Points(11)
		p.X.Label.Text = "percentile"
		p.Y.Label.Text = "ms from intended send time"
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
		p.X.Tick.Marker = spectrumTicks{}
		p.X.Min, p.X.Max = 0, 5
		p.Add(plotter.NewGrid())
		for _, t := range run.Targets {
			if t.Status != results.StatusOK || t.Fixed == nil || len(t.Fixed.Step.Spectrum) == 0 {
				continue
			}
			var xy plotter.XYs
			for _, q := range t.Fixed.Step.Spectrum {
				xy = append(xy, plotter.XY{X: spectrumX(q.Percentile), Y: max(q.MS, 0.001)})
			}
			l, sc, _ := plotter.NewLinePoints(xy)
			l.Color, l.Width = cols[t.Name], vg.Points(1.8)
			sc.GlyphStyle = draw.GlyphStyle{Color: cols[t.Name], Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(l, sc)
			p.Legend.Add(t.Name, l, sc)
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.Draw(dc)
	}
}
