package prepare

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

func TestMain(m *testing.M) {
	// The SIGKILL test re-runs this binary as the process it kills.
	if in, out := os.Getenv("WINNOW_CHILD_TRANSFORM_IN"), os.Getenv("WINNOW_CHILD_TRANSFORM_OUT"); in != "" {
		beam.Init()
		if _, err := Transform(context.Background(), killTransform(in, out)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ptest.MainWithDefault(m, "prism")
}
