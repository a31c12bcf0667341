package rows

import (
	"encoding/json"
	"strings"
	"testing"
)

// Expressions reading the environment are refused when compiled (issue
// 15: `filter --expression '$ENV.HOME == "/root"'` kept 0 rows and exited
// 0); a definition of the user's own named env is fine.
func TestJQRefusesTheEnvironment(t *testing.T) {
	for _, src := range []string{`$ENV.HOME == "/root"`, `env.HOME`, `$ENV | length`, `{a: .text, b: env}`, `def f: $ENV; f`} {
		_, err := Compile(src)
		if err == nil || !strings.Contains(err.Error(), "reads the environment") {
			t.Errorf("%s: error %v, want a refusal", src, err)
		}
	}
	e, err := Compile(`def env: "mine"; env`)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.Eval(map[string]any{}); err != nil || len(out) != 1 || out[0] != "mine" {
		t.Errorf("a function of the user's own named env: %v %v", out, err)
	}
}

// A field the row does not have is a bad row, not a null (issue 15:
// `{score: .score}` wrote "score": null for rows without a score). A
// deliberate null, a default and jq's tolerant forms are the user's
// choice; update paths keep jq's meaning.
func TestMissingFieldsAreBadRows(t *testing.T) {
	row := `{"text":"hi","scores":{"score":3},"n":null,"arr":[1,2],"odd key":1}`
	cases := []struct {
		src, want string // want: the JSON of the outputs, or the error's start
	}{
		{".score", "missing field .score, read by .score (where it may be absent, give a default: .score // null)"},
		{"{score: .score}", "missing field .score, read by {score: .score}"},
		{"{text, score}", "missing field .score"},
		{`{"score"}`, "missing field .score"},
		{"{score: (if .scores.score < 3 then 0 else 1 end)}", `[{"score":1}]`},
		{`{score: (if .scores.nope < 3 then "neg" else "pos" end)}`, "missing field .scores.nope"},
		{".nope.deeper", "missing field .nope"},
		{".n.x", "missing field .n.x (its parent is null)"},
		{".[\"scores\"].nope", "missing field .scores.nope"},
		{`."odd key" + ."no key"`, `missing field ."no key"`},
		{". as $r | $r.scores.nope", "missing field $r.scores.nope"},
		{"select(.nope)", "missing field .nope"},
		{".arr | map(.x)", `cannot index number with "x"`},
		// Explicit nulls, defaults and tolerant forms.
		{".n", "[null]"},
		{"{score: (.score // null)}", `[{"score":null}]`},
		{".scores.nope // 7", "[7]"},
		{".score?", "[null]"},
		{"[.nope.x?]", "[[null]]"},
		{"try .score", "[]"},
		{`if has("score") then .score else "none" end`, `["none"]`},
		{`getpath(["score"])`, "[null]"},
		{".arr[5]", "[null]"},
		// Update paths.
		{"del(.nope) | .text", `["hi"]`},
		{".nope = 1 | .nope", "[1]"},
		{".scores.nope |= 2 | .scores.nope", "[2]"},
		{".nope //= 3 | .nope", "[3]"},
		{"path(.nope)", `[["nope"]]`},
	}
	for _, c := range cases {
		e, err := Compile(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(row), &obj); err != nil {
			t.Fatal(err)
		}
		out, err := e.Eval(obj)
		got := ""
		if err != nil {
			if !IsBadRow(err) {
				t.Errorf("%s: %v is not a bad-row error", c.src, err)
			}
			got = err.Error()
		} else {
			if out == nil {
				out = []any{}
			}
			b, _ := json.Marshal(out)
			got = string(b)
		}
		if !strings.HasPrefix(got, c.want) && !strings.Contains(got, c.want) {
			t.Errorf("%s: got %s, want %s", c.src, got, c.want)
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
		{"missing text", `{"txt": "a"}`, "missing field .text", func(r *Row) error {
			obj, err := r.Object()
			if err != nil {
				return err
			}
			_, err = TextOf(text, obj)
			return err
		}},
		{"null text", `{"text": null}`, "text .text is null", func(r *Row) error {
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

func TestEncodeIntoAppendsWhatEncodeWrites(t *testing.T) {
	replaced := func(text string) *Row {
		r := New([]byte(text), "f", 1)
		obj, err := r.Object()
		if err != nil {
			t.Fatal(err)
		}
		r.Set(obj)
		return r
	}
	buf := make([]byte, 0, 8) // too small: appending must grow it
	var got, want [][]byte
	for _, text := range []string{`{"b": 2, "a": "x"}`, `{"t": "<&>é", "n": [1.50, 12345678901234567890]}`, `{"z": {}}`} {
		r := replaced(text)
		b, err := r.EncodeInto(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, want = append(got, b), append(want, w)
	}
	for i := range got { // earlier results survive the buffer's growth
		if string(got[i]) != string(want[i]) {
			t.Errorf("row %d: EncodeInto wrote %s, Encode %s", i, got[i], want[i])
		}
	}
	if n := len(want[0]) + len(want[1]) + len(want[2]); len(buf) != n {
		t.Errorf("buffer holds %d bytes, want the %d of the three rows", len(buf), n)
	}

	// Rows that were not replaced, or whose line was set, keep their text
	// and leave the buffer alone; so does the fallback for values without
	// a JSON literal.
	before := len(buf)
	raw := New([]byte(`{"kept": true}`), "f", 2)
	if b, err := raw.EncodeInto(&buf); err != nil || string(b) != `{"kept": true}` {
		t.Errorf("unreplaced row: %s %v", b, err)
	}
	line := replaced(`{"a": 1}`)
	line.SetLine([]byte("__label__x text"))
	if b, err := line.EncodeInto(&buf); err != nil || string(b) != "__label__x text" {
		t.Errorf("row with a line: %s %v", b, err)
	}
	op, _ := NewTransform(TransformArgs{Expression: `{x: nan}`})
	nan := New([]byte(`{}`), "f", 3)
	if _, err := op.Apply(nan); err != nil {
		t.Fatal(err)
	}
	if b, err := nan.EncodeInto(&buf); err != nil || string(b) != `{"x":null}` {
		t.Errorf("nan encoded as %s %v", b, err)
	}
	if len(buf) != before {
		t.Errorf("the buffer grew from %d to %d bytes for rows it does not hold", before, len(buf))
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

// A function of the expression's own may read fields and still serve as a
// path: its body reads them with the jq twin of the Go field reader.
func TestMissingFieldsInFunctionDefinitions(t *testing.T) {
	obj := map[string]any{"a": map[string]any{"b": 1.0}}
	for src, want := range map[string]string{
		`def f: .a.b; f`:                        `[1]`,
		`def f: .a.b; path(f)`:                  `[["a","b"]]`,
		`def f: .a.b; del(f) | .a`:              `[{}]`,
		`def f: .a.nope; [f]`:                   "missing field .a.nope",
		`def g: .nope // 5; g`:                  `[5]`,
		`def f(x): x | .b; f(.a)`:               `[1]`,
		`def f(x): x | .nope; f(.a)`:            "missing field .nope",
		`def f: .x; {a: 1} | [f?]`:              `[[]]`,
		`def f: .x; try f catch "c"`:            `["c"]`,
		`[.a | .b, .c?] | length`:               `[2]`,
		`.a as {b: $v} | $v`:                    `[1]`,
		`[paths] | length`:                      `[2]`,
		`to_entries | map(.key)`:                `[["a"]]`,
		`with_entries(.value |= 0)`:             `[{"a":0}]`,
		`.a | has("b") and .b == 1`:             `[true]`,
		`reduce (.a | keys[]) as $k (0; . + 1)`: `[1]`,
	} {
		e, err := Compile(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		out, err := e.Eval(obj)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			b, _ := json.Marshal(out)
			got = string(b)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: got %s, want %s", src, got, want)
		}
	}
}
