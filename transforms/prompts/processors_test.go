package prompts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func process(t *testing.T, spec string, p *Prompt, answer string) (Value, error) {
	t.Helper()
	proc, err := NewProcessor(spec, p)
	if err != nil {
		t.Fatalf("NewProcessor(%q): %v", spec, err)
	}
	return proc.Process(answer)
}

func TestScoreRegexProcessors(t *testing.T) {
	for _, c := range []struct {
		spec, answer string
		want         any // nil: a parse error
	}{
		{ProcessorFinalScore, "Reasoning...\nFinal score: 3", int64(3)},
		{ProcessorFinalScore, "final SCORE:5.", int64(5)},
		{ProcessorFinalScore, "**Final score:** 2", int64(2)},
		{ProcessorFinalScore, `Use the format "Final score: 0". ... Final score: 4`, int64(4)},
		{ProcessorFinalScore, "Final score: 10", nil},
		{ProcessorFinalScore, "Final score: 6", nil},
		{ProcessorFinalScore, "I would give it a 3.", nil},
		{ProcessorFinalScore, "<think>Final score: 1?</think>Final score: 2", int64(2)},
		{ProcessorFinalScore, "<think>Final score: 1</think>no score", nil},
		{ProcessorEduScore, "Educational score: 1", int64(1)},
		{ProcessorEduScore, "Educational score:  3\n", int64(3)},
		{ProcessorEduScore, "Final score: 3", nil},
		{`regex:Score: (\d+(?:\.\d+)?)/10`, "Score: 7.5/10", 7.5},
		{`regex:Score: (\d+)`, "no", nil},
	} {
		v, err := process(t, c.spec, nil, c.answer)
		if c.want == nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("%s(%q) = %v, %v; want a ParseError", c.spec, c.answer, v, err)
			}
			continue
		}
		if err != nil || v["score"] != c.want {
			t.Errorf("%s(%q) = %v, %v; want score %v", c.spec, c.answer, v, err, c.want)
		}
	}
}

func TestMEDUProcessor(t *testing.T) {
	for answer, want := range map[string]int64{
		"The page is a good overview... Final score: Great":  5,
		"It is great fun but useless for study. Score: Poor": 2,
		"Good": 4, "OKAY": 3, "useless.": 1,
		"A great deal of text. Verdict: poor": 2,
	} {
		v, err := process(t, ProcessorMEDU, nil, answer)
		if err != nil || v["score"] != want {
			t.Errorf("medu(%q) = %v, %v; want %d", answer, v, err, want)
		}
	}
	if _, err := process(t, ProcessorMEDU, nil, "Excellent!"); err == nil {
		t.Error("medu accepted an answer without a verdict")
	}
	v, _ := process(t, ProcessorMEDU, nil, "final score: GREAT")
	if v["label"] != "Great" {
		t.Errorf("label = %v", v["label"])
	}
}

func TestJSONProcessor(t *testing.T) {
	p, err := Parse("j", []byte("-- prompt --\n{text}\n-- schema.json --\n"+
		`{"type":"object","properties":{"score":{"type":"integer","enum":[0,1,2,3,4,5]},"why":{"type":"string"}},"required":["score"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	for answer, want := range map[string]Value{
		`{"score": 3}`: {"score": int64(3)},
		" ```json\n{\"score\": 2, \"why\": \"ok\"}\n```\n":  {"score": int64(2), "why": "ok"},
		"<think>hmm {\"score\": 9}</think>\n{\"score\": 1}": {"score": int64(1)},
		`Here you go: {"score": 5} Hope it helps.`:          {"score": int64(5)},
	} {
		v, err := process(t, ProcessorJSON, p, answer)
		if err != nil || !reflect.DeepEqual(v, want) {
			t.Errorf("json(%q) = %v, %v; want %v", answer, v, err, want)
		}
	}
	for _, bad := range []string{
		`{"score": 7}`, `{"score": "3"}`, `{"why": "no score"}`, `{"score": 1, "extra": true}`,
		`{"score": 3`, ``, `Score: 3`,
	} {
		if v, err := process(t, ProcessorJSON, p, bad); err == nil {
			t.Errorf("json(%q) = %v, want an error", bad, v)
		}
	}
	// Without a schema any JSON is accepted; a non-object is stored as value.
	v, err := process(t, ProcessorJSON, nil, `[1, 2.5]`)
	if err != nil || !reflect.DeepEqual(v, Value{"value": []any{int64(1), 2.5}}) {
		t.Errorf("json(no schema) = %v, %v", v, err)
	}
}

func TestJQProcessor(t *testing.T) {
	for _, c := range []struct {
		spec, answer string
		want         Value
	}{
		{".score", `{"score": 4, "why": "x"}`, Value{"score": int64(4)}},
		{"jq:.score / 2", `{"score": 3}`, Value{"score": 1.5}},
		{"[.domains[] | ascii_upcase]", `{"domains": ["a", "b"]}`, Value{"labels": []string{"A", "B"}}},
		{"{score: .s, label: .l}", `{"s": 1, "l": "x"}`, Value{"score": int64(1), "label": "x"}},
		{".verdict", `{"verdict": "keep"}`, Value{"label": "keep"}},
	} {
		v, err := process(t, c.spec, nil, c.answer)
		if err != nil || !reflect.DeepEqual(v, c.want) {
			t.Errorf("jq %s on %s = %#v, %v; want %#v", c.spec, c.answer, v, err, c.want)
		}
	}
	for _, c := range []struct{ spec, answer string }{
		{".missing", `{"score": 1}`},
		{".score", `not json`},
		{"error(\"boom\")", `{}`},
		{"empty", `{}`},
	} {
		if v, err := process(t, c.spec, nil, c.answer); err == nil {
			t.Errorf("jq %s on %s = %v, want an error", c.spec, c.answer, v)
		}
	}
	// Expressions reading the environment are refused.
	for _, spec := range []string{`$ENV.WINNOW_TEST_SECRET`, `env.WINNOW_TEST_SECRET`, `{n: ($ENV | length)}`} {
		if _, err := NewProcessor(spec, nil); err == nil || !strings.Contains(err.Error(), "reads the environment") {
			t.Errorf("%s: %v, want a refusal", spec, err)
		}
	}
	if _, err := NewProcessor("not a ( valid", nil); err == nil {
		t.Error("a spec that is neither a processor nor a jq expression was accepted")
	}
	if _, err := NewProcessor("", nil); err == nil {
		t.Error("an empty spec without a prompt was accepted")
	}
}
