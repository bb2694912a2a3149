package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/scenario"
)

// barSpec is one measured-vs-article bar chart.
type barSpec struct {
	name, title, ylabel, about string
	fig                        string
	article                    func(scenario.ReferenceRow) float64
	// perVCPU divides both sides by their vCPUs (throughput on different
	// budgets).
	perVCPU bool
}

func barSpecs(run *results.Run) []barSpec {
	refV := 0.0
	if run.Manifest.Reference != nil {
		refV = run.Manifest.Reference.VCPUs
	}
	norm := false
	for _, t := range run.Targets {
		norm = norm || (refV > 0 && t.VCPUs > 0 && t.VCPUs != refV)
	}
	peak := barSpec{name: "peak_rps", title: "Peak req/s: measured vs article", ylabel: "peak req/s",
		about: "The highest rate each target sustained within the SLO, beside the article's", fig: results.FigPeakRPS,
		article: func(r scenario.ReferenceRow) float64 { return r.PeakRPS }}
	if norm {
		peak.title = "Peak req/s per vCPU: measured vs article"
		peak.ylabel = fmt.Sprintf("req/s per vCPU (normalised: measured ÷ %s, article ÷ %s)", fmtNum(run.Manifest.VCPUs), fmtNum(refV))
		peak.about = "The highest rate each target sustained within the SLO, per vCPU, since the run's budget differs from the article's " + fmtNum(refV) + " vCPUs"
		peak.perVCPU = true
	}
	fixed := "at the fixed rate"
	if p := run.Manifest.Profile; p != nil {
		fixed = fmt.Sprintf("at the fixed rate (%s req/s per vCPU)", fmtNum(p.FixedRatePerVCPU))
		if run.Manifest.Reference != nil {
			fixed = fmt.Sprintf("at the fixed rate (%s req/s per vCPU, as the article's)", fmtNum(p.FixedRatePerVCPU))
		}
	}
	return []barSpec{
		peak,
		{name: "p95_ms", title: "p95 latency " + fixed, ylabel: "p95 ms, from intended send time (not normalised: same load per vCPU)",
			about: "The p95 latency of the fixed-rate run, from each request's intended send time", fig: results.FigP95, article: func(r scenario.ReferenceRow) float64 { return r.P95MS }},
		{name: "pss_fixed_mean_mb", title: "Memory " + fixed, ylabel: "PSS of the process tree, MiB (not normalised)",
			about: "Each target's mean memory during the fixed-rate run, the article's condition: PSS summed over its process tree, so pages its forked workers share count once",
			fig:   results.FigPSSFixedMeanMB, article: func(r scenario.ReferenceRow) float64 { return r.RSSMB }},
		{name: "cpu_pct", title: "CPU " + fixed, ylabel: "CPU, % of the target's vCPU budget (not normalised)",
			about: "Each target's CPU during the fixed-rate run, as % of its vCPU budget", fig: results.FigCPUPct, article: func(r scenario.ReferenceRow) float64 { return r.CPUPct }},
	}
}

// barGroup is one target's pair of bars.
type barGroup struct {
	name    string
	col     color.RGBA
	m       Measured
	status  string // shown instead of a missing measured bar
	article float64
}

func barChart(run *results.Run, spec barSpec, cols map[string]color.RGBA) (Chart, func(draw.Canvas)) {
	refV := 1.0
	if r := run.Manifest.Reference; r != nil && spec.perVCPU {
		refV = r.VCPUs
	}
	var groups []barGroup
	var names []string
	repeated, loaderBound := false, false
	for _, t := range run.Targets {
		scale := 1.0
		if spec.perVCPU {
			scale = perVCPU(run, t.Name)
		}
		g := barGroup{name: t.Name, col: cols[t.Name], m: measure(run, t.Name, spec.fig, scale)}
		if !g.m.OK {
			g.status = t.Status
			if t.Status == results.StatusOK {
				g.status = "no figure"
			}
		}
		if t.Article != nil {
			g.article = spec.article(*t.Article) / refV
		}
		repeated = repeated || g.m.Spread.N > 1
		loaderBound = loaderBound || g.m.LowerBound
		groups = append(groups, g)
		names = append(names, t.Name)
	}
	c := Chart{Name: spec.name, Title: spec.title, About: spec.about}
	return c, func(dc draw.Canvas) {
		p := newPlot()
		p.Title.Text = spec.title + "\n" + subtitle(run)
		p.Y.Label.Text = spec.ylabel
		p.Y.Min = 0
		p.Y.Tick.Marker = kTicks{}
		p.X.Tick.Label.Font.Size = vg.Points(12)
		grid := plotter.NewGrid()
		grid.Vertical.Color = nil
		p.Add(grid)
		p.Add(&pairBars{groups: groups})
		p.NominalX(names...)
		p.Legend.Top = true
		grey := color.RGBA{0x55, 0x55, 0x55, 0xFF}
		measured := "measured"
		if repeated {
			measured = "measured (median)"
		}
		p.Legend.Add(measured, swatch{fill: grey, line: grey})
		if loaderBound {
			p.Legend.Add("measured, loader-bound: a lower bound (≥)", swatch{fill: tint(grey, 0.6), line: grey, hatch: grey})
		}
		p.Legend.Add("article", swatch{fill: tint(grey, 0.8), line: grey, dashed: true})
		if repeated {
			p.Legend.Add("whiskers: min–max over repetitions", swatch{whisker: true})
		}
		p.Draw(dc)
	}
}

// pairBars draws each target's measured bar beside the article's, both in
// the target's colour: measured solid (hatched and lighter when it is a
// lower bound), article pale with a dashed outline.
type pairBars struct{ groups []barGroup }

const barW = 0.36 // in category units

func (b *pairBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	top := 0.0
	for _, g := range b.groups {
		if g.m.OK {
			top = max(top, g.m.Value, g.m.Spread.Max)
		}
		top = max(top, g.article)
	}
	if top == 0 {
		top = 1
	}
	// Headroom for the value labels and the legend.
	return -0.6, float64(len(b.groups)) - 0.4, 0, top * 1.45
}

func (b *pairBars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	label := draw.TextStyle{Color: color.Black, Font: sans(10), XAlign: draw.XCenter,
		YAlign: draw.YBottom, Handler: plot.DefaultTextHandler}
	note := label
	note.Color = color.RGBA{0x66, 0x66, 0x66, 0xFF}
	note.Rotation = math.Pi / 2
	note.XAlign, note.YAlign = draw.XLeft, draw.YCenter
	for i, g := range b.groups {
		xm, xa := float64(i)-0.2, float64(i)+0.2
		x0, x1 := trX(xm-barW/2), trX(xm+barW/2)
		if g.m.OK {
			top := g.m.Value
			r := vg.Rectangle{Min: vg.Point{X: x0, Y: trY(0)}, Max: vg.Point{X: x1, Y: trY(g.m.Value)}}
			sw := swatch{fill: g.col, line: g.col}
			text := barLabel(g.m.Value)
			if g.m.LowerBound {
				sw = swatch{fill: tint(g.col, 0.6), line: g.col, hatch: g.col}
				text = "≥ " + text
			}
			sw.draw(&c, r)
			at, sty := vg.Point{X: trX(xm), Y: trY(top) + vg.Points(3)}, label
			if s := g.m.Spread; s.N > 1 {
				whisker(&c, trX(xm), trY(s.Min), trY(s.Max))
				// Beside the whisker, at the bar's top: above it the label
				// would read as the whisker's top, over it hide it.
				at.X += vg.Points(6)
				sty.XAlign = draw.XLeft
			}
			c.FillText(sty, at, text)
		} else {
			c.FillText(note, vg.Point{X: trX(xm), Y: trY(0) + vg.Points(4)}, g.status)
		}
		if g.article > 0 {
			r := vg.Rectangle{Min: vg.Point{X: trX(xa - barW/2), Y: trY(0)}, Max: vg.Point{X: trX(xa + barW/2), Y: trY(g.article)}}
			swatch{fill: tint(g.col, 0.75), line: g.col, dashed: true}.draw(&c, r)
			c.FillText(label, vg.Point{X: trX(xa), Y: trY(g.article) + vg.Points(3)}, barLabel(g.article))
		} else {
			c.FillText(note, vg.Point{X: trX(xa), Y: trY(0) + vg.Points(4)}, "no article figure")
		}
	}
}

// swatch is a filled rectangle style; also a legend thumbnail.
type swatch struct {
	fill, line color.Color
	// hatch, when set, draws diagonal lines in that colour.
	hatch   color.Color
	dashed  bool
	whisker bool
}

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	r.Min.Y += vg.Points(1.5)
	r.Max.Y -= vg.Points(1.5)
	if s.whisker {
		whisker(c, (r.Min.X+r.Max.X)/2, r.Min.Y, r.Max.Y)
		return
	}
	s.draw(c, r)
}

func (s swatch) draw(c *draw.Canvas, r vg.Rectangle) {
	pts := []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min}
	if s.fill != nil {
		c.FillPolygon(s.fill, pts)
	}
	if s.hatch != nil {
		hatch(c, r, s.hatch)
	}
	if s.line != nil {
		ls := draw.LineStyle{Color: s.line, Width: vg.Points(1.2)}
		if s.dashed {
			ls.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		c.StrokeLines(ls, pts)
	}
}

// hatch fills r with 45° lines, clipped to r by hand: a canvas has no clip.
func hatch(c *draw.Canvas, r vg.Rectangle, col color.Color) {
	h := r.Max.Y - r.Min.Y
	if h < vg.Points(2) {
		return
	}
	ls := draw.LineStyle{Color: col, Width: vg.Points(1)}
	step := vg.Points(6)
	for s := r.Min.X - h; s < r.Max.X; s += step {
		// The line (s + t·h, Min.Y + t·h), t in [0, 1], inside [Min.X, Max.X].
		tlo := max(0, float64((r.Min.X-s)/h))
		thi := min(1, float64((r.Max.X-s)/h))
		if tlo >= thi {
			continue
		}
		c.StrokeLine2(ls, s+vg.Length(tlo)*h, r.Min.Y+vg.Length(tlo)*h, s+vg.Length(thi)*h, r.Min.Y+vg.Length(thi)*h)
	}
}

func whisker(c *draw.Canvas, x, lo, hi vg.Length) {
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(1.2)}
	cap := vg.Points(4)
	c.StrokeLine2(ls, x, lo, x, hi)
	c.StrokeLine2(ls, x-cap, lo, x+cap, lo)
	c.StrokeLine2(ls, x-cap, hi, x+cap, hi)
}

// kTicks are plot's default ticks with thousands written as k.
type kTicks struct{}

func (kTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = shortNum(ticks[i].Value)
		}
	}
	return ticks
}

// barLabel writes a bar's value: three significant digits, thousands as k.
func barLabel(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'g', 3, 64) + "k"
	}
	return fmtNum(v)
}

// shortNum writes 20000 as 20k, 0.5 as 0.5.
func shortNum(v float64) string {
	if v >= 1000 {
		return strings.TrimSuffix(fmtNum(v/1000), ".0") + "k"
	}
	return fmtNum(v)
}
