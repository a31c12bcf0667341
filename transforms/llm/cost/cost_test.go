package cost

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/transforms/llm"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestCost(t *testing.T) {
	tab := Default()
	// gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M.
	u := llm.Usage{PromptTokens: 1_000_000, CachedPromptTokens: 400_000, CompletionTokens: 500_000}
	want := 0.6*0.15 + 0.4*0.075 + 0.5*0.60
	for _, c := range []struct {
		model, tier string
		batch       bool
		want        float64
	}{
		{"gpt-4o-mini", "", false, want},
		{"gpt-4o-mini", "default", false, want},
		{"gpt-4o-mini-2024-07-18", "", false, want},
		{"gpt-4o-mini", "", true, want / 2},
		{"gpt-4o-mini", "flex", false, want}, // no flex tier: standard price
		{"gpt-4o-mini", "priority", false, 0.6*0.25 + 0.4*0.125 + 0.5*1.00},
		{"gpt-5-mini", "flex", false, 0.6*0.125 + 0.4*0.0125 + 0.5*1.00},
		{"o4-mini", "", false, 0.6*1.10 + 0.4*0.275 + 0.5*4.40},
	} {
		got, ok := tab.Cost(c.model, c.tier, c.batch, u)
		if !ok || !near(got, c.want) {
			t.Errorf("Cost(%s, %q, batch=%v) = %v, %v; want %v", c.model, c.tier, c.batch, got, ok, c.want)
		}
	}
	for _, model := range []string{"tiny", "llama3.1:8b", "gpt-4o-audio-preview", "gpt-4o-mini-tts"} {
		if got, ok := tab.Cost(model, "", false, u); ok || got != 0 {
			t.Errorf("Cost(%s) = %v, %v; want an unknown model at 0", model, got, ok)
		}
	}
	// Cached tokens above the prompt tokens (a server quirk) are capped.
	if got, _ := tab.Cost("gpt-4o", "", false, llm.Usage{PromptTokens: 10, CachedPromptTokens: 20}); !near(got, 10*1.25/1e6) {
		t.Errorf("capped cached tokens: %v", got)
	}
}

func TestEveryBuiltInPriceIsSane(t *testing.T) {
	tab := Default()
	if tab.Date == "" || tab.Source == "" || tab.BatchFactor != 0.5 {
		t.Errorf("table provenance: %+v", tab)
	}
	for name, p := range tab.Models {
		s := p.Standard
		if s.Input <= 0 || s.Output < s.Input || s.CachedInput <= 0 || s.CachedInput > s.Input {
			t.Errorf("%s: implausible standard rates %+v", name, s)
		}
		if p.Flex != nil && (p.Flex.Input >= s.Input || p.Flex.Output >= s.Output) {
			t.Errorf("%s: flex is not cheaper: %+v", name, p.Flex)
		}
		if p.Priority != nil && (p.Priority.Input <= s.Input || p.Priority.Output <= s.Output) {
			t.Errorf("%s: priority is not dearer: %+v", name, p.Priority)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "prices.json")
	os.WriteFile(file, []byte(`{"date": "2030-01", "batch_factor": 0.4, "models": {
		"my-model": {"standard": {"input": 1, "cached_input": 0.5, "output": 2}},
		"gpt-4o": {"standard": {"input": 3, "cached_input": 1, "output": 9}}}}`), 0o644)
	tab, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u := llm.Usage{PromptTokens: 1e6, CompletionTokens: 1e6}
	if got, ok := tab.Cost("my-model", "", false, u); !ok || !near(got, 3) {
		t.Errorf("my-model = %v, %v", got, ok)
	}
	if got, _ := tab.Cost("gpt-4o", "", true, u); !near(got, 0.4*12) {
		t.Errorf("overridden gpt-4o in batch = %v", got)
	}
	if _, ok := tab.Lookup("gpt-4.1"); !ok {
		t.Error("built-in models were dropped")
	}
	if tab.Date != "2030-01" {
		t.Errorf("date = %s", tab.Date)
	}
	for name, src := range map[string]string{
		"unknown field": `{"modles": {}}`,
		"negative":      `{"models": {"m": {"standard": {"input": -1}}}}`,
		"factor":        `{"batch_factor": 2}`,
		"not json":      `{`,
	} {
		os.WriteFile(file, []byte(src), 0o644)
		if _, err := LoadFile(file); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEstimate(t *testing.T) {
	req := &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleUser, Content: string(make([]byte, 3988))}}}
	// 3988 characters: 997 tokens, plus 4 for the message and 3 for the reply.
	got, ok := Default().Estimate(req, 1000, false)
	if want := (1004*2.50 + 1000*10.00) / 1e6; !ok || !near(got, want) {
		t.Errorf("Estimate = %v, %v; want %v", got, ok, want)
	}
}
