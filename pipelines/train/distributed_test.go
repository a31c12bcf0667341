package train

import (
	"context"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// When the workers run outside this process, the frozen mode needs a
// features directory they share, and a base model on local disk is copied
// there for them; the copy loads from the object store with the same hash.
func TestFrozenModeOnADistributedRun(t *testing.T) {
	ctx := context.Background()
	base := fixtureModel(t, "test-model-vocab-quantized")
	e, err := models.LoadEmbedder(ctx, base, models.EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sha := e.Info().SHA256
	features := "memfs://" + t.Name() + "/features"

	// Locally nothing moves.
	if dir, err := featuresDirFor("", "models/edu"); err != nil || dir != "models/edu.features" {
		t.Fatalf("local default features dir %q, %v", dir, err)
	}
	if m, err := workerModel(ctx, base, sha, features); err != nil || m != base {
		t.Fatalf("local run: the workers read %q (%v), want %s", m, err, base)
	}

	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "endpoint", "localhost:8099")
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	if _, err := featuresDirFor("", "models/edu"); err == nil || !strings.Contains(err.Error(), "features directory they share") {
		t.Errorf("no features directory on a distributed run: %v", err)
	}
	m, err := workerModel(ctx, base, sha, features)
	if err != nil {
		t.Fatal(err)
	}
	if want := storage.Join(features, "_base", sha[:12]); m != want {
		t.Fatalf("the workers read %s, want %s", m, want)
	}
	remote, err := models.LoadEmbedder(ctx, m, models.EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := remote.Info(); got.SHA256 != sha || got.Path != m || got.Dim != e.Info().Dim {
		t.Errorf("staged copy loads as %+v, want hash %s", got, sha)
	}
	// A features directory on a shared file system: the workers read the
	// base where it is.
	if m, err := workerModel(ctx, base, sha, t.TempDir()); err != nil || m != base {
		t.Errorf("local features dir: the workers read %q (%v)", m, err)
	}
}
