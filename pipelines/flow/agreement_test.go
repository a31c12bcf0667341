package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/agreement"
)

// TestAgreementWithExistingLabels annotates rows that carry a score of
// their own with the fake OpenAI server and checks the agreement step's
// statistics against a computation over the annotated rows, and that the
// report shows them.
func TestAgreementWithExistingLabels(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "pool")
	lines := annotationSample(t)
	// Every seventh row has no score of its own.
	var rowsOut []string
	for i, l := range lines {
		if i%7 == 3 {
			var obj map[string]any
			if err := json.Unmarshal([]byte(l), &obj); err != nil {
				t.Fatal(err)
			}
			delete(obj, "score")
			b, _ := json.Marshal(obj)
			l = string(b)
		}
		rowsOut = append(rowsOut, l)
	}
	writePool(t, in, rowsOut, 16)
	src := fmt.Sprintf(`pool: {inputs: [%s]}
annotate:
  endpoint: %s
  model: test-model
  prompt: finemath
  processor: finalscore0-5
  cache_dir: %s
  existing_label: .score
`, in, srv.URL, filepath.Join(dir, "cache"))
	s, err := Parse("agreement.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s.Experiment = filepath.Join(dir, "exp")
	res, err := Run(context.Background(), s, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "annotate agreement" {
		t.Fatalf("ran %q", got)
	}
	rep, err := BuildReport(context.Background(), s.Experiment)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Agreement
	if a == nil || a.AgreementReport == nil {
		t.Fatalf("the report has no agreement: %+v", rep)
	}

	// The same statistics from the annotated rows.
	var llm, own []string
	withoutOwn := 0
	if err := eachRow(context.Background(), []string{stepDir(t, s.Experiment, "annotate-")}, func(_ string, obj map[string]any) error {
		ann := obj["finemath"].(map[string]any)
		v, ok := obj["score"]
		if !ok {
			withoutOwn++
			return nil
		}
		llm = append(llm, valueString(ann["score"]))
		own = append(own, valueString(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(llm)+withoutOwn != len(lines) || withoutOwn != 7 {
		t.Fatalf("%d rows with both labels and %d without their own, of %d", len(llm), withoutOwn, len(lines))
	}
	labels := union(llm, own)
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	k := len(labels)
	conf := make([][]int64, k)
	for i := range conf {
		conf[i] = make([]int64, k)
	}
	same, abs := 0, 0.0
	x, y := make([]float64, len(llm)), make([]float64, len(llm))
	for i := range llm {
		conf[index[llm[i]]][index[own[i]]]++
		if llm[i] == own[i] {
			same++
		}
		x[i], _ = strconv.ParseFloat(llm[i], 64)
		y[i], _ = strconv.ParseFloat(own[i], 64)
		abs += math.Abs(x[i] - y[i])
	}
	n := float64(len(llm))
	kappaOf := func(w func(i, j int) float64) float64 {
		var obs, exp float64
		for i := range k {
			for j := range k {
				var ri, cj float64
				for m := range k {
					ri += float64(conf[i][m])
					cj += float64(conf[m][j])
				}
				obs += w(i, j) * float64(conf[i][j])
				exp += w(i, j) * ri * cj / n
			}
		}
		return 1 - obs/exp
	}
	kappa := kappaOf(func(i, j int) float64 {
		if i == j {
			return 0
		}
		return 1
	})
	qwk := kappaOf(func(i, j int) float64 { return float64((i - j) * (i - j)) })
	near := func(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 1e-12 }
	if a.Pairs != len(llm) || a.OnlyA != withoutOwn || a.OnlyB != 0 || a.RowsA != int64(len(lines)) || a.BadRowsB != int64(withoutOwn) {
		t.Errorf("pairs %d, only A %d, only B %d, rows %d, bad B %d; want %d, %d, 0, %d, %d",
			a.Pairs, a.OnlyA, a.OnlyB, a.RowsA, a.BadRowsB, len(llm), withoutOwn, len(lines), withoutOwn)
	}
	if math.Abs(a.CoverageA-n/float64(len(lines))) > 1e-12 || a.CoverageB != 1 {
		t.Errorf("coverage %v and %v, want %v and 1", a.CoverageA, a.CoverageB, n/float64(len(lines)))
	}
	if math.Abs(a.Agreement-float64(same)/n) > 1e-12 || !near(a.Kappa, kappa) || !near(a.QuadraticKappa, qwk) || !near(a.MAE, abs/n) ||
		!near(a.Spearman, *agreement.Spearman(x, y)) {
		t.Errorf("agreement %v, kappa %v, qwk %v, mae %v, spearman %v; want %v, %v, %v, %v, %v", a.Agreement, deref(a.Kappa), deref(a.QuadraticKappa),
			deref(a.MAE), deref(a.Spearman), float64(same)/n, kappa, qwk, abs/n, *agreement.Spearman(x, y))
	}
	if !slices.Equal(a.Labels, labels) || !slices.EqualFunc(a.Confusion, conf, slices.Equal) {
		t.Errorf("confusion %v %v, want %v %v", a.Labels, a.Confusion, labels, conf)
	}

	html, err := os.ReadFile(filepath.Join(s.Experiment, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="agreement"`, "quadratic-weighted κ", `<table class="confusion"><tr><th class="l">LLM \ existing</th>`,
		fmt.Sprintf("<td>%s</td>", strconv.FormatFloat(*a.Kappa, 'g', 4, 64))} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The annotation's charts and the agreement's table render.
	checkInChromium(t, html, len(rep.Annotation.Labels))

	// Another existing label reruns the agreement, not the annotation.
	s2, err := Parse("agreement.yaml", []byte(strings.Replace(src, "existing_label: .score", "existing_label: .score + 1", 1)))
	if err != nil {
		t.Fatal(err)
	}
	s2.Experiment = s.Experiment
	res, err = Run(context.Background(), s2, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "agreement" {
		t.Errorf("changing the existing label ran %q, want agreement", got)
	}
}

// union returns the labels of a and b in numeric order.
func union(a, b []string) []string {
	var out []string
	for _, l := range append(slices.Clone(a), b...) {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, _ := strconv.ParseFloat(out[i], 64)
		y, _ := strconv.ParseFloat(out[j], 64)
		return x < y
	})
	return out
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
