package flow

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
)

// Charts are drawn by gonum/plot as inline SVG: the report needs no
// script and fetches nothing.

const chartW, chartH = 5.2 * vg.Inch, 3.2 * vg.Inch

// The margins around a chart's drawing. gonum/plot lays a plot out to the
// canvas's edges with its own measure of the text (Liberation Sans): the
// end tick labels of an axis and the legend reach past the plot area, and
// a browser without Liberation draws the text in a wider fallback font.
const (
	marginSide   = 0.16 * vg.Inch
	marginTop    = 0.08 * vg.Inch
	marginBottom = 0.06 * vg.Inch
)

// svgFont is the font family of the charts' text: gonum/plot measures it
// with Liberation Sans, whose widths Arial and Helvetica share.
const svgFont = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// svgOf renders p as an SVG document (without the XML prolog, to inline
// it in HTML).
func svgOf(p *plot.Plot) (string, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(chartW, chartH))
	p.Draw(draw.Crop(draw.New(c), marginSide, -marginSide, marginBottom, -marginTop))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("render chart: %w", err)
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	// vgsvg names the font alone; a browser without it falls back to its
	// default, usually a serif.
	return strings.ReplaceAll(s, "font-family:Liberation Sans;", svgFont), nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font.Variant = "Sans"
	}
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

// histogramChart draws a precomputed histogram, rows on a log scale (a
// score distribution is mostly skewed, and the top fraction a filter keeps
// is its tail), with a vertical line at cut (when set); the x label counts
// the scores out of its range.
func histogramChart(title, x string, h *scoring.Histogram, cut *float64) (string, error) {
	if h.Below > 0 || h.Above > 0 {
		x += fmt.Sprintf(" (%d below %g, %d above %g)", h.Below, h.Min, h.Above, h.Max)
	}
	p := newPlot(title, x, "rows")
	width := (h.Max - h.Min) / float64(len(h.Counts))
	hist := &plotter.Histogram{Width: width, FillColor: plotutil.Color(0), LineStyle: plotter.DefaultLineStyle, LogY: true}
	var top float64
	for i, c := range h.Counts {
		lo := h.Min + float64(i)*width
		hist.Bins = append(hist.Bins, plotter.HistogramBin{Min: lo, Max: lo + width, Weight: float64(c)})
		top = max(top, float64(c))
	}
	hist.LineStyle.Width = vg.Points(0.5)
	p.Add(hist)
	if top == 0 {
		return svgOf(p) // no row was scored: an empty chart
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ticksWithin{plot.LogTicks{Prec: -1}}
	if cut != nil {
		l, err := plotter.NewLine(plotter.XYs{{X: *cut, Y: p.Y.Min}, {X: *cut, Y: top}})
		if err != nil {
			return "", err
		}
		l.Color = color.RGBA{R: 200, A: 255}
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("cut %.4g", *cut), l)
		p.Legend.Top = true
	}
	return svgOf(p)
}

// ticksWithin keeps the ticks of a Ticker in the axis's range: gonum/plot
// makes room for the labels of LogTicks' ticks beyond it.
type ticksWithin struct{ plot.Ticker }

func (t ticksWithin) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, tk := range t.Ticker.Ticks(lo, hi) {
		if tk.Value >= lo && tk.Value <= hi {
			out = append(out, tk)
		}
	}
	return out
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
	if len(fractions) <= 24 {
		// Whole shard numbers (the default ticks of a short axis are
		// fractions).
		names := make([]string, len(fractions))
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		p.NominalX(names...)
	}
	return svgOf(p)
}
