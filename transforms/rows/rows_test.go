package rows

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJQCannotReadTheEnvironment(t *testing.T) {
	t.Setenv("WINNOW_SECRET", "hunter2")
	for _, src := range []string{`$ENV.WINNOW_SECRET`, `env.WINNOW_SECRET`, `$ENV | length`} {
		e, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Eval(map[string]any{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		b, _ := json.Marshal(out)
		if strings.Contains(string(b), "hunter2") {
			t.Fatalf("%s leaked the environment: %s", src, b)
		}
	}
}

func TestTransformMergesLikeBonepick(t *testing.T) {
	op, err := NewTransform(TransformArgs{LabelTransform: `{score: (if .scores.score < 3 then "neg" else "pos" end)}`})
	if err != nil {
		t.Fatal(err)
	}
	r := New([]byte(`{"id":"1","text":"hello","scores":{"score":4},"extra":true}`), "f", 1)
	keep, err := op.Apply(r)
	if err != nil || !keep {
		t.Fatalf("keep %v err %v", keep, err)
	}
	b, _ := r.Encode()
	if string(b) != `{"score":"pos","text":"hello"}` {
		t.Fatalf("got %s", b)
	}
}

func TestExpressionDropsAndReshapes(t *testing.T) {
	op, err := NewTransform(TransformArgs{Expression: `select(.n > 1) | {n, big: (.n > 10)}`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"n":1}`, ""},
		{`{"n":12345678901234567890,"x":1}`, `{"big":true,"n":12345678901234567890}`},
	} {
		r := New([]byte(tc.in), "f", 1)
		keep, err := op.Apply(r)
		if err != nil {
			t.Fatal(err)
		}
		if !keep {
			if tc.want != "" {
				t.Errorf("%s dropped", tc.in)
			}
			continue
		}
		b, _ := r.Encode()
		if string(b) != tc.want {
			t.Errorf("%s → %s, want %s", tc.in, b, tc.want)
		}
	}
}

func TestBadRows(t *testing.T) {
	text := MustCompile(".text")
	cases := []struct {
		name, row, reason string
		fn                func(*Row) error
	}{
		{"malformed", `{"text": "a"`, "malformed JSON", func(r *Row) error { return r.Validate() }},
		{"not an object", `["a"]`, "not a JSON object", func(r *Row) error { return r.Validate() }},
		{"invalid utf-8", "{\"text\": \"a\xff\"}", "invalid UTF-8 at byte 11", func(r *Row) error { return r.Validate() }},
		{"missing text", `{"txt": "a"}`, "missing text: .text is null", func(r *Row) error {
			obj, err := r.Object()
			if err != nil {
				return err
			}
			_, err = TextOf(text, obj)
			return err
		}},
		{"jq runtime error", `{"text": 5}`, "jq .text | ascii_downcase", func(r *Row) error {
			obj, _ := r.Object()
			_, err := MustCompile(".text | ascii_downcase").Eval(obj)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fn(New([]byte(tc.row), "f", 1))
			if err == nil || !IsBadRow(err) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err %v, want a bad-row error containing %q", err, tc.reason)
			}
		})
	}
}

func TestLabelOfRendersScalars(t *testing.T) {
	e := MustCompile(".l")
	for in, want := range map[string]string{`{"l":3}`: "3", `{"l":"pos"}`: "pos", `{"l":true}`: "true", `{"l":2.50}`: "2.50"} {
		r := New([]byte(in), "f", 1)
		obj, _ := r.Object()
		got, err := LabelOf(e, obj)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	r := New([]byte(`{"l":[1]}`), "f", 1)
	obj, _ := r.Object()
	if _, err := LabelOf(e, obj); err == nil {
		t.Error("an array label was accepted")
	}
}

func TestEncodeIsCompactSortedAndExact(t *testing.T) {
	r := New([]byte(`{"z": 1, "a": {"y": [1.50, 12345678901234567890], "b": "<&>\u2028é\u0001"}}`), "f", 1)
	obj, err := r.Object()
	if err != nil {
		t.Fatal(err)
	}
	r.Set(obj)
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !strings.HasPrefix(string(b), `{"a":{"b":"<&>`) || !strings.Contains(string(b), `"y":[1.50,12345678901234567890]},"z":1}`) {
		t.Fatalf("encoded %s", b)
	}
	// jq values without a JSON literal still encode.
	op, _ := NewTransform(TransformArgs{Expression: `{x: nan}`})
	r = New([]byte(`{}`), "f", 1)
	if _, err := op.Apply(r); err != nil {
		t.Fatal(err)
	}
	if b, err := r.Encode(); err != nil || string(b) != `{"x":null}` {
		t.Fatalf("nan encoded as %s %v", b, err)
	}
}

// batchUpper upper-cases the text of a whole batch at once and counts its
// calls; rows whose text is "bad" are bad rows.
type batchUpper struct{ calls, rows int }

func (b *batchUpper) Apply(r *Row) (bool, error) {
	keep, errs := []bool{false}, []error{nil}
	b.ApplyBatch([]*Row{r}, keep, errs)
	return keep[0], errs[0]
}

func (b *batchUpper) ApplyBatch(rs []*Row, keep []bool, errs []error) {
	b.calls++
	b.rows += len(rs)
	for i, r := range rs {
		obj, err := r.Object()
		if err == nil && obj["text"] == "bad" {
			err = BadRowf("bad text")
		}
		if err != nil {
			errs[i] = err
			continue
		}
		obj["text"] = strings.ToUpper(obj["text"].(string))
		r.Set(obj)
		keep[i] = true
	}
}

// ChainBatch gives every row the outcome Chain gives it, and hands a batch
// operation only the rows earlier operations kept, all at once.
func TestChainBatchMatchesChain(t *testing.T) {
	dropB := OpFunc(func(r *Row) (bool, error) {
		obj, err := r.Object()
		return err == nil && obj["text"] != "b", err
	})
	lines := []string{`{"text":"a"}`, `{"text":"b"}`, `{"text":"bad"}`, `not json`, `{"text":"c"}`}
	var rs, single []*Row
	for i, l := range lines {
		rs = append(rs, New([]byte(l), "x", int64(i+1)))
		single = append(single, New([]byte(l), "x", int64(i+1)))
	}
	up := &batchUpper{}
	keep, errs := make([]bool, len(rs)), make([]error, len(rs))
	ChainBatch(rs, []Op{dropB, up}, keep, errs)
	if up.calls != 1 || up.rows != 3 {
		t.Errorf("batch op called %d times with %d rows, want once with 3", up.calls, up.rows)
	}
	for i, r := range single {
		k, err := Chain(r, []Op{dropB, &batchUpper{}})
		if k != keep[i] || (err == nil) != (errs[i] == nil) {
			t.Errorf("row %d: batch keep %v err %v, single keep %v err %v", i, keep[i], errs[i], k, err)
		}
		if k {
			a, _ := rs[i].Encode()
			b, _ := r.Encode()
			if string(a) != string(b) {
				t.Errorf("row %d: %s vs %s", i, a, b)
			}
		}
	}
}
