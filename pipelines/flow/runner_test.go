package flow

import (
	"context"
	"flag"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// flagValues returns every flag of the process by name.
// flagValues returns every flag's value but those that the local runner
// sets once, when it first starts its job server in the process (the
// endpoint and environment type of the prism it started), which a test run
// alone sees change.
func flagValues() map[string]string {
	m := map[string]string{}
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if f.Name != "endpoint" && f.Name != "environment_type" {
			m[f.Name] = f.Value.String()
		}
	})
	return m
}

// TestPerStepResourceHints runs a flow whose filter step has resource
// hints of its own (a GPU, as for an encoder, and more memory) in a process
// started with a hint: every step sees exactly the flow's flags (the filter
// its hints alone, the others the process's), and the flags afterwards are
// those before.
func TestPerStepResourceHints(t *testing.T) {
	saved := jobopts.ResourceHints
	t.Cleanup(func() { jobopts.ResourceHints = saved })
	jobopts.ResourceHints = nil
	if err := flag.CommandLine.Set("resource_hints", "min_ram=1GB"); err != nil {
		t.Fatal(err)
	}
	before := flagValues()

	const accel = "type:nvidia-l4;count:1;install-nvidia-driver"
	s := smallFlow(t, t.TempDir(), func(src string) string {
		return src + `runner:
  flags: {parallelism: "2"}
  steps:
    filter:
      resource_hints:
        - "accelerator=` + accel + `"
        - min_ram=2GB
`
	})
	type seen struct {
		hints       []string
		accelerator string
		minRAM      string
		parallelism string
	}
	during := map[string]seen{}
	_, err := Run(context.Background(), s, Options{Quiet: true, stepHook: func(st *Step) {
		p := jobopts.GetPipelineResourceHints().Payloads()
		during[st.Name] = seen{
			hints:       slices.Clone([]string(jobopts.ResourceHints)),
			accelerator: string(p["beam:resources:accelerator:v1"]),
			minRAM:      string(p["beam:resources:min_ram_bytes:v1"]),
			parallelism: flag.CommandLine.Lookup("parallelism").Value.String(),
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"label", "split", "fasttext-data-plsfix", "train-ft", "select", "filter"} {
		got, ok := during[name]
		if !ok {
			t.Errorf("step %s did not run", name)
			continue
		}
		want := seen{hints: []string{"min_ram=1GB"}, minRAM: "1000000000", parallelism: "2"}
		if name == "filter" {
			want = seen{hints: []string{"accelerator=" + accel, "min_ram=2GB"}, accelerator: accel, minRAM: "2000000000", parallelism: "2"}
		}
		if !slices.Equal(got.hints, want.hints) || got.accelerator != want.accelerator || got.minRAM != want.minRAM || got.parallelism != want.parallelism {
			t.Errorf("step %s ran with %+v, want %+v", name, got, want)
		}
	}
	if after := flagValues(); !maps.Equal(after, before) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("flag %s is %q after the flow, %q before", k, v, before[k])
			}
		}
	}
	if got := []string(jobopts.ResourceHints); !slices.Equal(got, []string{"min_ram=1GB"}) {
		t.Errorf("resource hints after the flow: %q", got)
	}
}

func TestRunnerFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, runner, want string }{
		{"unknown flag", "  flags: {nosuch_flag: 1}\n", `:4: runner.flags.nosuch_flag: unknown Beam flag "nosuch_flag"`},
		{"list for a scalar", "  steps:\n    filter:\n      parallelism: [1, 2]\n", `:6: runner.steps.filter.parallelism: parallelism takes one value, not 2`},
		{"mapping", "  flags:\n    resource_hints: {a: b}\n", `line 5: a flag's value is a value or a list of values, not a mapping`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := "pool: {inputs: [" + dir + "]}\nannotate: {model: m, prompt: finemath}\nrunner:\n" + c.runner
			_, err := Parse("flow.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
