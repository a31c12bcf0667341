package annotate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/transforms/prompts"
)

func TestLoadPrompt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "my-rubric.prompt")
	if err := os.WriteFile(file, []byte("name: legal\nprocessor: finalscore0-5\n-- prompt --\nRate the legal value of {example}.\nEnd with Final score: N\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prompt, task, name, processor, want string
	}{
		{prompt: "fineweb-edu", name: "fineweb-edu", processor: prompts.ProcessorEduScore},
		{prompt: file, name: "legal", processor: prompts.ProcessorFinalScore},
		{task: "@" + file, name: "legal", processor: prompts.ProcessorFinalScore},
		{task: "Is this text about law? {text}", name: "annotation"},
		{prompt: "fineweb-edu", task: "x {text}", want: "not both"},
		{want: "no prompt"},
		{task: "no placeholder", want: "placeholder"},
		{prompt: "no-such-prompt", want: "neither a library prompt"},
	} {
		p, err := LoadPrompt(c.prompt, c.task)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("LoadPrompt(%q, %q): %v, want an error with %q", c.prompt, c.task, err, c.want)
			}
			continue
		}
		if err != nil || p.Name != c.name || p.Processor != c.processor {
			t.Errorf("LoadPrompt(%q, %q) = %+v, %v", c.prompt, c.task, p, err)
		}
	}

	sys := filepath.Join(dir, "system.txt")
	os.WriteFile(sys, []byte("You are a lawyer.\n"), 0o644)
	code, _ := prompts.System("code_system")
	for in, want := range map[string]string{"code_system": code, "@" + sys: "You are a lawyer.", "Be brief.": "Be brief."} {
		if got, err := LoadSystemPrompt(in); err != nil || got != want {
			t.Errorf("LoadSystemPrompt(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := LoadSystemPrompt("@" + filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing system prompt file was accepted")
	}
}

// The fingerprint changes with what a committed shard holds, not with how
// its answers are obtained.
func TestFingerprint(t *testing.T) {
	base := testOptions("http://127.0.0.1:1/v1", "in", "out", "cache")
	fp := func(o Options) string {
		t.Helper()
		cfg, err := o.config()
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Fingerprint
	}
	want := fp(base)
	same := []func(*Options){
		func(o *Options) { o.MaxConcurrency = 256 },
		func(o *Options) { o.MaxBudget = 3 },
		func(o *Options) { o.CacheDir = "elsewhere" },
		func(o *Options) { o.APIKeyEnv = "OTHER_KEY" },
		func(o *Options) { o.Batch = true },
		func(o *Options) { o.RetryErrors = true },
		func(o *Options) { o.RequestTimeout = time.Hour },
	}
	for i, change := range same {
		o := base
		change(&o)
		if fp(o) != want {
			t.Errorf("change %d altered the fingerprint", i)
		}
	}
	temp := 0.5
	differ := []func(*Options){
		func(o *Options) { o.Model = "other" },
		func(o *Options) { o.BaseURL = "http://127.0.0.1:2/v1" },
		func(o *Options) { o.Processor = "json" },
		func(o *Options) { o.Prompt = mustPrompt("finemath") },
		func(o *Options) { o.SystemPrompt = "Be brief." },
		func(o *Options) { o.Temperature = &temp },
		func(o *Options) { o.MaxNewTokens = 100 },
		func(o *Options) { o.MaxTextLength = 1000 },
		func(o *Options) { o.TextExpression = ".body" },
		func(o *Options) { o.OutputField = "edu" },
		func(o *Options) { o.OnBadRow = "skip" },
		func(o *Options) { o.Prices = nil }, // the test model loses its price
	}
	for i, change := range differ {
		o := base
		change(&o)
		if fp(o) == want {
			t.Errorf("change %d kept the fingerprint", i)
		}
	}
}
