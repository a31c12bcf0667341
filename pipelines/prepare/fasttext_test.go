package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// splitRows reads a dataset's rows split by split, in the order to-fasttext
// writes them: shards sorted by path, rows in file order.
func splitRows(t *testing.T, dir string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, split := range []string{"train", "valid", "test"} {
		if _, err := os.Stat(filepath.Join(dir, split)); err == nil {
			out[split] = readAll(t, shardsUnder(t, filepath.Join(dir, split))...)
		}
	}
	return out
}

// readLines returns the lines of a fastText file, failing on a missing final
// newline.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := storage.ReadFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// fastTextLine is a line split into its labels and text, and checked: the
// labels lead, nothing else in the line looks like a label, and no carriage
// return is left.
var fastTextLine = regexp.MustCompile(`^((?:__label__[^\s]+ )+)([^\r]*)$`)

func parseLine(t *testing.T, where, line string) (labels []string, text string) {
	t.Helper()
	m := fastTextLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%s: not a fastText line: %.120q", where, line)
	}
	if strings.Contains(m[2], ftdata.LabelPrefix) {
		t.Fatalf("%s: text holds a label prefix: %.120q", where, line)
	}
	for _, l := range strings.Fields(m[1]) {
		labels = append(labels, strings.TrimPrefix(l, ftdata.LabelPrefix))
	}
	return labels, m[2]
}

// checkLines compares every split file of out with the rows of in: one line
// per row, in order, with the labels labelsOf gives and the text the
// formatter gives. It returns the label histograms.
func checkLines(t *testing.T, in map[string][]map[string]any, out string, f *ftdata.Formatter, labelsOf func(map[string]any) []string) map[string]ftdata.SplitCounts {
	t.Helper()
	counts := map[string]ftdata.SplitCounts{}
	for _, sf := range splitFiles {
		want, ok := in[sf.split]
		if !ok {
			if ok, _ := storage.Exists(context.Background(), storage.Join(out, sf.name)); ok {
				t.Errorf("%s written for a dataset without that split", sf.name)
			}
			continue
		}
		lines := readLines(t, storage.Join(out, sf.name))
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines for %d rows", sf.name, len(lines), len(want))
		}
		c := ftdata.SplitCounts{Labels: map[string]int64{}}
		for i, line := range lines {
			labels, text := parseLine(t, sf.name+":"+strconv.Itoa(i+1), line)
			wantLabels := labelsOf(want[i])
			if !slices.Equal(labels, wantLabels) {
				t.Fatalf("%s:%d: labels %v, want %v", sf.name, i+1, labels, wantLabels)
			}
			if wantText := f.Text(want[i]["text"].(string)); text != wantText {
				t.Fatalf("%s:%d: text\n%.200q\nwant\n%.200q", sf.name, i+1, text, wantText)
			}
			c.Add(labels...)
		}
		counts[sf.split] = c
	}
	return counts
}

func score(row map[string]any) float64 {
	return row["scores"].(map[string]any)["score"].(float64)
}

func TestToFastText(t *testing.T) {
	ctx := context.Background()
	// The bundled rows as train (700), valid (1000) and test (300) shards of
	// 150 rows, every field kept.
	raw := t.TempDir()
	if _, err := Import(ctx, ImportOptions{
		Common:    mapstep.Common{Inputs: []string{bundled(t)}, Output: raw, Quiet: true},
		TestSplit: 0.3, RowsPerFile: 150, Seed: 5,
	}); err != nil {
		t.Fatal(err)
	}
	rawRows := splitRows(t, raw)
	if len(rawRows["train"]) != 700 || len(rawRows["valid"]) != 1000 || len(rawRows["test"]) != 300 {
		t.Fatalf("fixture splits: %d/%d/%d rows", len(rawRows["train"]), len(rawRows["valid"]), len(rawRows["test"]))
	}
	ws, _ := normalize.New(normalize.Whitespace, normalize.Options{})
	wsFormatter := &ftdata.Formatter{Normalizer: ws}

	t.Run("BinaryLabels", func(t *testing.T) {
		binary := t.TempDir()
		if _, err := Transform(ctx, TransformOptions{
			Common:        mapstep.Common{Inputs: []string{raw}, Output: binary, Quiet: true},
			TransformArgs: rows.TransformArgs{TextTransform: "{id, text}", LabelTransform: binarize},
		}); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		res, err := ToFastText(ctx, FastTextOptions{Common: mapstep.Common{Inputs: []string{binary}, Output: out, Quiet: true}})
		if err != nil {
			t.Fatal(err)
		}
		counts := checkLines(t, splitRows(t, binary), out, wsFormatter, func(r map[string]any) []string {
			return []string{r["score"].(string)}
		})
		want := ftdata.Report{
			Inputs: []string{binary}, TextExpression: ".text", LabelExpression: ".score",
			Normalizer: normalize.Describe(ws), Splits: counts, Code: res.Report.Code,
		}
		if !reflect.DeepEqual(*res.Report, want) {
			t.Errorf("report\n%+v\nwant\n%+v", *res.Report, want)
		}
		onDisk, err := ftdata.ReadReport(ctx, out)
		if err != nil || !reflect.DeepEqual(onDisk, res.Report) {
			t.Errorf("report.json %+v (%v), want %+v", onDisk, err, res.Report)
		}
		if counts["train"].Labels["pos"] == 0 || counts["train"].Labels["neg"] == 0 {
			t.Errorf("train labels %v: want both classes", counts["train"].Labels)
		}
		m := res.Manifest
		if m.Totals.RowsIn != 2000 || m.Totals.RowsOut != 2000 || m.Splits["valid"].RowsOut != 1000 || len(m.Outputs) != 3 {
			t.Errorf("manifest totals %+v, valid %+v, outputs %v", m.Totals, m.Splits["valid"], m.Outputs)
		}
		if _, err := os.Stat(filepath.Join(out, PartsDir)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after a finished run (%v)", PartsDir, err)
		}

		t.Run("AcceptedByFastTextCLI", func(t *testing.T) {
			bin, err := exec.LookPath("fasttext")
			if err != nil {
				t.Skip("fasttext (Debian package fasttext) is not installed")
			}
			model := filepath.Join(t.TempDir(), "model")
			cmd := exec.Command(bin, "supervised", "-input", filepath.Join(out, ftdata.TrainName), "-output", model, "-epoch", "5", "-dim", "10", "-thread", "1", "-verbose", "0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("fasttext supervised: %v\n%s", err, b)
			}
			b, err := exec.Command(bin, "test", model+".bin", filepath.Join(out, ftdata.TestName)).CombinedOutput()
			if err != nil {
				t.Fatalf("fasttext test: %v\n%s", err, b)
			}
			// "N\t300\nP@1\t0.9\nR@1\t0.9": fastText read every test line as one example.
			if !regexp.MustCompile(`(?m)^N\s+300$`).Match(b) {
				t.Errorf("fasttext test read other than 300 examples:\n%s", b)
			}
			labels, err := exec.Command(bin, "dump", model+".bin", "dict").Output()
			if err != nil {
				t.Fatal(err)
			}
			n := strings.Count(string(labels), "__label__")
			if n != 2 {
				t.Errorf("the model knows %d labels, want pos and neg:\n%.500s", n, labels)
			}
		})
	})

	t.Run("Auto", func(t *testing.T) {
		// Valid and test scores shifted far above the training ones: bins
		// made from every split would differ from the training bins.
		shifted := t.TempDir()
		if _, err := Transform(ctx, TransformOptions{
			Common:        mapstep.Common{Inputs: []string{filepath.Join(raw, "valid"), filepath.Join(raw, "test")}, Output: shifted, Quiet: true},
			TransformArgs: rows.TransformArgs{Expression: ".scores.score += 10"},
		}); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		res, err := ToFastText(ctx, FastTextOptions{
			Common:          mapstep.Common{Inputs: []string{filepath.Join(raw, "train"), shifted}, Output: out, Quiet: true},
			LabelExpression: ".scores.score", Auto: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		var train []float64
		for _, r := range rawRows["train"] {
			train = append(train, score(r))
		}
		bins, err := ftdata.AutoBins(train, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Report.AutoBins, bins) || bins.Count() < 2 {
			t.Fatalf("report bins %v, want %v from the training labels", res.Report.AutoBins, bins)
		}
		// Every split is binned with the training edges.
		in := splitRows(t, shifted)
		in["train"] = rawRows["train"]
		counts := checkLines(t, in, out, wsFormatter, func(r map[string]any) []string {
			return []string{bins.Label(score(r))}
		})
		if !reflect.DeepEqual(res.Report.Splits, counts) {
			t.Errorf("report counts %v, want %v", res.Report.Splits, counts)
		}
		top := strconv.Itoa(bins.Count() - 1)
		if v := counts["valid"]; v.Rows != 1000 || v.Labels[top] != 1000 {
			t.Errorf("valid labels %v: want all 1000 in the top training bin %s", v.Labels, top)
		}
		t.Logf("edges %v; train bins %v", bins, counts["train"].Labels)
	})

	t.Run("MultiLabel", func(t *testing.T) {
		out := t.TempDir()
		res, err := ToFastText(ctx, FastTextOptions{
			Common:          mapstep.Common{Inputs: []string{raw}, Output: out, Quiet: true},
			LabelExpression: `{long: (.text|length > 2000), edu: (.scores.score >= 2)}`, MultiLabel: true, MaxLength: 500,
		})
		if err != nil {
			t.Fatal(err)
		}
		counts := checkLines(t, rawRows, out, &ftdata.Formatter{Normalizer: ws, MaxLength: 500}, func(r map[string]any) []string {
			var labels []string
			if score(r) >= 2 {
				labels = append(labels, "edu")
			}
			if utf8.RuneCountInString(r["text"].(string)) > 2000 {
				labels = append(labels, "long")
			}
			if labels == nil {
				labels = []string{ftdata.NoLabel}
			}
			return labels
		})
		if !reflect.DeepEqual(res.Report.Splits, counts) || !res.Report.MultiLabel || res.Report.MaxLength != 500 {
			t.Errorf("report %+v, want counts %v", res.Report, counts)
		}
		for _, l := range []string{"edu", "long", ftdata.NoLabel} {
			if counts["train"].Labels[l] == 0 {
				t.Errorf("no training line labelled %s: %v", l, counts["train"].Labels)
			}
		}
	})

	t.Run("ObjectStore", func(t *testing.T) {
		fakecloud.StartGCS(t, "ft")
		out := "gs://ft/edu"
		// A stale valid.txt of an earlier run goes: this input has no valid split.
		if err := storage.WriteFile(ctx, out+"/"+ftdata.ValidName, []byte("__label__old x\n")); err != nil {
			t.Fatal(err)
		}
		noValid := []string{filepath.Join(raw, "train"), filepath.Join(raw, "test")}
		res, err := ToFastText(ctx, FastTextOptions{
			Common:          mapstep.Common{Inputs: noValid, Output: out, Quiet: true},
			LabelExpression: ".scores.score",
		})
		if err != nil {
			t.Fatal(err)
		}
		withoutValid := map[string][]map[string]any{"train": rawRows["train"], "test": rawRows["test"]}
		counts := checkLines(t, withoutValid, out, wsFormatter, func(r map[string]any) []string {
			return []string{strconv.Itoa(int(score(r)))}
		})
		if !reflect.DeepEqual(res.Report.Splits, counts) {
			t.Errorf("report counts %v, want %v", res.Report.Splits, counts)
		}
		left, err := storage.ListTree(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{out + "/_manifest.json", out + "/report.json", out + "/test.txt", out + "/train.txt"}
		if !slices.Equal(left, want) {
			t.Errorf("the output holds %v, want %v", left, want)
		}
	})
}

// writeRows writes rows as a JSON Lines shard.
func writeRows(t *testing.T, path string, rows []map[string]any) {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestToFastTextDefusesLabelsAndLineBreaks(t *testing.T) {
	sample := readAll(t, filepath.Join(bundled(t), "valid.jsonl.zst"))[:60]
	var rowsIn []map[string]any
	for i, r := range sample {
		text := r["text"].(string)
		switch i % 3 {
		case 0:
			text = "__label__spam " + text + "\r\nsee ____label__label__ham\u2028end"
		case 1:
			text = strings.ReplaceAll(text, " ", "\n")
		}
		label := "Very Good"
		if i%2 == 1 {
			label = "__label__Not\tGood"
		}
		rowsIn = append(rowsIn, map[string]any{"text": text, "label": label})
	}
	in := t.TempDir()
	writeRows(t, filepath.Join(in, "train", "a.jsonl"), rowsIn[:40])
	writeRows(t, filepath.Join(in, "test", "a.jsonl"), rowsIn[40:])
	for _, norm := range []string{normalize.Plsfix, normalize.Whitespace} {
		out := t.TempDir()
		res, err := ToFastText(context.Background(), FastTextOptions{
			Common:        mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true},
			Normalization: norm, LabelExpression: ".label",
		})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := normalize.New(norm, normalize.Options{})
		counts := checkLines(t, map[string][]map[string]any{"train": rowsIn[:40], "test": rowsIn[40:]}, out, &ftdata.Formatter{Normalizer: n},
			func(r map[string]any) []string { return []string{normalize.Label(r["label"].(string))} })
		if counts["train"].Labels["very_good"] != 20 || counts["train"].Labels["not_good"] != 20 {
			t.Errorf("%s: train labels %v", norm, counts["train"].Labels)
		}
		if res.Report.Normalizer.Name != norm {
			t.Errorf("report normalizer %+v", res.Report.Normalizer)
		}
	}
}

func TestToFastTextBadRows(t *testing.T) {
	sample := readAll(t, filepath.Join(bundled(t), "train.jsonl.zst"))[:100]
	in := t.TempDir()
	var train, test []map[string]any
	for i, r := range sample {
		switch i % 10 {
		case 1:
			delete(r, "text")
		case 2:
			r["scores"].(map[string]any)["score"] = "high"
		case 3:
			delete(r, "scores")
		}
		if i < 80 {
			train = append(train, r)
		} else {
			test = append(test, r)
		}
	}
	trainShard := filepath.Join(in, "train", "a.jsonl")
	writeRows(t, trainShard, train)
	writeRows(t, filepath.Join(in, "test", "a.jsonl"), test)
	opts := FastTextOptions{Common: mapstep.Common{Inputs: []string{in}, Quiet: true}, LabelExpression: ".scores.score", Auto: 2}

	opts.Output = t.TempDir()
	_, err := ToFastText(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), trainShard+":2:") {
		t.Fatalf("error %v: want the first bad row, %s:2", err, trainShard)
	}
	if _, serr := os.Stat(filepath.Join(opts.Output, ftdata.ReportName)); !os.IsNotExist(serr) {
		t.Errorf("a failed run left %s (%v)", ftdata.ReportName, serr)
	}

	opts.Output, opts.OnBadRow = t.TempDir(), "skip"
	res, err := ToFastText(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr := res.Report.Splits["train"]; tr.Rows != 56 || res.Manifest.Splits["train"].BadRows != 24 || res.Manifest.Totals.RowsOut != 70 {
		t.Errorf("train %+v, manifest %+v: want 56 of 80 training rows written, 30 bad rows in all", tr, res.Manifest.Totals)
	}
	errs := readAll(t, filepath.Join(opts.Output, "_errors", "train", "a.jsonl"))
	reasons := map[int64]string{}
	for _, e := range errs {
		reasons[int64(e["line"].(float64))] = e["reason"].(string)
	}
	for line, want := range map[int64]string{2: "missing field .text", 3: `"high" is not a number`, 4: "missing field .scores"} {
		if !strings.Contains(reasons[line], want) {
			t.Errorf("line %d: reason %q, want %q", line, reasons[line], want)
		}
	}
	// The bins come from the 56 good training labels only.
	var good []float64
	for _, r := range train {
		if s, ok := r["scores"].(map[string]any); ok && r["text"] != nil {
			if v, ok := s["score"].(float64); ok {
				good = append(good, v)
			}
		}
	}
	bins, _ := ftdata.AutoBins(good, 2)
	if !slices.Equal(res.Report.AutoBins, bins) {
		t.Errorf("bins %v, want %v", res.Report.AutoBins, bins)
	}
}

func TestToFastTextRefusesDatasetsWithoutSplits(t *testing.T) {
	ctx := context.Background()
	flat := t.TempDir()
	writeRows(t, filepath.Join(flat, "a.jsonl"), []map[string]any{{"text": "x", "score": 1}})
	trainOnly := t.TempDir()
	writeRows(t, filepath.Join(trainOnly, "train", "a.jsonl"), []map[string]any{{"text": "x", "score": 1}})
	for in, want := range map[string]string{flat: "not in a train/, valid/ or test/ folder", trainOnly: "no test/ split"} {
		_, err := ToFastText(ctx, FastTextOptions{Common: mapstep.Common{Inputs: []string{in}, Output: t.TempDir(), Quiet: true}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	for _, o := range []FastTextOptions{
		{Auto: 2, MultiLabel: true},
		{Auto: -1},
		{Common: mapstep.Common{Compression: "zst"}},
		{LabelExpression: "{"},
	} {
		o.Inputs, o.Output, o.Quiet = []string{trainOnly}, t.TempDir(), true
		if _, err := ToFastText(ctx, o); err == nil || strings.Contains(err.Error(), "split") {
			t.Errorf("%+v: error %v, want the option refused", o, err)
		}
	}
}

func TestToFastTextResumesFromParts(t *testing.T) {
	ctx := context.Background()
	sample := readAll(t, filepath.Join(bundled(t), "valid.jsonl.zst"))[:30]
	in := t.TempDir()
	for i, part := range [][]map[string]any{sample[:10], sample[10:20], sample[20:]} {
		split := "train"
		if i == 2 {
			split = "test"
		}
		for _, r := range part {
			r["score"] = r["scores"].(map[string]any)["score"]
		}
		writeRows(t, filepath.Join(in, split, strconv.Itoa(i)+".jsonl"), part)
	}
	files, err := dataset.Discover(ctx, []string{in}, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// A run killed after converting the first shard left its part and
	// completion marker: convert it as ToFastText plans it.
	ws, _ := normalize.New(normalize.Whitespace, normalize.Options{})
	plan := shardmap.Plan{Ops: []rows.Spec{*mapstep.MustSpec("fasttext-line", ftdata.LineArgs{
		TextExpression: ".text", LabelExpression: ".score", Normalizer: normalize.Describe(ws),
	})}}
	work, err := plan.Build(json.RawMessage("null"))
	if err != nil {
		t.Fatal(err)
	}
	task := fastTextTasks(out, false, files)[1]
	if task.Rel != "train/0.jsonl" {
		t.Fatalf("task %+v: want the first training shard", task)
	}
	if _, err := shardmap.Shared(0).Run(ctx, task, work, plan.Policy); err != nil {
		t.Fatal(err)
	}
	// Mark the part's lines, so that the final file shows whether it was
	// reused rather than converted again.
	part, err := os.ReadFile(task.Output)
	if err != nil {
		t.Fatal(err)
	}
	marked := bytes.ReplaceAll(part, []byte("\n"), []byte(" resumed\n"))
	if err := os.WriteFile(task.Output, marked, 0o644); err != nil {
		t.Fatal(err)
	}

	res, err := ToFastText(ctx, FastTextOptions{Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counters["intermediate_shards_resumed"] != 1 {
		t.Errorf("counters %v: want 1 part resumed", res.Counters)
	}
	trainFile, err := os.ReadFile(filepath.Join(out, ftdata.TrainName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(trainFile, marked) || bytes.Count(trainFile, []byte(" resumed\n")) != 10 || res.Report.Splits["train"].Rows != 20 {
		t.Errorf("train.txt does not start with the resumed part's 10 lines followed by 10 more:\n%.300s", trainFile)
	}
	if _, err := os.Stat(filepath.Join(out, PartsDir)); !os.IsNotExist(err) {
		t.Errorf("%s left behind (%v)", PartsDir, err)
	}
}

func TestToFastTextWithATokenizer(t *testing.T) {
	tokenizer := testutil.BertTokenizer(t)
	sample := readAll(t, filepath.Join(bundled(t), "valid.jsonl.zst"))[:40]
	in := t.TempDir()
	writeRows(t, filepath.Join(in, "train", "a.jsonl"), sample[:30])
	writeRows(t, filepath.Join(in, "test", "a.jsonl"), sample[30:])
	out := t.TempDir()
	res, err := ToFastText(context.Background(), FastTextOptions{
		Common:        mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true},
		Normalization: normalize.Ultrafine, Tokenizer: tokenizer, LabelExpression: ".scores.score", MaxLength: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := normalize.New(normalize.Ultrafine, normalize.Options{Tokenizer: tokenizer})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, map[string][]map[string]any{"train": sample[:30], "test": sample[30:]}, out, &ftdata.Formatter{Normalizer: n, MaxLength: 2000},
		func(r map[string]any) []string { return []string{strconv.Itoa(int(score(r)))} })
	if got, want := res.Report.Normalizer, normalize.Describe(n); got != want || want.TokenizerHash == "" {
		t.Errorf("report normalizer %+v, want %+v", got, want)
	}
}
