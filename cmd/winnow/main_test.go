package main

import (
	"bytes"
	"flag"
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
	saved := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { saved[f.Name] = f.Value.String() })
	t.Cleanup(func() {
		for name, v := range saved {
			if flag.Lookup(name).Value.String() != v {
				flag.Set(name, v)
			}
		}
	})
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}
