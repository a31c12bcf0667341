package prepare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// killTransform is the transform the SIGKILL test interrupts: one shard at
// a time, with enough jq work per row to be caught in the middle.
func killTransform(in, out string) TransformOptions {
	return TransformOptions{
		Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true, Parallelism: 1},
		TransformArgs: rows.TransformArgs{
			TextTransform:  `{text: (.text | split(" ") | map(ascii_upcase) | reverse | join(" ")), words: (.text | split(" ") | length)}`,
			LabelTransform: binarize,
		},
	}
}

func TestSIGKILLThenRerunEqualsUninterruptedRun(t *testing.T) {
	ctx := context.Background()
	in := t.TempDir()
	if _, err := Reshard(ctx, ReshardOptions{
		Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: in, Quiet: true}, NumFiles: 80, Seed: 1,
	}); err != nil {
		t.Fatal(err)
	}
	want := t.TempDir()
	if _, err := Transform(ctx, killTransform(in, want)); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	done := func() int {
		m, _ := filepath.Glob(filepath.Join(out, "_done", "*.json"))
		return len(m)
	}
	killed := false
	for attempt := 0; attempt < 5 && !killed; attempt++ {
		var n int
		killed = testutil.KillChildWhen(t, []string{"WINNOW_CHILD_TRANSFORM_IN=" + in, "WINNOW_CHILD_TRANSFORM_OUT=" + out},
			2*time.Millisecond, 2*time.Minute, func() bool {
				n = done()
				return n >= 5+10*attempt && n < 70
			})
		if killed {
			t.Logf("killed after %d of 80 shards", n)
		} else {
			os.RemoveAll(out)
			os.MkdirAll(out, 0o755)
		}
	}
	if !killed {
		t.Fatal("could not kill the child mid-run")
	}
	if done() >= 80 {
		t.Fatal("every shard was already done at the kill")
	}

	res, err := Transform(ctx, killTransform(in, out))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counters["shards_resumed"] == 0 {
		t.Error("the re-run resumed no shard")
	}
	var temps []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files remain: %v", temps)
	}
	wantShards, gotShards := shardsUnder(t, want), shardsUnder(t, out)
	if len(wantShards) != 80 || len(gotShards) != 80 {
		t.Fatalf("%d and %d shards, want 80", len(wantShards), len(gotShards))
	}
	for i := range wantShards {
		a, _ := os.ReadFile(wantShards[i])
		b, _ := os.ReadFile(gotShards[i])
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the uninterrupted run", gotShards[i])
		}
	}
	a, _ := os.ReadFile(filepath.Join(want, "_manifest.json"))
	b, _ := os.ReadFile(filepath.Join(out, "_manifest.json"))
	if !bytes.Equal(bytes.ReplaceAll(a, []byte(want), nil), bytes.ReplaceAll(b, []byte(out), nil)) {
		t.Errorf("manifests differ:\n%s\n%s", a, b)
	}
}
