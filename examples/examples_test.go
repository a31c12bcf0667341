package examples_test

import (
	"testing"

	"github.com/winnowlabs/winnow/examples"
	"github.com/winnowlabs/winnow/pipelines/flow"
)

// TestExamplesAreValidFlows checks every example flow as `winnow run` does
// before running it (paths are relative to the repository's root).
func TestExamplesAreValidFlows(t *testing.T) {
	t.Chdir("..")
	entries, err := examples.Files.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 4 {
		t.Errorf("%d example flows, want the bundled, FineMath, labelling and nightly ones", len(entries))
	}
	for _, e := range entries {
		b, err := examples.Files.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		s, err := flow.Parse("examples/"+e.Name(), b)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if _, err := s.Plan(t.Context()); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}
