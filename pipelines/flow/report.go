package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Report is report.json: what every step of the experiment's latest flow
// run did and found.
type Report struct {
	Name       string    `json:"name"`
	File       string    `json:"file"`
	Experiment string    `json:"experiment"`
	Written    time.Time `json:"written"`
	// Steps are the completion records of the plan's steps, in order
	// (incomplete steps are listed without timings).
	Steps       []StepReport           `json:"steps"`
	Annotation  *AnnotationFacts       `json:"annotation,omitempty"`
	Agreement   *AgreementFacts        `json:"agreement,omitempty"`
	Labels      map[string]*LabelFacts `json:"labels,omitempty"`
	Classifiers []*ClassifierReport    `json:"classifiers,omitempty"`
	Selection   *SelectFacts           `json:"selection,omitempty"`
	Filter      *FilterFacts           `json:"filter,omitempty"`
}

// StepReport is one step's line in the report.
type StepReport struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Dir      string  `json:"dir"`
	Complete bool    `json:"complete"`
	Record   *Record `json:"record,omitempty"`
	// RowsPerSecond is the rows the step read over its wall time.
	RowsPerSecond float64 `json:"rows_per_second,omitempty"`
}

// ClassifierReport is a trained classifier's evaluation on the test rows.
type ClassifierReport struct {
	TrainFacts
	// Confusion counts test rows by true label (rows) and predicted label
	// (columns), in Labels' order.
	Confusion [][]int64 `json:"confusion,omitempty"`
	// ROC and PR are curves per class (one-vs-rest; the positive class of
	// a binary classifier): points of (false positive rate, true positive
	// rate) and (recall, precision).
	ROC map[string]plotter.XYs `json:"roc,omitempty"`
	PR  map[string]plotter.XYs `json:"pr,omitempty"`
	// Calibration is the observed frequency against the mean predicted
	// probability in ten bins (of the positive class, or of the top
	// label).
	Calibration plotter.XYs `json:"calibration,omitempty"`
	// Scatter is a regressor's predicted against true value.
	Scatter plotter.XYs `json:"scatter,omitempty"`
}

// ReportFiles are the report's file names in the experiment directory.
const (
	ReportJSON = "report.json"
	ReportHTML = "report.html"
)

// WriteReport writes report.json and report.html for the latest flow run
// in the experiment directory exp and returns report.html's path.
func WriteReport(ctx context.Context, exp string) (string, error) {
	rep, err := BuildReport(ctx, exp)
	if err != nil {
		return "", err
	}
	if err := writeJSON(ctx, storage.Join(exp, ReportJSON), rep); err != nil {
		return "", err
	}
	html, err := rep.HTML()
	if err != nil {
		return "", err
	}
	path := storage.Join(exp, ReportHTML)
	return path, storage.WriteFile(ctx, path, html)
}

// BuildReport gathers the report of exp's latest flow run.
func BuildReport(ctx context.Context, exp string) (*Report, error) {
	b, err := storage.ReadFile(ctx, storage.Join(exp, PlanFile))
	if err != nil {
		return nil, fmt.Errorf("%s holds no flow run (no %s): %w", exp, PlanFile, err)
	}
	var plan struct {
		Name  string `json:"name"`
		File  string `json:"file"`
		Steps []struct{ Name, Kind, Fingerprint, Dir string }
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("read %s: %w", PlanFile, err)
	}
	rep := &Report{Name: plan.Name, File: plan.File, Experiment: exp, Written: time.Now().UTC(), Labels: map[string]*LabelFacts{}}
	for _, ps := range plan.Steps {
		st := &Step{Name: ps.Name, Kind: ps.Kind, Fingerprint: ps.Fingerprint, Dir: ps.Dir}
		sr := StepReport{Name: st.Name, Kind: st.Kind, Dir: st.Dir}
		rec, ok := st.complete(ctx, exp)
		if ok {
			sr.Complete, sr.Record = true, rec
			if rec.Seconds > 0 && rec.Rows > 0 {
				sr.RowsPerSecond = float64(rec.Rows) / rec.Seconds
			}
		}
		rep.Steps = append(rep.Steps, sr)
		if !ok || len(rec.Facts) == 0 {
			continue
		}
		switch st.Kind {
		case "annotate":
			err = json.Unmarshal(rec.Facts, &rep.Annotation)
		case "agreement":
			err = json.Unmarshal(rec.Facts, &rep.Agreement)
		case "label", "balance":
			var lf LabelFacts
			err = json.Unmarshal(rec.Facts, &lf)
			rep.Labels[st.Name] = &lf
		case "split":
			if st.Name == "split" {
				var lf LabelFacts
				err = json.Unmarshal(rec.Facts, &lf)
				rep.Labels[st.Name] = &lf
			}
		case "train":
			var cr ClassifierReport
			if err = json.Unmarshal(rec.Facts, &cr.TrainFacts); err == nil {
				err = cr.addCurves(ctx, storage.Join(st.Dir, PredictionsFile))
				rep.Classifiers = append(rep.Classifiers, &cr)
			}
		case "select":
			err = json.Unmarshal(rec.Facts, &rep.Selection)
		case "filter":
			err = json.Unmarshal(rec.Facts, &rep.Filter)
		}
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", st.Name, err)
		}
	}
	return rep, nil
}

// addCurves computes the confusion matrix and curves from the test
// predictions in file.
func (c *ClassifierReport) addCurves(ctx context.Context, file string) error {
	b, err := storage.ReadFile(ctx, file)
	if err != nil {
		return err
	}
	var p Predictions
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if p.Mode == models.ScoreValue {
		for i, t := range p.True {
			if v, err := strconv.ParseFloat(t, 64); err == nil {
				c.Scatter = append(c.Scatter, plotter.XY{X: v, Y: p.Scores[i]})
			}
		}
		return nil
	}
	index := map[string]int{}
	for i, l := range p.Labels {
		index[l] = i
	}
	c.Labels = p.Labels
	c.Confusion = make([][]int64, len(p.Labels))
	for i := range c.Confusion {
		c.Confusion[i] = make([]int64, len(p.Labels))
	}
	var topConf []float64
	var topOK []bool
	for i, t := range p.True {
		ti, ok := index[t]
		top := argmax(p.Probs[i])
		if ok {
			c.Confusion[ti][top]++
		}
		topConf = append(topConf, float64(p.Probs[i][top]))
		topOK = append(topOK, ok && ti == top)
	}
	classes := make([]int, 0, len(p.Labels))
	if len(p.Labels) == 2 {
		classes = append(classes, p.Positive)
	} else {
		for k := range p.Labels {
			classes = append(classes, k)
		}
	}
	c.ROC, c.PR = map[string]plotter.XYs{}, map[string]plotter.XYs{}
	for _, k := range classes {
		scores := make([]float64, len(p.True))
		pos := make([]bool, len(p.True))
		for i, t := range p.True {
			scores[i], pos[i] = float64(p.Probs[i][k]), t == p.Labels[k]
		}
		roc, pr := rocPR(scores, pos)
		if roc != nil {
			c.ROC[p.Labels[k]], c.PR[p.Labels[k]] = roc, pr
		}
		if len(p.Labels) == 2 {
			c.Calibration = calibration(scores, pos)
		}
	}
	if len(p.Labels) != 2 {
		c.Calibration = calibration(topConf, topOK)
	}
	return nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// rocPR sweeps the threshold down the distinct scores; nil when the
// class has no positive or no negative row.
func rocPR(scores []float64, pos []bool) (roc, pr plotter.XYs) {
	order := make([]int, len(scores))
	var P, N float64
	for i := range order {
		order[i] = i
		if pos[i] {
			P++
		} else {
			N++
		}
	}
	if P == 0 || N == 0 {
		return nil, nil
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	roc = plotter.XYs{{X: 0, Y: 0}}
	pr = plotter.XYs{{X: 0, Y: 1}}
	var tp, fp float64
	for i, j := range order {
		if pos[j] {
			tp++
		} else {
			fp++
		}
		if i+1 < len(order) && scores[order[i+1]] == scores[j] {
			continue // ties form one step
		}
		roc = append(roc, plotter.XY{X: fp / N, Y: tp / P})
		pr = append(pr, plotter.XY{X: tp / P, Y: tp / (tp + fp)})
	}
	return thin(roc), thin(pr)
}

// thin keeps at most about 300 points of a curve.
func thin(xy plotter.XYs) plotter.XYs {
	if len(xy) <= 300 {
		return xy
	}
	step := len(xy) / 300
	var out plotter.XYs
	for i := 0; i < len(xy); i += step {
		out = append(out, xy[i])
	}
	return append(out, xy[len(xy)-1])
}

// calibration is the observed frequency of positives against the mean
// predicted probability, in ten equal-width bins (empty bins left out).
func calibration(prob []float64, pos []bool) plotter.XYs {
	var sum, hit, n [10]float64
	for i, p := range prob {
		b := min(int(p*10), 9)
		sum[b] += p
		n[b]++
		if pos[i] {
			hit[b]++
		}
	}
	var out plotter.XYs
	for b := range n {
		if n[b] > 0 {
			out = append(out, plotter.XY{X: sum[b] / n[b], Y: hit[b] / n[b]})
		}
	}
	return out
}

// HTML renders the report as one self-contained page: styles inline,
// charts as inline SVG, no script, nothing fetched.
func (r *Report) HTML() ([]byte, error) {
	v := htmlView{Report: r}
	var err error
	add := func(svg string, e error) template.HTML {
		if e != nil && err == nil {
			err = e
		}
		return template.HTML(svg)
	}
	if a := r.Annotation; a != nil {
		for _, field := range sortedKeys(a.Labels) {
			v.AnnotationCharts = append(v.AnnotationCharts, add(barChart("annotations: "+field, a.Labels[field])))
		}
	}
	for _, name := range sortedKeys(r.Labels) {
		for _, split := range sortedKeys(r.Labels[name].Labels) {
			title := name
			if split != "" {
				title += " · " + split
			}
			v.LabelCharts = append(v.LabelCharts, add(barChart("labels after "+title, r.Labels[name].Labels[split])))
		}
	}
	if a := r.Agreement; a != nil && a.AgreementReport != nil && len(a.Confusion) > 0 {
		v.AgreementConfusion = newConfusion("LLM \\ existing", a.Labels, a.Confusion)
	}
	for _, c := range r.Classifiers {
		cv := classifierView{ClassifierReport: c}
		if len(c.Confusion) > 0 {
			cv.Confusion = newConfusion("true \\ predicted", c.Labels, c.Confusion)
		}
		if c.Test != nil {
			if c.Test.Report != nil {
				cv.Table = c.Test.Report.Format(4)
			}
			if c.Test.Regression != nil {
				cv.Table += c.Test.Regression.String()
			}
			if c.Test.Ranking != nil {
				cv.Table += "\n" + c.Test.Ranking.String()
			}
		}
		if c.ROC != nil && len(c.ROC) > 0 {
			cv.Charts = append(cv.Charts, add(curves(c.Classifier+": ROC", "false positive rate", "true positive rate", c.ROC, true)))
			cv.Charts = append(cv.Charts, add(curves(c.Classifier+": precision-recall", "recall", "precision", c.PR, false)))
		}
		if len(c.Calibration) > 0 {
			cv.Charts = append(cv.Charts, add(curves(c.Classifier+": calibration", "mean predicted probability", "observed frequency",
				map[string]plotter.XYs{"model": c.Calibration}, true)))
		}
		if len(c.Scatter) > 0 {
			cv.Charts = append(cv.Charts, add(scatter(c.Classifier+": predicted against true", "true", "predicted", c.Scatter)))
		}
		v.Classifiers = append(v.Classifiers, cv)
	}
	if f := r.Filter; f != nil {
		if f.Report != nil && f.Report.Scores != nil {
			v.FilterCharts = append(v.FilterCharts, add(histogramChart("scores over the corpus", "score of "+f.Classifier, f.Report.Scores, f.Cut)))
		}
		if f.Report != nil && len(f.Report.Shards) > 0 {
			fr := make([]float64, len(f.Report.Shards))
			for i, s := range f.Report.Shards {
				if s.RowsIn > 0 {
					fr[i] = float64(s.Kept) / float64(s.RowsIn)
				}
			}
			v.FilterCharts = append(v.FilterCharts, add(fractionChart("kept fraction per shard", fr)))
		}
	}
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return b.Bytes(), nil
}

type htmlView struct {
	*Report
	AnnotationCharts   []template.HTML
	AgreementConfusion *confusionView
	LabelCharts        []template.HTML
	Classifiers        []classifierView
	FilterCharts       []template.HTML
}

type classifierView struct {
	*ClassifierReport
	Table     string
	Confusion *confusionView
	Charts    []template.HTML
}

// confusionView is a confusion matrix as a table whose cells are shaded
// by their count (a heatmap).
type confusionView struct {
	Corner string
	Labels []string
	Rows   [][]confusionCell
}

type confusionCell struct {
	N     int64
	Style template.CSS
}

func newConfusion(corner string, labels []string, m [][]int64) *confusionView {
	var top int64
	for _, row := range m {
		for _, n := range row {
			top = max(top, n)
		}
	}
	v := &confusionView{Corner: corner, Labels: labels}
	for _, row := range m {
		cells := make([]confusionCell, len(row))
		for j, n := range row {
			shade := 0.0
			if top > 0 {
				shade = 0.6 * float64(n) / float64(top)
			}
			cells[j] = confusionCell{N: n, Style: template.CSS(fmt.Sprintf("background:rgba(31,119,180,%.3f)", shade))}
		}
		v.Rows = append(v.Rows, cells)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"secs": func(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) },
	"f":    func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
	"usd":  func(v float64) string { return fmt.Sprintf("$%.4f", v) },
	"pct":  func(a, b int64) string { return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(max(b, 1))) },
	"pctf": func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"opt": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'g', 4, 64)
	},
	"label": func(labels []string, i int) string { return labels[i] },
	"deref": func(p *float64) float64 { return *p },
}).Parse(`{{define "confusion"}}{{$labels := .Labels}}<table class="confusion"><tr><th class="l">{{.Corner}}</th>{{range .Labels}}<th>{{.}}</th>{{end}}</tr>
{{range $i, $row := .Rows}}<tr><th class="l">{{label $labels $i}}</th>{{range $row}}<td style="{{.Style}}">{{.N}}</td>{{end}}</tr>{{end}}</table>{{end}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>winnow flow report: {{.Name}}</title>
<style>
body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}pre{background:#f7f7f7;padding:.8em;overflow:auto}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart svg{max-width:100%;height:auto}
.sel{font-weight:bold}
</style></head><body>
<h1>Flow report: {{.Name}}</h1>
<p>Flow file <code>{{.File}}</code>, experiment directory <code>{{.Experiment}}</code>, written {{.Written.Format "2006-01-02 15:04:05 UTC"}}.</p>

<h2 id="steps">Steps</h2>
<table><tr><th class="l">step</th><th class="l">folder</th><th>state</th><th>wall s</th><th>rows</th><th>rows/s</th><th>cores busy</th></tr>
{{range .Steps}}<tr><td class="l">{{.Name}}</td><td class="l"><code>{{.Dir}}</code></td>
{{if .Record}}<td>complete</td><td>{{secs .Record.Seconds}}</td><td>{{.Record.Rows}}</td><td>{{f .RowsPerSecond}}</td><td>{{f .Record.CoresBusy}}</td>
{{else}}<td>not run</td><td></td><td></td><td></td><td></td>{{end}}</tr>
{{end}}</table>

{{with .Annotation}}<h2 id="annotation">Annotation</h2>
<p>Prompt <code>{{.Summary.Prompt}}</code>, processor <code>{{.Summary.Processor}}</code>, model <code>{{.Summary.Model}}</code>, field <code>{{.Summary.Field}}</code>.</p>
<table><tr><th>annotated</th><th>failed (in _errors/)</th><th>answers</th><th>prompt tokens</th><th>cached prompt tokens</th><th>completion tokens</th><th>cost</th></tr>
<tr><td>{{.Summary.Ledger.Annotated}}</td><td>{{.Errors}}</td><td>{{.Summary.Ledger.Answers}}</td><td>{{.Summary.Ledger.PromptTokens}}</td><td>{{.Summary.Ledger.CachedPromptTokens}}</td><td>{{.Summary.Ledger.CompletionTokens}}</td><td>{{usd .Summary.Ledger.CostUSD}}</td></tr></table>
{{end}}
{{if .AnnotationCharts}}<div class="charts">{{range .AnnotationCharts}}<div class="chart">{{.}}</div>{{end}}</div>{{end}}

{{with .Agreement}}<h2 id="agreement">Agreement with existing labels</h2>
<p>The annotation <code>{{.Annotation}}</code> against the rows' own label <code>{{.Existing}}</code>, row by row (rows paired by <code>{{.ID}}</code>).</p>
<table><tr><th>rows</th><th>both labels</th><th>LLM label only</th><th>existing label only</th><th>LLM labels with an existing one</th><th>existing labels with an LLM one</th><th>exact agreement</th><th>Cohen's κ</th><th>quadratic-weighted κ</th><th>MAE</th><th>Spearman</th></tr>
<tr><td>{{.RowsA}}</td><td>{{.Pairs}}</td><td>{{.OnlyA}}</td><td>{{.OnlyB}}</td><td>{{pctf .CoverageA}}</td><td>{{pctf .CoverageB}}</td><td>{{f .Agreement}}</td><td>{{opt .Kappa}}</td><td>{{opt .QuadraticKappa}}</td><td>{{opt .MAE}}</td><td>{{opt .Spearman}}</td></tr></table>
{{end}}
{{with .AgreementConfusion}}{{template "confusion" .}}{{end}}

{{if .LabelCharts}}<h2 id="labels">Labels</h2>
<div class="charts">{{range .LabelCharts}}<div class="chart">{{.}}</div>{{end}}</div>{{end}}

{{range .Classifiers}}<h2 id="classifier-{{.Classifier}}">Classifier {{.Classifier}} ({{.Kind}})</h2>
<p>Model directory <code>{{.ModelDir}}</code>; evaluated on the test split.</p>
<pre>{{.Table}}</pre>
{{with .Confusion}}{{template "confusion" .}}{{end}}
<div class="charts">{{range .Charts}}<div class="chart">{{.}}</div>{{end}}</div>
{{end}}

{{with .Selection}}<h2 id="selection">Selection</h2>
<p>Selected <span class="sel">{{.Classifier}}</span>{{if .Metric}} by {{.Metric}}{{end}}.</p>
{{if .Values}}<table><tr><th class="l">classifier</th><th>{{.Metric}}</th></tr>{{range $k, $v := .Values}}<tr><td class="l">{{$k}}</td><td>{{f $v}}</td></tr>{{end}}</table>{{end}}
{{end}}

{{with .Filter}}<h2 id="filter">Filter</h2>
<p>Kept {{.Report.Kept}} of {{.Report.RowsIn}} rows ({{pct .Report.Kept .Report.RowsIn}}) with {{.Classifier}}{{if .Cut}}, cut at score {{f (deref .Cut)}}{{end}}; the filtered corpus is in <code>{{.Dir}}</code>.</p>
{{end}}
{{if .FilterCharts}}<div class="charts">{{range .FilterCharts}}<div class="chart">{{.}}</div>{{end}}</div>{{end}}
</body></html>
`))
