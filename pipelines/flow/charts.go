package flow

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
)

// Charts are drawn by gonum/plot as inline SVG: the report needs no
// script and fetches nothing.

const chartW, chartH = 5.2 * vg.Inch, 3.2 * vg.Inch

// svgOf renders p as an SVG document (without the XML prolog, to inline
// it in HTML).
func svgOf(p *plot.Plot) (string, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(chartW, chartH))
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("render chart: %w", err)
	}
	s := b.String()
	if i := bytes.Index(b.Bytes(), []byte("<svg")); i > 0 {
		s = s[i:]
	}
	return s, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Add(plotter.NewGrid())
	return p
}

// barChart draws counts by label, labels sorted (numerically when they
// are numbers).
func barChart(title string, counts map[string]int64) (string, error) {
	labels := sortedLabels(counts)
	vals := make(plotter.Values, len(labels))
	for i, l := range labels {
		vals[i] = float64(counts[l])
	}
	p := newPlot(title, "", "rows")
	bars, err := plotter.NewBarChart(vals, vg.Points(max(4, 200/float64(max(1, len(labels))))))
	if err != nil {
		return "", err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(labels...)
	if len(labels) > 8 {
		p.X.Tick.Label.Rotation = 0.8
		p.X.Tick.Label.XAlign = draw.XRight
	}
	return svgOf(p)
}

func sortedLabels(counts map[string]int64) []string {
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		var a, b float64
		_, ea := fmt.Sscanf(labels[i], "%g", &a)
		_, eb := fmt.Sscanf(labels[j], "%g", &b)
		if ea == nil && eb == nil && a != b {
			return a < b
		}
		return labels[i] < labels[j]
	})
	return labels
}

// curves draws named polylines, e.g. ROC or precision-recall curves.
func curves(title, x, y string, lines map[string]plotter.XYs, diagonal bool) (string, error) {
	p := newPlot(title, x, y)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	if diagonal {
		d, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
		if err != nil {
			return "", err
		}
		d.Color = color.Gray{Y: 160}
		d.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(d)
	}
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		l, err := plotter.NewLine(lines[n])
		if err != nil {
			return "", err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(n, l)
	}
	p.Legend.Top = !diagonal
	p.Legend.Left = false
	return svgOf(p)
}

// scatter draws points (predicted against true values).
func scatter(title, x, y string, pts plotter.XYs) (string, error) {
	p := newPlot(title, x, y)
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return "", err
	}
	s.GlyphStyle.Radius = vg.Points(1.5)
	s.GlyphStyle.Color = plotutil.Color(0)
	p.Add(s)
	return svgOf(p)
}

// histogramChart draws a precomputed histogram with a vertical line at
// cut (when set); the x label counts the scores out of its range.
func histogramChart(title, x string, h *scoring.Histogram, cut *float64) (string, error) {
	if h.Below > 0 || h.Above > 0 {
		x += fmt.Sprintf(" (%d below %g, %d above %g)", h.Below, h.Min, h.Above, h.Max)
	}
	p := newPlot(title, x, "rows")
	width := (h.Max - h.Min) / float64(len(h.Counts))
	xy := make(plotter.XYs, len(h.Counts))
	for i, c := range h.Counts {
		xy[i] = plotter.XY{X: h.Min + (float64(i)+0.5)*width, Y: float64(c)}
	}
	hist, err := plotter.NewHistogram(xy, len(h.Counts))
	if err != nil {
		return "", err
	}
	hist.FillColor = plotutil.Color(0)
	p.Add(hist)
	if cut != nil {
		var top float64
		for _, c := range h.Counts {
			top = max(top, float64(c))
		}
		l, err := plotter.NewLine(plotter.XYs{{X: *cut, Y: 0}, {X: *cut, Y: top}})
		if err != nil {
			return "", err
		}
		l.Color = color.RGBA{R: 200, A: 255}
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("cut %.4g", *cut), l)
	}
	return svgOf(p)
}

// fractionChart draws one bar per shard: the fraction of its rows kept.
func fractionChart(title string, fractions []float64) (string, error) {
	p := newPlot(title, "shard", "kept fraction")
	bars, err := plotter.NewBarChart(plotter.Values(fractions), vg.Points(max(2, 240/float64(max(1, len(fractions))))))
	if err != nil {
		return "", err
	}
	bars.Color = plotutil.Color(2)
	p.Add(bars)
	p.Y.Min = 0
	return svgOf(p)
}
