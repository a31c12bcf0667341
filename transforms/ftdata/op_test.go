package ftdata

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/summary"
)

func TestTrainingBinsUseTrainingNumbersOnly(t *testing.T) {
	sum := summary.New()
	for _, task := range []summary.Task{
		{Input: "train/a", Split: "train", Labels: map[string]int64{"0": 2, "1": 5, "2.5": 3, "high": 4}},
		{Input: "valid/a", Split: "valid", Labels: map[string]int64{"9": 100}},
	} {
		if err := sum.AddTask(task, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := TrainingBins(sum, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := AutoBins([]float64{0, 0, 1, 1, 1, 1, 1, 2.5, 2.5, 2.5}, 2)
	if !slices.Equal(got, want) {
		t.Errorf("bins %v, want %v", got, want)
	}
	if _, err := TrainingBins(summary.New(), 2); err == nil {
		t.Error("bins without a train split")
	}
}

// lineOf applies a "fasttext-line" op built through the registry.
func lineOf(t *testing.T, a LineArgs, global []byte, row string) (string, error) {
	t.Helper()
	ws, _ := normalize.New(normalize.Whitespace, normalize.Options{})
	a.Normalizer = normalize.Describe(ws)
	args, _ := json.Marshal(a)
	ops, err := rows.Build([]rows.Spec{{Kind: "fasttext-line", Args: args}}, global)
	if err != nil {
		t.Fatal(err)
	}
	r := rows.New([]byte(row), "in.jsonl", 1)
	if _, err := ops[0].Apply(r); err != nil {
		return "", err
	}
	b, err := r.Encode()
	return string(b), err
}

func TestLineOp(t *testing.T) {
	sum := summary.New()
	if err := sum.AddTask(summary.Task{Input: "t", Split: "train", Labels: map[string]int64{"1": 1, "2": 1, "3": 1, "4": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	global, _ := sum.Encode()
	plain := LineArgs{TextExpression: ".text", LabelExpression: ".label", MaxLength: 16}
	auto := LineArgs{TextExpression: ".text", LabelExpression: ".score", Auto: 2}
	multi := LineArgs{TextExpression: ".text", LabelExpression: "{long: (.text|length > 3), spam: .spam}", MultiLabel: true}
	for _, tc := range []struct {
		args      LineArgs
		row, want string
	}{
		{plain, `{"text":"a  __label__b\nc d e f g h","label":"Very Good"}`, "__label__very_good a _label_b c"},
		{auto, `{"text":"x","score":1.5}`, "__label__0 x"},
		{auto, `{"text":"x","score":"3"}`, "__label__1 x"},
		{auto, `{"text":"x","score":99}`, "__label__1 x"},
		{multi, `{"text":"long","spam":true}`, "__label__long __label__spam long"},
		{multi, `{"text":"x","spam":false}`, "__label__none x"},
	} {
		got, err := lineOf(t, tc.args, global, tc.row)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q (%v), want %q", tc.row, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args      LineArgs
		row, want string
	}{
		{plain, `{"label":"a"}`, "missing field .text"},
		{plain, `{"text":"x","label":"__label__"}`, "empty label"},
		{auto, `{"text":"x","score":"high"}`, `"high" is not a number`},
		{auto, `{"text":"x"}`, "missing field .score"},
		{auto, `{"text":"x","score":null}`, "label .score is null"},
		{multi, `{"text":"x","spam":"yes"}`, "not a boolean"},
		{LineArgs{TextExpression: ".text", LabelExpression: ".label", MultiLabel: true}, `{"text":"x","label":"a"}`, "not a JSON object"},
	} {
		_, err := lineOf(t, tc.args, global, tc.row)
		if !rows.IsBadRow(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a bad row: %s", tc.row, err, tc.want)
		}
	}
}

func TestLineArgsValidate(t *testing.T) {
	for _, a := range []LineArgs{
		{TextExpression: ".text", LabelExpression: ".label", Auto: 2, MultiLabel: true},
		{TextExpression: ".text", LabelExpression: ".label", Auto: -1},
		{TextExpression: ".text", LabelExpression: ".label", MaxLength: -5},
		{TextExpression: ".text |", LabelExpression: ".label"},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%+v: no error", a)
		}
	}
}
