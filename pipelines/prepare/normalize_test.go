package prepare

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
)

var bundledShards = []string{"train.jsonl.zst", "valid.jsonl.zst"}

// readBundled returns the rows of one bundled shard and of the same shard
// in dir, checking that they pair up.
func readBundled(t *testing.T, dir, name string) (in, out []map[string]any) {
	t.Helper()
	in = readAll(t, filepath.Join(bundled(t), name))
	out = readAll(t, filepath.Join(dir, name))
	if len(in) != 1000 || len(out) != len(in) {
		t.Fatalf("%s: %d rows in, %d out; want 1000 each", name, len(in), len(out))
	}
	return in, out
}

func TestNormalizeEqualsTheNormalizerOnBundledData(t *testing.T) {
	for _, name := range []string{normalize.Plsfix, normalize.Whitespace} {
		t.Run(name, func(t *testing.T) {
			n, err := normalize.New(name, normalize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			res, err := Normalize(context.Background(), NormalizeOptions{
				Common:          mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true},
				LabelExpression: ".scores.score", Normalization: name,
			})
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, shard := range bundledShards {
				in, got := readBundled(t, out, shard)
				for i := range in {
					want := n.Normalize(in[i]["text"].(string))
					if got[i]["text"] != want {
						t.Fatalf("%s row %d: text differs from %s applied directly", shard, i, name)
					}
					if want != in[i]["text"] {
						changed++
					}
					// Every other field, the numeric label included, is kept.
					in[i]["text"], got[i]["text"] = nil, nil
					if !reflect.DeepEqual(in[i], got[i]) {
						t.Fatalf("%s row %d: fields changed:\n in  %v\n out %v", shard, i, in[i], got[i])
					}
				}
			}
			t.Logf("%s changed %d of 2000 texts", name, changed)
			if name == normalize.Whitespace && changed == 0 {
				t.Error("whitespace changed no text: the texts were not normalized")
			}
			var opts struct {
				Normalization string `json:"normalization"`
				Normalizer    struct{ Name, Version string }
			}
			if err := json.Unmarshal(res.Manifest.Options, &opts); err != nil {
				t.Fatal(err)
			}
			if opts.Normalization != name || opts.Normalizer.Name != name || opts.Normalizer.Version != n.Version() {
				t.Errorf("manifest options %s: want normalizer %s version %s", res.Manifest.Options, name, n.Version())
			}
		})
	}
}

func TestNormalizeComputedTextAndStringLabels(t *testing.T) {
	ctx := context.Background()
	ws, _ := normalize.New(normalize.Whitespace, normalize.Options{})
	labelOf := func(score float64) string {
		if score >= 3 {
			return "high_quality"
		}
		return "low_quality"
	}

	// Computed expressions write to "text" and "score".
	out := t.TempDir()
	if _, err := Normalize(ctx, NormalizeOptions{
		Common:          mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true},
		Normalization:   normalize.Whitespace,
		TextExpression:  `"\(.id):\n\n\(.text)"`,
		LabelExpression: `if .scores.score >= 3 then "__label__High  Quality" else " Low` + "\t" + `Quality " end`,
	}); err != nil {
		t.Fatal(err)
	}
	for _, shard := range bundledShards {
		in, got := readBundled(t, out, shard)
		for i := range in {
			want := ws.Normalize(fmt.Sprintf("%s:\n\n%s", in[i]["id"], in[i]["text"]))
			score := in[i]["scores"].(map[string]any)["score"].(float64)
			if got[i]["text"] != want || got[i]["score"] != labelOf(score) || got[i]["id"] != in[i]["id"] || got[i]["scores"] == nil {
				t.Fatalf("%s row %d: got text %.40q score %v, want %.40q %s", shard, i, got[i]["text"], got[i]["score"], want, labelOf(score))
			}
		}
	}

	// A nested field holding a string label is normalized in place.
	labelled := t.TempDir()
	if _, err := Transform(ctx, TransformOptions{
		Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: labelled, Quiet: true},
		TransformArgs: rows.TransformArgs{
			Expression: `{id, text, meta: {quality: (if .scores.score >= 3 then "High Quality" else "__label__Low Quality" end), score: .scores.score}}`,
		},
	}); err != nil {
		t.Fatal(err)
	}
	nested := t.TempDir()
	if _, err := Normalize(ctx, NormalizeOptions{
		Common:          mapstep.Common{Inputs: []string{labelled}, Output: nested, Quiet: true},
		Normalization:   normalize.Whitespace,
		LabelExpression: ".meta.quality",
	}); err != nil {
		t.Fatal(err)
	}
	for _, shard := range bundledShards {
		_, got := readBundled(t, nested, shard)
		for i, r := range got {
			meta := r["meta"].(map[string]any)
			if meta["quality"] != labelOf(meta["score"].(float64)) || r["score"] != nil || len(r) != 3 {
				t.Fatalf("%s row %d: %v", shard, i, meta)
			}
		}
	}
}

func TestNormalizeBadRows(t *testing.T) {
	sample := readAll(t, filepath.Join(bundled(t), "train.jsonl.zst"))[:100]
	for i, r := range sample {
		switch i % 10 {
		case 3:
			delete(r, "text")
		case 5:
			r["scores"].(map[string]any)["score"] = nil
		case 7:
			r["scores"].(map[string]any)["score"] = "__label__ "
		}
	}
	in := t.TempDir()
	shard := filepath.Join(in, "train", "part-0.jsonl")
	writeRows(t, shard, sample)
	opts := NormalizeOptions{Common: mapstep.Common{Inputs: []string{in}, Quiet: true}, LabelExpression: ".scores.score", Normalization: normalize.Whitespace}

	opts.Output = t.TempDir()
	_, err := Normalize(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), shard+":4:") || !strings.Contains(err.Error(), "text") {
		t.Fatalf("error %v: want the first bad row, %s:4, and its missing text", err, shard)
	}

	opts.Output, opts.OnBadRow = t.TempDir(), "skip"
	res, err := Normalize(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Manifest.Totals; tot.RowsIn != 100 || tot.RowsOut != 70 || tot.BadRows != 30 {
		t.Fatalf("totals %+v: want 100 in, 70 out, 30 bad", tot)
	}
	errs := readAll(t, filepath.Join(opts.Output, "_errors", "train", "part-0.jsonl"))
	reasons := map[int64]string{}
	for _, e := range errs {
		reasons[int64(e["line"].(float64))] = e["reason"].(string)
	}
	for line, want := range map[int64]string{4: "missing field .text", 6: "label .scores.score: is null", 8: "empty as a label"} {
		if !strings.Contains(reasons[line], want) {
			t.Errorf("line %d: reason %q, want %q", line, reasons[line], want)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Output, "train", "part-0.jsonl.zst")); err != nil {
		t.Error(err)
	}
}

func TestNormalizeRefusesBadOptions(t *testing.T) {
	for _, o := range []NormalizeOptions{
		{Normalization: "no-such-normalizer"},
		{Normalization: normalize.Whitespace, Tokenizer: "tokenizer.json"},
		{Normalization: normalize.Ultrafine},
		{TextExpression: ".text |"},
	} {
		o.Common = mapstep.Common{Inputs: []string{bundled(t)}, Output: t.TempDir(), Quiet: true}
		if _, err := Normalize(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		} else {
			t.Log(err)
		}
	}
}
