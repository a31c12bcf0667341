package prompts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibraryPromptsParseAndValidate(t *testing.T) {
	want := []string{"claude_rubric_code", "domains", "finemath", "fineweb-edu", "stack-edu"}
	var got []string
	for _, p := range List() {
		got = append(got, p.Name)
		if p.Description == "" {
			t.Errorf("%s: no description", p.Name)
		}
		if _, err := NewProcessor("", p); err != nil {
			t.Errorf("%s: default processor %q: %v", p.Name, p.Processor, err)
		}
		if p.Processor == ProcessorJSON && p.Schema == nil {
			t.Errorf("%s: json processor without a schema", p.Name)
		}
		if p.JSONTemplate != "" && p.Schema == nil {
			t.Errorf("%s: a JSON variant without a schema", p.Name)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("library = %v, want %v", got, want)
	}
	if strings.Join(Names(), ",") != strings.Join(want, ",") {
		t.Errorf("Names() = %v", Names())
	}
}

func TestFineWebEduPrompt(t *testing.T) {
	p, err := Get("fineweb-edu")
	if err != nil {
		t.Fatal(err)
	}
	out := p.Render("DOCUMENT BODY", false)
	for _, s := range []string{
		"Below is an extract from a web page. Evaluate whether the page has a high educational value",
		"additive 5-point scoring system",
		"Bestow a fifth point if the extract is outstanding in its educational value",
		"The extract:\nDOCUMENT BODY\n\nAfter examining the extract:",
		`Conclude with the score using the format: "Educational score: <total points>"`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("rendered fineweb-edu prompt lacks %q", s)
		}
	}
	js := p.Render("DOCUMENT BODY", true)
	if !strings.Contains(js, `"score": your total points, an integer from 0 to 5`) || strings.Contains(js, "Educational score:") {
		t.Errorf("JSON variant does not ask for a JSON score:\n%s", js[len(js)-300:])
	}
	var schema map[string]any
	if err := json.Unmarshal(p.Schema, &schema); err != nil {
		t.Fatal(err)
	}
	if req := schema["required"].([]any); len(req) != 2 || req[1] != "score" {
		t.Errorf("schema required = %v", req)
	}
	// The default processor reads the published answer format.
	proc, err := NewProcessor("", p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := proc.Process("The extract explains photosynthesis clearly.\n\nEducational score: 4")
	if err != nil || v["score"] != int64(4) {
		t.Errorf("Process = %v, %v", v, err)
	}
}

func TestClaudeRubricCodeUsesCodeSystem(t *testing.T) {
	p, err := Get("claude_rubric_code")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := System("code_system")
	if err != nil {
		t.Fatal(err)
	}
	if p.System != sys || !strings.HasPrefix(sys, "You are a helpful coding assistant") {
		t.Errorf("system = %q", p.System)
	}
	out := p.Render("def f(): pass", true)
	if !strings.Contains(out, "===== BEGIN CODE SNIPPET =====\ndef f(): pass\n===== END CODE SNIPPET =====") {
		t.Errorf("snippet markers missing:\n%s", out)
	}
	proc, err := NewProcessor("", p)
	if err != nil {
		t.Fatal(err)
	}
	crit := `{"explanation": "x", "is_pass": true}`
	answer := `{"criteria": {"functional_code": ` + crit + `, "no_red_flags": ` + crit + `, "readable": ` + crit +
		`, "well_structured": ` + crit + `, "exemplary_quality": {"explanation": "no docs", "is_pass": false}},
		"overall_assessment": "good", "score": 4}`
	v, err := proc.Process(answer)
	if err != nil || v["score"] != int64(4) {
		t.Fatalf("Process = %v, %v", v, err)
	}
	// A criterion without is_pass violates the schema.
	bad := strings.Replace(answer, `"is_pass": false`, `"passed": false`, 1)
	if _, err := proc.Process(bad); err == nil {
		t.Error("an answer missing a required criterion field was accepted")
	}
}

func TestDomainsLabels(t *testing.T) {
	p, err := Get("domains")
	if err != nil {
		t.Fatal(err)
	}
	proc, err := NewProcessor("", p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := proc.Process(`{"domains": ["science_and_mathematics", "education"], "use_cases": ["explanation_and_teaching"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if d := v["domains"].([]any); len(d) != 2 || d[0] != "science_and_mathematics" {
		t.Errorf("domains = %v", v["domains"])
	}
	if _, err := proc.Process(`{"domains": ["astrology"], "use_cases": []}`); err == nil {
		t.Error("a label outside the closed set was accepted")
	}
}

func TestRenderPlaceholders(t *testing.T) {
	p, err := Parse("x", []byte("Rate this: {example}\nDone."))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Render("a {example} b", false); got != "Rate this: a {example} b\nDone." {
		t.Errorf("Render = %q", got)
	}
}

func TestParsePromptFile(t *testing.T) {
	src := `# my rubric
name: legal
description: legal value 0-5
processor: jq:.score
strict: false
-- system --
You are a lawyer.
-- prompt --
Score this for legal value: {text}
Answer "Score: N".
-- prompt.json --
Score this for legal value: {text}
Answer {"score": N}.
-- schema.json --
{"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
`
	dir := t.TempDir()
	file := filepath.Join(dir, "ignored-name.prompt")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "legal" || p.Description != "legal value 0-5" || p.Processor != "jq:.score" || p.Strict {
		t.Errorf("header = %+v", p)
	}
	if p.System != "You are a lawyer." {
		t.Errorf("system = %q", p.System)
	}
	if got := p.Render("DOC", false); got != "Score this for legal value: DOC\nAnswer \"Score: N\"." {
		t.Errorf("Render(text) = %q", got)
	}
	if got := p.Render("DOC", true); got != "Score this for legal value: DOC\nAnswer {\"score\": N}." {
		t.Errorf("Render(json) = %q", got)
	}
	if string(p.Schema) != `{"type":"object","properties":{"score":{"type":"integer"}},"required":["score"]}` {
		t.Errorf("schema = %s", p.Schema)
	}

	plain := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(plain, []byte("Is this good? {text}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = LoadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "plain" || p.Template != "Is this good? {text}" || p.Schema != nil || !p.Strict {
		t.Errorf("plain prompt = %+v", p)
	}
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"no placeholder":   "Rate this document.",
		"both":             "{text} and {example}",
		"unknown key":      "colour: blue\n-- prompt --\n{text}\n",
		"unknown section":  "-- prompt --\n{text}\n-- extra --\nx\n",
		"no prompt":        "-- system --\nhi\n",
		"bad schema json":  "-- prompt --\n{text}\n-- schema.json --\n{not json\n",
		"bad schema":       "-- prompt --\n{text}\n-- schema.json --\n{\"type\": 12}\n",
		"external ref":     "-- prompt --\n{text}\n-- schema.json --\n{\"$ref\": \"file:///etc/passwd\"}\n",
		"system twice":     "system: code_system\n-- system --\nx\n-- prompt --\n{text}\n",
		"unknown system":   "system: nope\n-- prompt --\n{text}\n",
		"json variant bad": "-- prompt --\n{text}\n-- prompt.json --\nno placeholder\n",
		"header syntax":    "just words\n-- prompt --\n{text}\n",
	} {
		if _, err := Parse("t", []byte(src)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Get("nope"); err == nil || !strings.Contains(err.Error(), "fineweb-edu") {
		t.Errorf("Get(nope) = %v, want an error listing the prompts", err)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 10); got != "short" {
		t.Errorf("Truncate(short) = %q", got)
	}
	if got := Truncate("anything", 0); got != "anything" {
		t.Errorf("Truncate(max 0) = %q", got)
	}
	got := Truncate("0123456789", 4)
	if got != "0123\n[... truncated: the last 6 of 10 characters are omitted]" {
		t.Errorf("Truncate = %q", got)
	}
	// Code points, not bytes: "ñ" is two bytes.
	got = Truncate("ññññ", 2)
	if !strings.HasPrefix(got, "ññ\n[... truncated: the last 2 of 4 characters") {
		t.Errorf("Truncate(multibyte) = %q", got)
	}
	if got := Truncate("ññ", 2); got != "ññ" {
		t.Errorf("Truncate at exact length = %q", got)
	}
}

func TestResolve(t *testing.T) {
	p, err := Resolve("finemath")
	if err != nil || p.Name != "finemath" {
		t.Fatalf("Resolve(finemath) = %v, %v", p, err)
	}
	file := filepath.Join(t.TempDir(), "mine.txt")
	os.WriteFile(file, []byte("Judge: {text}"), 0o644)
	if p, err := Resolve(file); err != nil || p.Name != "mine" {
		t.Errorf("Resolve(file) = %v, %v", p, err)
	}
	if _, err := Resolve("no-such-prompt"); err == nil || !strings.Contains(err.Error(), "fineweb-edu") {
		t.Errorf("Resolve(unknown) = %v", err)
	}
	if s := ResolveSystem("code_system"); !strings.HasPrefix(s, "You are a helpful coding assistant") {
		t.Errorf("ResolveSystem(code_system) = %q", s)
	}
	if s := ResolveSystem("You grade essays."); s != "You grade essays." {
		t.Errorf("ResolveSystem(text) = %q", s)
	}
}
