package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

// TestMain is shared by every test of the command package.
func TestMain(m *testing.M) {
	ptest.MainWithDefault(m, "prism")
}

// runCLI executes winnow with args in this process and returns its output.
// Beam's flags are process-wide: any the command sets are restored after
// the test.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	keepGoFlags(t)
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// keepGoFlags restores the process-wide Go flags (Beam's) after the test,
// whatever a command line parsed during it set.
func keepGoFlags(t *testing.T) {
	saved := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { saved[f.Name] = f.Value.String() })
	t.Cleanup(func() {
		for name, v := range saved {
			if flag.Lookup(name).Value.String() != v {
				flag.Set(name, v)
			}
		}
	})
}

// Help lists winnow's own flags, and Beam's in a section of their own
// without Beam's misleading "(required)" (issue 15), only for commands
// that run pipelines.
func TestHelpSeparatesBeamFlags(t *testing.T) {
	out, err := runCLI(t, "transform", "--help")
	if err != nil {
		t.Fatal(err)
	}
	own, beam, ok := strings.Cut(out, "Beam pipeline flags")
	if !ok {
		t.Fatalf("no Beam section in transform --help:\n%s", out)
	}
	for _, f := range []string{"--input-dir", "--label-transform", "--log-level"} {
		if !strings.Contains(own, f) {
			t.Errorf("transform --help lacks %s before the Beam section", f)
		}
	}
	for _, f := range []string{"--runner", "--endpoint", "--region", "--staging_location"} {
		if strings.Contains(own, f) || !strings.Contains(beam, f) {
			t.Errorf("%s is not (only) in the Beam section", f)
		}
	}
	if strings.Contains(out, "required") || strings.Contains(out, "(default -1)") {
		t.Errorf("transform --help still says required or shows Beam's unset defaults:\n%s", out)
	}
	out, err = runCLI(t, "train-fasttext", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Beam pipeline flags") || strings.Contains(out, "--runner") {
		t.Errorf("train-fasttext runs no pipeline, yet its help lists Beam's flags:\n%s", out)
	}
}
