package flow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// childFlow makes the test binary run the flow file it names (in the
// experiment directory childExp) instead of the tests: the kill test kills
// such a child.
const (
	childFlow = "WINNOW_FLOW_TEST_CHILD"
	childExp  = "WINNOW_FLOW_TEST_CHILD_EXP"
)

func TestMain(m *testing.M) {
	beam.Init()
	if path := os.Getenv(childFlow); path != "" {
		s, err := Load(path)
		if err == nil {
			s.Experiment = os.Getenv(childExp)
			_, err = Run(context.Background(), s, Options{Quiet: true})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// smallFlow is a quick flow over the bundled sample: one fastText
// classifier, a keep fraction.
func smallFlow(t *testing.T, exp string, edit func(string) string) *Spec {
	t.Helper()
	root := testutil.RepoRoot(t)
	src := fmt.Sprintf(`name: small
experiment: %s
pool:
  inputs: [%s]
label:
  expression: .scores.score
  transform: 'if . >= 3 then "pos" else "neg" end'
split: {test: 0.2, files: 2, seed: 1}
classifiers:
  - name: ft
    kind: fasttext
    options: {dim: 16, epoch: 5, bucket: 100000, thread: 1, seed: 1}
filter:
  keep_fraction: 0.1
`, exp, filepath.Join(root, "data", "fineweb-edu-llama3-sample"))
	if edit != nil {
		src = edit(src)
	}
	s, err := Parse(filepath.Join(exp, "flow.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// started returns each completed step's start time by folder.
func started(t *testing.T, exp string) map[string]time.Time {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(exp, RecordsDir, "*.json"))
	out := map[string]time.Time{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(r.Dir)] = r.Started
	}
	return out
}

// ran lists the steps a run ran.
func ran(o *Outcome) []string {
	var out []string
	for _, s := range o.Steps {
		if s.Ran {
			out = append(out, s.Step)
		}
	}
	return out
}

func TestOptionChangeRerunsExactlyTheDependentSteps(t *testing.T) {
	ctx := context.Background()
	exp := t.TempDir()
	first, err := Run(ctx, smallFlow(t, exp, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(first), " "); got != "label split fasttext-data-plsfix train-ft select filter" {
		t.Fatalf("first run ran %q", got)
	}
	before := started(t, exp)

	again, err := Run(ctx, smallFlow(t, exp, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ran(again); len(r) != 0 {
		t.Errorf("a run with nothing changed ran %v", r)
	}

	// The keep fraction is the filter's alone.
	res, err := Run(ctx, smallFlow(t, exp, func(s string) string { return strings.Replace(s, "keep_fraction: 0.1", "keep_fraction: 0.2", 1) }), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "filter" {
		t.Errorf("changing the keep fraction ran %q, want filter", got)
	}
	after := started(t, exp)
	for dir, at := range before {
		if !after[dir].Equal(at) {
			t.Errorf("%s was written again", dir)
		}
	}
	var newDirs []string
	for dir := range after {
		if _, ok := before[dir]; !ok {
			newDirs = append(newDirs, dir)
		}
	}
	if len(newDirs) != 1 || !strings.HasPrefix(newDirs[0], "filter-") {
		t.Errorf("new step folders %v, want one filter folder", newDirs)
	}
	// The filter's manifest says what it kept.
	var m struct {
		Totals struct {
			RowsOut int64 `json:"rows_out"`
		}
	}
	b, err := os.ReadFile(filepath.Join(exp, newDirs[0], "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Totals.RowsOut < 360 || m.Totals.RowsOut > 440 {
		t.Errorf("the new filter kept %d rows, want about 400 of 2000", m.Totals.RowsOut)
	}

	// A training option reruns training, selection and the filter only.
	res, err = Run(ctx, smallFlow(t, exp, func(s string) string { return strings.Replace(s, "epoch: 5", "epoch: 6", 1) }), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "train-ft select filter" {
		t.Errorf("changing the epochs ran %q, want train-ft select filter", got)
	}

	// --force reruns a step and what reads it; --until stops.
	res, err = Run(ctx, smallFlow(t, exp, nil), Options{Force: []string{"split"}, Until: "train"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "split fasttext-data-plsfix train-ft" {
		t.Errorf("--force split --until train ran %q", got)
	}

	// The report has every section.
	rep, err := BuildReport(context.Background(), exp)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Classifiers) != 1 || rep.Classifiers[0].ROC["pos"] == nil || len(rep.Classifiers[0].Confusion) != 2 || rep.Filter == nil || rep.Filter.Report.Scores.Total() != 2000 {
		t.Errorf("report: %+v", rep)
	}
	html, err := os.ReadFile(filepath.Join(exp, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	// Labels of the label step and of the split's train and test rows;
	// ROC, precision-recall, calibration; scores and kept per shard.
	if n := bytes.Count(html, []byte("<svg")); n != 8 {
		t.Errorf("report.html has %d charts, want 8", n)
	}
	for _, ref := range []string{"<script", "src=", "href=", "url(", "@import"} {
		if bytes.Contains(html, []byte(ref)) {
			t.Errorf("report.html holds %q: it must need nothing but itself", ref)
		}
	}
	checkInChromium(t, html, 8)
}

func TestInvalidFlowFiles(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, src, want string }{
		{"unknown key", "pool:\n  inputs: [" + dir + "]\n  bogus: 1\n", `line 3: unknown key "bogus" in pool`},
		{"wrong type", "pool:\n  inputs: [" + dir + "]\nsample:\n  rate: lots\n", `line 4: "lots" is a string where a number is wanted`},
		{"missing input", "pool:\n  inputs: [" + dir + "/absent]\nannotate: {model: m, prompt: finemath}\n", `:2: pool.inputs[0]: ` + dir + `/absent does not exist`},
		{"no pool", "annotate: {model: m, prompt: finemath}\n", `pool.inputs: give the corpus`},
		{"unknown prompt", "pool: {inputs: [" + dir + "]}\nannotate:\n  model: m\n  prompt: nosuch\n", `:4: annotate.prompt:`},
		{"unknown kind", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: svm\n", `:5: classifiers[0].kind: unknown kind "svm"`},
		{"unknown option", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: fasttext\n    options: {dimension: 3}\n", `classifiers[0].options: unknown key "dimension" in fasttext options`},
		{"two rules", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers: [{kind: fasttext}]\nfilter: {keep_fraction: 0.1, threshold: 0.5}\n", `:5: filter: give exactly one keep rule`},
		{"bad jq", "pool: {inputs: [" + dir + "]}\nlabel:\n  expression: .s |\n", `:3: label.expression:`},
		{"metric", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers: [{kind: fasttext}]\nselect: {metric: vibes}\n", `:5: select.metric: unknown metric "vibes"`},
		{"encoder base", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: encoder\n    options: {epochs: 3}\n", `:6: classifiers[0].options: give the base encoder`},
		{"encoder option", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: encoder\n    options: {base: hf://a/b, max_epochs: 3}\n", `classifiers[0].options: unknown key "max_epochs" in encoder options`},
		{"encoder range", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: encoder\n    options:\n      base: hf://a/b\n      num_labels: 6\n      range: [0, 5]\n", `:9: classifiers[0].options.range: a score range applies to a regressor`},
		{"encoder backend", "pool: {inputs: [" + dir + "]}\nlabel: {expression: .s}\nsplit: {test: 0.2}\nclassifiers:\n  - kind: encoder\n    options:\n      base: hf://a/b\n      backend: cuda\n", `:8: classifiers[0].options.backend: "cuda": want go, xla:cuda`},
		{"runner step", "pool: {inputs: [" + dir + "]}\nannotate: {model: m, prompt: finemath}\nrunner:\n  steps:\n    scoring: {runner: dataflow}\n", `:5: runner.steps.scoring: unknown step`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("flow.yaml", []byte(c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "flow.yaml") {
				t.Errorf("error %v, want one naming the file and containing %q", err, c.want)
			}
		})
	}
}

func TestLabellingFlowWithFaultsAnnotatesOrRecordsEveryRow(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(req *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		h := sha256.Sum256([]byte(req.Prompt()))
		switch {
		case h[0]%5 == 0 && attempt == 1:
			return fakeopenai.Fault{Kind: fakeopenai.RateLimit, RetryAfter: "0"}
		case h[0]%5 == 1 && attempt <= 2:
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		case h[0]%5 == 2:
			return fakeopenai.Fault{Kind: fakeopenai.Unparseable}
		}
		return fakeopenai.Fault{}
	}})
	defer srv.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "pool")
	lines := annotationSample(t)
	writePool(t, in, lines, 10)
	src := fmt.Sprintf(`pool: {inputs: [%s]}
annotate:
  endpoint: %s
  model: test-model
  prompt: finemath
  concurrency: 4
  max_attempts: 4
  cache_dir: %s
`, in, srv.URL, filepath.Join(dir, "cache"))
	s, err := Parse("labelling.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s.Experiment = filepath.Join(dir, "exp")
	res, err := Run(context.Background(), s, Options{Quiet: true, annotateHook: func(o *annotate.Options) {
		o.BackoffBase, o.BackoffMax, o.RequestTimeout = 5*time.Millisecond, 20*time.Millisecond, 2*time.Second
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "annotate" {
		t.Fatalf("ran %q", got)
	}
	rep, err := BuildReport(context.Background(), s.Experiment)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Annotation
	if a == nil || a.Errors == 0 || a.Summary.Ledger.Annotated == 0 || a.Summary.Ledger.Annotated+a.Errors != int64(len(lines)) {
		t.Fatalf("annotation %+v: want every one of %d rows annotated or in _errors/, some of each", a, len(lines))
	}
	var total int64
	for _, n := range a.Labels["score"] {
		total += n
	}
	if total != a.Summary.Ledger.Annotated {
		t.Errorf("score histogram counts %d rows, %d were annotated", total, a.Summary.Ledger.Annotated)
	}
}

// annotationSample returns the rows of the bundled annotation sample (id,
// text and a 0-5 score).
func annotationSample(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "annotate/fineweb-edu-sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// writePool writes lines into dir as shards of perShard rows.
func writePool(t *testing.T, dir string, lines []string, perShard int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(lines); i += perShard {
		part := lines[i:min(i+perShard, len(lines))]
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", i/perShard)), []byte(strings.Join(part, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeDigest hashes the decompressed rows of every shard under dir, by
// relative path.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(info.Name(), ".jsonl") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s\n", rel)
		if err := shardio.Each(context.Background(), f, func(line []byte, _ int64) error { h.Write(line); h.Write([]byte{'\n'}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestKilledFlowResumesToTheSameOutput(t *testing.T) {
	ctx := context.Background()
	whole := t.TempDir()
	s := smallFlow(t, whole, nil)
	if _, err := Run(ctx, s, Options{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	want := treeDigest(t, stepDir(t, whole, "filter-"))

	exp := t.TempDir()
	flowFile := filepath.Join(t.TempDir(), "flow.yaml")
	root := testutil.RepoRoot(t)
	yaml := fmt.Sprintf("pool: {inputs: [%s]}\nlabel: {expression: .scores.score, transform: 'if . >= 3 then \"pos\" else \"neg\" end'}\nsplit: {test: 0.2, files: 2, seed: 1}\nclassifiers:\n  - name: ft\n    kind: fasttext\n    options: {dim: 16, epoch: 5, bucket: 100000, thread: 1, seed: 1}\nfilter: {keep_fraction: 0.1}\n",
		filepath.Join(root, "data", "fineweb-edu-llama3-sample"))
	if err := os.WriteFile(flowFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// Kill the flow after 1, 3 and 4 completed steps (mid-split,
	// mid-training, mid-filter, give or take the machine's speed).
	for _, after := range []int{1, 3, 5} {
		testutil.KillChildWhen(t, []string{childFlow + "=" + flowFile, childExp + "=" + exp}, 20*time.Millisecond, 3*time.Minute,
			func() bool { return len(started(t, exp)) >= after })
	}
	ks, err := Load(flowFile)
	if err != nil {
		t.Fatal(err)
	}
	ks.Experiment = exp
	if _, err := Run(ctx, ks, Options{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	if got := treeDigest(t, stepDir(t, exp, "filter-")); got != want {
		t.Errorf("the filtered corpus after kills differs from an uninterrupted run's")
	}
	for _, name := range []string{"split-", "label-"} {
		if treeDigest(t, stepDir(t, exp, name)) != treeDigest(t, stepDir(t, whole, name)) {
			t.Errorf("%s differs from an uninterrupted run's", name)
		}
	}
}

// stepDir returns the one step folder under exp whose name starts with
// prefix.
func stepDir(t *testing.T, exp, prefix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(exp, prefix+"*"))
	var dirs []string
	for _, d := range m {
		if st, err := os.Stat(d); err == nil && st.IsDir() && !strings.HasSuffix(d, ".rejected") {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) != 1 {
		t.Fatalf("step folders %s*: %v", prefix, dirs)
	}
	return dirs[0]
}
