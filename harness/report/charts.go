package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/benchharness/harness/harness/results"
)

// Chart sizes, in pixels of the PNGs at chartDPI (tests check them). The
// bar charts hold up to a handful of targets; the latency chart is three
// panels side by side.
const (
	chartDPI           = 100
	BarChartWidth      = 1100
	BarChartHeight     = 650
	LatencyChartWidth  = 1500
	LatencyChartHeight = 620
)

// Chart is one rendered chart: <dir>/<Name>.png and <dir>/<Name>.svg.
type Chart struct {
	Name string
	// Title is the chart's headline, as rendered.
	Title string
	// About says what it shows, for report.md.
	About string
}

// targetColors are fixed per target, so a target has one colour in every
// chart of every run (Okabe–Ito, close to each language's own colour).
var targetColors = map[string]color.RGBA{
	"fastify": {0x00, 0x9E, 0x73, 0xFF}, // green, Node
	"chi":     {0x00, 0x72, 0xB2, 0xFF}, // blue, Go
	"phoenix": {0x7B, 0x4E, 0xA3, 0xFF}, // purple, Elixir
	"axum":    {0xD5, 0x5E, 0x00, 0xFF}, // vermilion, Rust
	"erlang":  {0xCC, 0x33, 0x66, 0xFF}, // crimson, Erlang
}

// spareColors go to targets without a colour of their own, in run order.
var spareColors = []color.RGBA{
	{0xE6, 0x9F, 0x00, 0xFF}, {0x56, 0xB4, 0xE9, 0xFF}, {0x88, 0x88, 0x88, 0xFF}, {0xB8, 0xA4, 0x00, 0xFF}, {0x33, 0x33, 0x33, 0xFF},
}

// palette assigns every target of the run its colour.
func palette(run *results.Run) map[string]color.RGBA {
	p := map[string]color.RGBA{}
	spare := 0
	for _, t := range run.Targets {
		if c, ok := targetColors[t.Name]; ok {
			p[t.Name] = c
			continue
		}
		p[t.Name] = spareColors[spare%len(spareColors)]
		spare++
	}
	return p
}

// tint mixes c with white: f = 0 is c, 1 is white.
func tint(c color.RGBA, f float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(float64(v) + f*(255-float64(v)))) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xFF}
}

// subtitle names the machine and the profile, so a chart read on its own
// still says where its numbers come from.
func subtitle(run *results.Run) string {
	m := run.Manifest
	cpu := m.Machine.CPUModel
	if cpu == "" {
		cpu = "unknown CPU"
	}
	prof := "?"
	if m.Profile != nil {
		prof = m.Profile.Name
	}
	return fmt.Sprintf("%s, %d cores · profile %s · %s vCPU per target · run %s", cpu, m.Machine.Cores, prof, fmtNum(m.VCPUs), m.RunID)
}

// WriteCharts renders every chart of run into dir as PNG and SVG. A chart
// that cannot be drawn is left out and reported; the others are written.
func WriteCharts(run *results.Run, dir string) ([]Chart, error) {
	if len(run.Targets) == 0 {
		return nil, nil // interrupted before the first target: nothing to draw
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	cols := palette(run)
	var charts []Chart
	var errs []error
	add := func(c Chart, w, h int, render func(draw.Canvas)) {
		if err := save(dir, c.Name, w, h, render); err != nil {
			errs = append(errs, err)
			return
		}
		charts = append(charts, c)
	}
	if isHold(run) {
		c, render := connectionsChart(run, cols)
		add(c, LatencyChartWidth, LatencyChartHeight, render)
		return charts, errors.Join(errs...)
	}
	for _, spec := range barSpecs(run) {
		c, render := barChart(run, spec, cols)
		add(c, BarChartWidth, BarChartHeight, render)
	}
	c, render := latencyChart(run, cols)
	add(c, LatencyChartWidth, LatencyChartHeight, render)
	if hasSpectrum(run) { // results.json from before spectra were recorded has none
		c, render = spectrumChart(run, cols)
		add(c, BarChartWidth, BarChartHeight, render)
	}
	return charts, errors.Join(errs...)
}

// save draws one chart on a PNG and an SVG canvas of w×h pixels.
func save(dir, name string, w, h int, drawOn func(draw.Canvas)) (err error) {
	// gonum/plot panics on data it cannot draw (a log axis over zero); one
	// odd results.json must cost a chart, not the whole report.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw %s: %v", name, r)
		}
	}()
	wl, hl := vg.Length(w)*vg.Inch/chartDPI, vg.Length(h)*vg.Inch/chartDPI
	img := vgimg.NewWith(vgimg.UseWH(wl, hl), vgimg.UseDPI(chartDPI), vgimg.UseBackgroundColor(color.White))
	drawOn(draw.New(img))
	svg := vgsvg.NewWith(vgsvg.UseWH(wl, hl))
	dc := draw.New(svg)
	dc.SetColor(color.White)
	dc.Fill(rectPath(dc.Rectangle))
	drawOn(dc)
	var png, sv bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&png); err != nil {
		return fmt.Errorf("render %s.png: %w", name, err)
	}
	if _, err := svg.WriteTo(&sv); err != nil {
		return fmt.Errorf("render %s.svg: %w", name, err)
	}
	for ext, b := range map[string][]byte{".png": png.Bytes(), ".svg": sv.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name+ext), b, 0o644); err != nil {
			return fmt.Errorf("write chart: %w", err)
		}
	}
	return nil
}

func rectPath(r vg.Rectangle) vg.Path {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	return p
}

// sans is the charts' font: the sans-serif face of the fonts plot embeds,
// clearer than its serif default at small sizes.
func sans(size float64) font.Font {
	f := font.From(plot.DefaultFont, vg.Points(size))
	f.Variant = "Sans"
	return f
}

// newPlot is a plot with every text in sans and legend entries spaced
// apart, so swatches do not touch.
func newPlot() *plot.Plot {
	p := plot.New()
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Padding = vg.Points(3)
	return p
}
