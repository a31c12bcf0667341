package normalize

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/rows"
)

func TestFromSpecRefusesAnotherVersion(t *testing.T) {
	n, err := New(Whitespace, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := Describe(n)
	if _, err := FromSpec(m); err != nil {
		t.Fatal(err)
	}
	m.Version += "0"
	if _, err := FromSpec(m); err == nil || !strings.Contains(err.Error(), "not "+m.Version) {
		t.Errorf("error %v, want the version mismatch", err)
	}
}

func TestNormalizeOp(t *testing.T) {
	ws, _ := New(Whitespace, Options{})
	op := func(text, label string) rows.Op {
		t.Helper()
		o, err := NewOp(OpArgs{TextExpression: text, LabelExpression: label, Normalizer: Describe(ws)})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		text, label, in, want string
	}{
		// Plain paths are written back, nested ones too; other fields stay.
		{".text", ".score", `{"text":" a \n b ","score":"__label__Very  Good","id":7}`, `{"id":7,"score":"very_good","text":"a b"}`},
		{".doc.body", ".meta.class", `{"doc":{"body":"x\ty","n":1},"meta":{"class":" Spam "}}`, `{"doc":{"body":"x y","n":1},"meta":{"class":"spam"}}`},
		// Numbers and booleans keep their type and text.
		{".text", ".scores.score", `{"text":"t","scores":{"score":2.50}}`, `{"scores":{"score":2.50},"text":"t"}`},
		{".text", ".ok", `{"text":"t","ok":true}`, `{"ok":true,"text":"t"}`},
		// Computed values go to "text" and "score".
		{`.title + "  " + .body`, `if .n > 1 then "High Quality" else "low" end`, `{"title":"T","body":"B","n":2}`, `{"body":"B","n":2,"score":"high_quality","text":"T B","title":"T"}`},
	} {
		r := rows.New([]byte(tc.in), "in.jsonl", 1)
		if keep, err := op(tc.text, tc.label).Apply(r); err != nil || !keep {
			t.Fatalf("%s: keep %v, error %v", tc.in, keep, err)
		}
		got, err := r.Encode()
		if err != nil || string(got) != tc.want {
			t.Errorf("%s with %s, %s:\n got %s (%v)\nwant %s", tc.in, tc.text, tc.label, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		`{"score":"a"}`:                "missing field .text",
		`{"text":"t"}`:                 "missing field .score",
		`{"text":"t","score":null}`:    "label .score: is null",
		`{"text":"t","score":{"a":1}}`: "want a string, number or boolean",
		`{"text":"t","score":" \t "}`:  "empty as a label",
		`{"text":1,"score":"a"}`:       "want a string",
	} {
		_, err := op(".text", ".score").Apply(rows.New([]byte(in), "in.jsonl", 1))
		if !rows.IsBadRow(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want a bad row: %s", in, err, want)
		}
	}
}

func TestNormalizeOpIsRegistered(t *testing.T) {
	ws, _ := New(Whitespace, Options{})
	args, _ := json.Marshal(OpArgs{TextExpression: ".text", LabelExpression: ".score", Normalizer: Describe(ws)})
	if _, err := rows.Build([]rows.Spec{{Kind: "normalize", Args: args}}, nil); err != nil {
		t.Fatal(err)
	}
}
