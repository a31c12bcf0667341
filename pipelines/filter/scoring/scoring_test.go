package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// softmaxModel is a four-label fastText model trained by official fastText
// (greeting, tech, weather, food): its scores are top-label probabilities.
func softmaxModel(t *testing.T) (ModelRef, models.Classifier) {
	t.Helper()
	ref, c, err := Resolve(context.Background(), ModelRef{Path: testutil.Testdata(t, "fasttext/fasttext-net/softmax.bin"), Name: "topic"})
	if err != nil {
		t.Fatal(err)
	}
	return ref, c
}

func buildOp(t *testing.T, kind string, args any, global string) rows.Op {
	t.Helper()
	spec, err := rows.NewSpec(kind, args)
	if err != nil {
		t.Fatal(err)
	}
	var g json.RawMessage
	if global != "" {
		g = json.RawMessage(global)
	}
	ops, err := rows.Build([]rows.Spec{spec}, g)
	if err != nil {
		t.Fatal(err)
	}
	return ops[0]
}

func apply(t *testing.T, op rows.Op, line string) (string, bool, error) {
	t.Helper()
	r := rows.New([]byte(line), "in.jsonl", 1)
	keep, err := op.Apply(r)
	if err != nil {
		return "", false, err
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), keep, nil
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func predict(t *testing.T, c models.Classifier, text string) models.Prediction {
	t.Helper()
	out := make([]models.Prediction, 1)
	if err := c.Predict([]string{text}, out); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestScoreAddsFieldAndKeepsTheRow(t *testing.T) {
	ref, c := softmaxModel(t)
	op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Field: "metadata.topic", AllLabels: true}, "")
	text := "delicious pizza pasta and sweet cake"
	line := `{"id":7,"text":"delicious pizza pasta\nand sweet cake","metadata":{"url":"https://x.example/é","n":1.50},"z":[1,2]}`
	out, keep, err := apply(t, op, line)
	if err != nil || !keep {
		t.Fatalf("keep %v, err %v", keep, err)
	}
	// Everything but the new field is byte-for-byte as it was.
	if !strings.HasPrefix(out, `{"id":7,"text":"delicious pizza pasta\nand sweet cake","metadata":{"url":"https://x.example/é","n":1.50,"topic":{`) ||
		!strings.HasSuffix(out, `}},"z":[1,2]}`) {
		t.Errorf("row rewritten beyond the new field:\n%s", out)
	}
	p := predict(t, c, text)
	got := decode(t, out)["metadata"].(map[string]any)["topic"].(map[string]any)
	labels := c.Info().Labels
	if got["score"] != p.Score || got["int_score"] != float64(p.IntScore) || got["label"] != labels[p.Top] {
		t.Errorf("scores %v, want score %v int %d label %s", got, p.Score, p.IntScore, labels[p.Top])
	}
	probs := got["probs"].(map[string]any)
	for i, l := range labels {
		if probs[l] != float64(p.Probs[i]) && math.Abs(probs[l].(float64)-float64(p.Probs[i])) > 1e-7 {
			t.Errorf("P(%s) = %v, want %v", l, probs[l], p.Probs[i])
		}
	}

	// Rows without metadata get it; a non-object metadata is a bad row.
	out, _, err = apply(t, op, `{"text":"hello good morning"}`)
	if err != nil || !strings.HasPrefix(out, `{"text":"hello good morning","metadata":{"topic":{"score":`) {
		t.Errorf("got %s, %v", out, err)
	}
	for line, want := range map[string]string{
		`{"text":"x","metadata":"str"}`: "metadata is a string",
		`{"body":"x"}`:                  "missing field .text",
		`{"text":null}`:                 "is null",
		`{"text":3}`:                    "gave a number",
		`{"text":"x"`:                   "malformed JSON",
	} {
		if _, _, err := apply(t, op, line); err == nil || !rows.IsBadRow(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want a bad row saying %q", line, err, want)
		}
	}
}

func TestScoreTextExpression(t *testing.T) {
	ref, c := softmaxModel(t)
	op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: `.title + " " + .body`, Field: "s"}, "")
	out, _, err := apply(t, op, `{"title":"cold rain","body":"and snow with strong wind"}`)
	if err != nil {
		t.Fatal(err)
	}
	p := predict(t, c, "cold rain and snow with strong wind")
	if s := decode(t, out)["s"].(map[string]any)["score"]; s != p.Score {
		t.Errorf("score %v, want %v", s, p.Score)
	}
}

// TestAttributes checks the dolma attribute record field by field.
func TestAttributes(t *testing.T) {
	ref, c := softmaxModel(t)
	text := "the software code runs on a fast computer ü"
	p := predict(t, c, text)
	labels := c.Info().Labels
	op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Attributes: true, IDExpression: ".doc.id"}, "")
	out, keep, err := apply(t, op, fmt.Sprintf(`{"doc":{"id":"a-1"},"text":%q}`, text))
	if err != nil || !keep {
		t.Fatal(keep, err)
	}
	n := len([]rune(text))
	want := fmt.Sprintf(`{"id":"a-1","attributes":{"topic__score":[[0,%d,%v]],"topic__int_score":[[0,%d,%d]],"topic__%s":[[0,%d,%v]]}}`,
		n, p.Score, n, p.IntScore, labels[p.Top], n, p.Probs[p.Top])
	if out != want {
		t.Errorf("attributes\n%s\nwant\n%s", out, want)
	}
	all := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Attributes: true, AllLabels: true}, "")
	out, _, err = apply(t, all, fmt.Sprintf(`{"id":12,"text":%q}`, text))
	if err != nil {
		t.Fatal(err)
	}
	attrs := decode(t, out)["attributes"].(map[string]any)
	if len(attrs) != 2+len(labels) || decode(t, out)["id"] != 12.0 {
		t.Errorf("record %s: want id 12 and %d attributes", out, 2+len(labels))
	}
	if _, _, err := apply(t, all, `{"text":"x"}`); err == nil || !rows.IsBadRow(err) {
		t.Errorf("a row without id: err %v, want a bad row", err)
	}
}

func TestSelectionRules(t *testing.T) {
	ref, c := softmaxModel(t)
	texts := []string{"hello good morning how are you", "cold rain and snow with strong wind", "the software code runs on a fast computer", "delicious pizza pasta and sweet cake", "warm sunny weather today", "a server training machine learning models"}
	threshold, intThreshold := 0.6, 1
	cases := []struct {
		name string
		sel  Selection
		want func(p models.Prediction, label string) bool
	}{
		{"threshold", Selection{Threshold: &threshold}, func(p models.Prediction, _ string) bool { return p.Score >= 0.6 }},
		{"int threshold", Selection{IntThreshold: &intThreshold}, func(p models.Prediction, _ string) bool { return p.IntScore >= 1 }},
		{"expression", Selection{Expression: `.m.topic.label == "tech" or .m.topic.score > 0.9`},
			func(p models.Prediction, l string) bool { return l == "tech" || p.Score > 0.9 }},
	}
	for _, tc := range cases {
		op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Field: "m.topic", Select: &tc.sel}, "")
		kept := 0
		for _, text := range texts {
			_, keep, err := apply(t, op, fmt.Sprintf(`{"text":%q}`, text))
			if err != nil {
				t.Fatal(err)
			}
			p := predict(t, c, text)
			if want := tc.want(p, c.Info().Labels[p.Top]); keep != want {
				t.Errorf("%s: %q (score %v) kept %v, want %v", tc.name, text, p.Score, keep, want)
			}
			if keep {
				kept++
			}
		}
		if kept == 0 || kept == len(texts) {
			t.Errorf("%s keeps %d of %d texts: the case does not discriminate", tc.name, kept, len(texts))
		}
	}
	for _, bad := range []Selection{{}, {Threshold: &threshold, Pareto: 2}, {Pareto: -1}, {Expression: ".a |"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := (ScoreArgs{Model: ref, Attributes: true, Select: &cases[0].sel}).Validate(); err == nil {
		t.Error("selection on attribute records accepted")
	}
	if err := (ScoreArgs{Model: ref, Field: "a..b"}).Validate(); err == nil {
		t.Error("bad field accepted")
	}
}

// TestPareto checks the keep probability (2 - s)^-alpha over many rows,
// that a seed reproduces the same decisions and another seed changes them.
func TestPareto(t *testing.T) {
	const n = 20000
	for _, tc := range []struct{ alpha, score float64 }{{9, 0}, {9, 0.9}, {2, 0.5}, {1, 0.2}} {
		want := math.Pow(2-tc.score, -tc.alpha)
		kept, again, other := 0, 0, 0
		for i := 0; i < n; i++ {
			raw := []byte(fmt.Sprintf(`{"i":%d}`, i))
			k := ParetoKeep(tc.alpha, tc.score, 1, raw)
			if k {
				kept++
			}
			if ParetoKeep(tc.alpha, tc.score, 1, raw) == k {
				again++
			}
			if ParetoKeep(tc.alpha, tc.score, 2, raw) != k {
				other++
			}
		}
		sd := math.Sqrt(n * want * (1 - want))
		if math.Abs(float64(kept)-n*want) > 5*sd+1 {
			t.Errorf("alpha %v score %v: kept %d of %d, want %.0f ± %.0f", tc.alpha, tc.score, kept, n, n*want, 5*sd)
		}
		if again != n {
			t.Errorf("the same seed changed %d decisions", n-again)
		}
		if want > 0.01 && want < 0.99 && other == 0 {
			t.Errorf("another seed changed no decision")
		}
	}
}

func TestParetoOp(t *testing.T) {
	ref, _ := softmaxModel(t)
	decide := func(seed int64) []bool {
		op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Field: "m", Select: &Selection{Pareto: 1, Seed: seed}}, "")
		var out []bool
		for i := 0; i < 200; i++ {
			_, keep, err := apply(t, op, fmt.Sprintf(`{"text":"cold rain and snow %d"}`, i))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, keep)
		}
		return out
	}
	a, b, c := decide(5), decide(5), decide(6)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed gave different selections")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("another seed gave the same selection")
	}
}

func TestSketchCut(t *testing.T) {
	// Scores with heavy ties (every value 40 times), spread over shards.
	var shards []*Sketch
	var all []float64
	for s := 0; s < 10; s++ {
		k := NewSketch()
		for i := 0; i < 4000; i++ {
			v := float64((s*4000+i)%1000) / 1000
			if i%7 == 0 {
				v = 1.00001 // fastText's p + 1e-5 at saturation
			}
			all = append(all, v)
			if err := k.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		shards = append(shards, k)
	}
	merged := NewSketch()
	for _, k := range shards {
		d, err := DecodeSketch(k.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.Merge(d); err != nil {
			t.Fatal(err)
		}
	}
	if merged.Count() != int64(len(all)) {
		t.Fatalf("count %d, want %d", merged.Count(), len(all))
	}
	for _, f := range []float64{0, 0.01, 0.1, 0.142, 0.5, 0.9, 1} {
		cut := merged.Cut(f)
		kept := 0
		minKept, maxDropped := math.Inf(1), math.Inf(-1)
		for i, v := range all {
			if cut.Keep(v, []byte(fmt.Sprint(i)), 3) {
				kept++
				minKept = min(minKept, v)
			} else {
				maxDropped = max(maxDropped, v)
			}
		}
		// Exact in expectation; the boundary bucket's rows are kept by
		// seeded coin flips, so the count varies by its binomial spread.
		want := f * float64(len(all))
		sd := math.Sqrt(float64(cut.InBucket) * cut.KeepInBucket * (1 - cut.KeepInBucket))
		if math.Abs(float64(kept)-want) > 5*sd+1 {
			t.Errorf("fraction %v: kept %d, want %.0f ± %.0f", f, kept, want, 5*sd)
		}
		// Only the boundary bucket (0.2% wide) mixes kept and dropped.
		if kept > 0 && maxDropped > minKept*(1+2*SketchAccuracy)+1e-12 {
			t.Errorf("fraction %v: dropped %v above kept %v", f, maxDropped, minKept)
		}
	}
	if c := NewSketch().Cut(0.5); !c.KeepNone || c.Keep(1, nil, 0) {
		t.Errorf("an empty sketch's cut %+v keeps rows", c)
	}
}

func TestCutOrdersNegativeAndZeroScores(t *testing.T) {
	k := NewSketch()
	values := []float64{-2, -1, -0.5, 0, 0, 0.25, 3}
	for _, v := range values {
		k.Add(v)
	}
	for n := 1; n <= len(values); n++ {
		cut := k.Cut(float64(n) / float64(len(values)))
		kept := 0
		for i := len(values) - 1; i >= 0; i-- {
			if cut.Keep(values[i], []byte{byte(i)}, 1) {
				kept++
				if i < len(values)-n && values[i] != values[len(values)-n] {
					t.Errorf("top %d kept %v", n, values[i])
				}
			}
		}
		if kept != n && !(values[len(values)-n] == 0) {
			t.Errorf("top %d: kept %d", n, kept)
		}
	}
}

func TestSelectFractionOp(t *testing.T) {
	k := NewSketch()
	for i := 0; i < 100; i++ {
		k.Add(float64(i) / 100)
	}
	cut, _ := json.Marshal(k.Cut(0.25))
	op := buildOp(t, SelectFractionKind, FractionArgs{Field: "metadata.q", Seed: 1}, string(cut))
	kept := 0
	for i := 0; i < 100; i++ {
		_, keep, err := apply(t, op, fmt.Sprintf(`{"text":"t","metadata":{"q":{"score":%v}}}`, float64(i)/100))
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			kept++
			if i < 74 {
				t.Errorf("score %v kept in the top 25%%", float64(i)/100)
			}
		}
	}
	if kept < 24 || kept > 26 {
		t.Errorf("kept %d of 100, want 25", kept)
	}
	if _, _, err := apply(t, op, `{"text":"t"}`); err == nil || !rows.IsBadRow(err) {
		t.Errorf("unscored row: err %v", err)
	}
	spec, _ := rows.NewSpec(SelectFractionKind, FractionArgs{Field: "m"})
	if _, err := rows.Build([]rows.Spec{spec}, nil); err == nil {
		t.Error("select-fraction without a cut accepted")
	}
}

// TestUnquoteMatchesEncodingJSON decodes JSON strings with every kind of
// escape, valid and unpaired surrogates included, as encoding/json does.
func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		`plain text`, ``, `a\nb\tc\\d\"e\/f\bg\fh\ri`, `\u00e9t\u00E9`, `\ud83d\ude00 smile`,
		`lone \ud800 high`, `lone \udc00 low`, `\ud800\u0041 high then A`, `\ud800\ud800\udc00`,
		`end \ud83d`, `ends with escape \n`, `\\\\\\`, `mixed é ü \u4e2d\u6587`,
	}
	// Pseudo-random mixes of escapes, \\u code units and text.
	rand := uint64(1)
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for j := 0; j < 40; j++ {
			rand = rand*6364136223846793005 + 1442695040888963407
			switch rand >> 61 {
			case 0:
				b.WriteString(`\n`)
			case 1:
				fmt.Fprintf(&b, `\u%04x`, (rand>>20)&0xffff)
			case 2:
				b.WriteString(`\"`)
			default:
				b.WriteString("wörds ")
			}
		}
		cases = append(cases, b.String())
	}
	var buf []byte
	for _, c := range cases {
		var want string
		if err := json.Unmarshal([]byte(`"`+c+`"`), &want); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if got := unquote(c, &buf); got != want {
			t.Errorf("unquote(%q) = %q, want %q", c, got, want)
		}
	}
}

// TestSetField inserts scores wherever the parents stand, keeping every
// other byte of the row, and replaces scores already there.
func TestSetField(t *testing.T) {
	cases := []struct{ row, field, want string }{
		{`{"a":1}`, "m.s", `{"a":1,"m":{"s":{"x":1}}}`},
		{`{}`, "s", `{"s":{"x":1}}`},
		{`{ }`, "m.s", `{ "m":{"s":{"x":1}}}`},
		{`  {"a":1}  `, "s", `  {"a":1,"s":{"x":1}}  `},
		{`{"m":{"u":"é"},"z":[1]}`, "m.s", `{"m":{"u":"é","s":{"x":1}},"z":[1]}`},
		{`{"m":{},"z":0}`, "m.s", `{"m":{"s":{"x":1}},"z":0}`},
		{`{"m":{"n":{"k":true}}}`, "m.n.s", `{"m":{"n":{"k":true,"s":{"x":1}}}}`},
		{`{"m":{"n":{}}}`, "m.n.o.s", `{"m":{"n":{"o":{"s":{"x":1}}}}}`},
		{`{"m":{"s":{"x":0,"old":1}},"z":2}`, "m.s", `{"m":{"s":{"x":1}},"z":2}`},
	}
	for _, c := range cases {
		got, err := setField([]byte(c.row), splitPath(c.field), []byte(`{"x":1}`))
		if err != nil || string(got) != c.want {
			t.Errorf("setField(%s, %s) = %s, %v; want %s", c.row, c.field, got, err, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("setField(%s, %s) gave invalid JSON %s", c.row, c.field, got)
		}
	}
	for _, row := range []string{`{"m":[1]}`, `{"m":null}`, `{"m":{"n":"x"}}`} {
		if _, err := setField([]byte(row), splitPath("m.n.s"), []byte(`1`)); err == nil || !rows.IsBadRow(err) {
			t.Errorf("setField(%s): err %v, want a bad row", row, err)
		}
	}
}

// A cut among many scores the sketch cannot tell apart is reported as tied
// (issue 15: a model that never learned scored every row 0.4996–0.5006 and
// --keep-fraction 0.1 chose essentially at random, silently); a cut through
// spread scores is not.
func TestCutTied(t *testing.T) {
	flat, spread := NewSketch(), NewSketch()
	for i := 0; i < 1440; i++ {
		if err := flat.Add(0.5 + 1e-5*float64(i%7)); err != nil {
			t.Fatal(err)
		}
		if err := spread.Add(float64(i) / 1440); err != nil {
			t.Fatal(err)
		}
	}
	if c := flat.Cut(0.1); !c.Tied() || c.InBucket < 144 {
		t.Errorf("flat scores: cut %+v not reported as tied", c)
	}
	if c := spread.Cut(0.1); c.Tied() {
		t.Errorf("spread scores: cut %+v reported as tied", c)
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram(0, 1, 4)
	for _, v := range []float64{0, 0.2, 0.25, 0.5, 0.99, 1, -0.1, 1.5, math.NaN()} {
		h.Add(v)
	}
	if want := []int64{2, 1, 1, 2}; !slices.Equal(h.Counts, want) || h.Below != 1 || h.Above != 2 || h.Total() != 9 {
		t.Errorf("histogram %+v, want counts %v, 1 below, 2 above", h, want)
	}
	o := NewHistogram(0, 1, 4)
	o.Add(0.7)
	c := h.Clone()
	if err := c.Merge(o); err != nil || c.Counts[2] != 2 || h.Counts[2] != 1 || c.Total() != 10 {
		t.Errorf("merged %+v (from %+v), %v", c, h, err)
	}
	if err := c.Merge(NewHistogram(0, 5, 4)); err == nil {
		t.Error("histograms over other ranges merged")
	}
}

// TestScoreReportsEachTasksHistogram scores the rows of two tasks through
// one op: each task's report counts its own rows' scores.
func TestScoreReportsEachTasksHistogram(t *testing.T) {
	ref, c := softmaxModel(t)
	op := buildOp(t, ScoreKind, ScoreArgs{Model: ref, TextExpression: ".text", Field: "s"}, "")
	rep := op.(interface {
		StartTask(string)
		EndTask(string) (json.RawMessage, error)
	})
	texts := map[string][]string{"a.jsonl": {"delicious pizza", "sweet cake", "good morning"}, "b.jsonl": {"pasta"}}
	for src := range texts {
		rep.StartTask(src)
	}
	for src, ts := range texts {
		var rs []*rows.Row
		for i, text := range ts {
			b, _ := json.Marshal(map[string]string{"text": text})
			rs = append(rs, rows.New(b, src, int64(i+1)))
		}
		// A bad row is not scored, so not counted.
		rs = append(rs, rows.New([]byte(`{"body":1}`), src, 9))
		keep, errs := make([]bool, len(rs)), make([]error, len(rs))
		op.(rows.BatchOp).ApplyBatch(rs, keep, errs)
	}
	for src, ts := range texts {
		b, err := rep.EndTask(src)
		if err != nil {
			t.Fatal(err)
		}
		var facts ShardFacts
		if err := json.Unmarshal(b, &facts); err != nil {
			t.Fatal(err)
		}
		want := NewScoreHistogram(c.Info().Scoring)
		for _, text := range ts {
			want.Add(predict(t, c, text).Score)
		}
		if !slices.Equal(facts.Scores.Counts, want.Counts) || facts.Scores.Total() != int64(len(ts)) {
			t.Errorf("%s: histogram %+v, want %+v", src, facts.Scores, want)
		}
	}
	if b, err := rep.EndTask("a.jsonl"); b != nil || err != nil {
		t.Errorf("an ended task reported again: %s, %v", b, err)
	}
}
