//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/storage"
)

const (
	bucket = "corpus"
	// Every step runs twice: on the local runner into local/STEP and on
	// the cluster into dist/STEP, each from its own side's earlier outputs.
	local, dist = "gs://" + bucket + "/local/", "gs://" + bucket + "/dist/"
	stepTimeout = 4 * time.Minute
	// workers is the number of worker processes that run each job.
	workers = 2
)

// TestStagesOnACluster runs winnow's stages on a prism job server with
// each job's bundles spread over two worker processes of their own (see
// Cluster), on data in a fake GCS, and checks that every output equals the
// local run's byte for byte, and that both processes ran bundles of every
// step (and, in annotate, of one multi-shard stage).
//
// Steps: import, reshard, transform, balance, sample, normalize,
// to-fasttext (with a tokenizer on gs://), train-fasttext (reading its data
// from gs://), score, filter with --keep-fraction and --rejected-dir,
// filter with one of its worker processes killed in its scoring pass and
// re-run, annotate (against the fake OpenAI server, the cache on gs://)
// with one of its worker processes killed mid-run and re-run,
// train-model2vec's frozen mode (its Beam feature step, with a base model
// on the submitter's disk) and filter --incremental over a corpus that
// grows between two runs.
func TestStagesOnACluster(t *testing.T) {
	bin := t.TempDir()
	winnow, boot := Build(t, bin)
	g := fakecloud.StartGCS(t, bucket)
	c := Start(t, winnow, boot, Options{Workers: workers})
	ctx := context.Background()

	for name, to := range map[string]string{
		"fineweb-edu-llama3-sample/train.jsonl.zst":          "raw/train.jsonl.zst",
		"fineweb-edu-llama3-sample/valid.jsonl.zst":          "raw/valid.jsonl.zst",
		"tokenizers/bert-base-uncased/tokenizer.json":        "tok/tokenizer.json",
		"tokenizers/bert-base-uncased/tokenizer_config.json": "tok/tokenizer_config.json",
	} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "data", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, "gs://"+bucket+"/"+to, b); err != nil {
			t.Fatal(err)
		}
	}

	// step runs one command on both sides; args name paths of the side as
	// "@STEP" (an earlier step's output) or "@" (this step's output), and
	// "gs://corpus/raw" as itself.
	step := func(t *testing.T, name string, args ...string) Result {
		t.Helper()
		side := func(root string) []string {
			out := make([]string, len(args))
			for i, a := range args {
				switch {
				case a == "@":
					out[i] = root + name
				case strings.HasPrefix(a, "@"):
					out[i] = root + a[1:]
				default:
					out[i] = a
				}
			}
			return out
		}
		if r := c.RunLocal(t, stepTimeout, side(local)...); r.Err != nil {
			t.Fatalf("local %s: %v\n%s%s", name, r.Err, r.Stdout, r.Stderr)
		}
		r := c.Run(t, stepTimeout, side(dist)...)
		if r.Err != nil {
			t.Fatalf("cluster %s: %v\n%s%s", name, r.Err, r.Stdout, r.Stderr)
		}
		t.Logf("%s on the cluster:\n%s", name, r.Stdout)
		everyProcessWorked(t, name, r)
		return r
	}
	same := func(t *testing.T, dir string) {
		t.Helper()
		sameObjects(t, g.Server, local, dist, dir)
	}

	t.Run("import", func(t *testing.T) {
		step(t, "import", "import", "-i", "gs://"+bucket+"/raw", "-o", "@", "--test-split", "0.1")
		same(t, "import")
	})
	t.Run("reshard", func(t *testing.T) {
		step(t, "reshard", "reshard", "-i", "@import", "-o", "@", "-n", "4", "--test-split", "0.2")
		same(t, "reshard")
	})
	t.Run("transform", func(t *testing.T) {
		step(t, "transform", "transform", "-i", "@reshard", "-o", "@",
			"--label-transform", `{score: (if .scores.score < 3 then "neg" else "pos" end)}`)
		same(t, "transform")
	})
	t.Run("balance", func(t *testing.T) {
		step(t, "balance", "balance", "-i", "@transform", "-o", "@")
		same(t, "balance")
	})
	t.Run("sample", func(t *testing.T) {
		step(t, "sample", "sample", "-i", "@import", "-o", "@", "--target-size", "1MB")
		same(t, "sample")
	})
	t.Run("normalize", func(t *testing.T) {
		step(t, "normalize", "normalize", "-i", "@transform", "-o", "@", "-n", "plsfix")
		same(t, "normalize")
	})
	t.Run("to-fasttext", func(t *testing.T) {
		// The tokenizer, on gs://, is read by the workers, and later by
		// those that score with the model trained on this output.
		step(t, "to-fasttext", "to-fasttext", "-i", "@transform", "-o", "@", "-n", "ultrafine", "--tokenizer", "gs://"+bucket+"/tok/tokenizer.json")
		same(t, "to-fasttext")
	})
	t.Run("train-fasttext", func(t *testing.T) {
		// Training runs in the submitting process and reads its data from
		// gs://; the two sides' data are equal, so are the models. One
		// model (its manifest records the training time) goes to both
		// sides of the bucket, for the workers that score.
		models := t.TempDir()
		var trained [2][]byte
		for i, side := range []string{local, dist} {
			dir := filepath.Join(models, strconv.Itoa(i))
			args := []string{"train-fasttext", "-d", side + "to-fasttext", "-o", dir,
				"--dimension", "16", "--epoch", "10", "--learning-rate", "0.5", "--word-ngrams", "1", "--min-count", "1", "--bucket", "0", "--thread", "1"}
			if r := c.RunLocal(t, stepTimeout, args...); r.Err != nil {
				t.Fatalf("train-fasttext: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
			}
			var err error
			if trained[i], err = os.ReadFile(filepath.Join(dir, "model.bin")); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(trained[0], trained[1]) {
			t.Fatal("the models trained on the two sides' data differ")
		}
		for _, side := range []string{local, dist} {
			for _, name := range []string{"model.bin", "manifest.json"} {
				b, err := os.ReadFile(filepath.Join(models, "0", name))
				if err != nil {
					t.Fatal(err)
				}
				if err := storage.WriteFile(ctx, side+"model/"+name, b); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	t.Run("score", func(t *testing.T) {
		step(t, "score", "score", "-i", "@transform", "-o", "@", "-m", "@model")
		same(t, "score")
	})
	t.Run("filter", func(t *testing.T) {
		step(t, "filter", "filter", "-i", "@transform", "-o", "@", "-m", "@model",
			"--keep-fraction", "0.3", "--rejected-dir", "@filter-rejected")
		same(t, "filter")
		same(t, "filter-rejected")
	})
	t.Run("filter-kill", func(t *testing.T) {
		// A worker process killed while it filters: the job fails, and
		// the re-run ends as an uninterrupted (local) run, with no
		// temporary object left. Copies of the training shards make the
		// job long enough to be caught in its scoring pass.
		const kill = "gs://" + bucket + "/kill/"
		shards, err := storage.List(ctx, local+"transform/train/*.jsonl.zst")
		if err != nil || len(shards) == 0 {
			t.Fatalf("transform shards %v: %v", shards, err)
		}
		for i := range 4 {
			for _, sh := range shards {
				name := fmt.Sprintf("big/copy%d-%s", i, storage.Base(sh))
				b, err := storage.ReadFile(ctx, sh)
				if err != nil {
					t.Fatal(err)
				}
				for _, root := range []string{local, kill} {
					if err := storage.WriteFile(ctx, root+name, b); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		args := func(root string) []string {
			return []string{"filter", "-i", root + "big", "-o", root + "filter-big", "-m", root + "model",
				"--keep-fraction", "0.3", "--parallelism", "1", "--no-version-dir"}
		}
		if r := c.RunLocal(t, stepTimeout, args(local)...); r.Err != nil {
			t.Fatalf("local: %v\n%s", r.Err, r.Stderr)
		}
		copyObjects(t, local+"model", kill+"model")
		scored := func(ctx context.Context) error {
			for ctx.Err() == nil {
				objs, _, _ := g.Server.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: "kill/filter-big/_scored/_done/"})
				if len(objs) > 0 {
					return nil
				}
				time.Sleep(10 * time.Millisecond)
			}
			return ctx.Err()
		}
		killWorkerDuring(t, c, scored, args(kill)...)
		if r := c.Run(t, stepTimeout, args(kill)...); r.Err != nil {
			t.Fatalf("re-run after the kill: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		sameObjects(t, g.Server, local, kill, "filter-big")
		noTemporaries(t, g.Server, "kill/filter-big/")
	})
	t.Run("annotate", func(t *testing.T) {
		// One shard at a time per worker process, and every answer takes
		// 150 ms: each of the three shards (16 rows and more, 8 requests
		// at a time) takes ≥ 0.3 s, long enough for prism to find the
		// bundle that holds them slow and split it, whatever their order,
		// and the router sends the split-off shard to the other process.
		srv := fakeopenai.New(fakeopenai.Config{Latency: 150 * time.Millisecond})
		defer srv.Close()
		args := []string{"annotate", "-i", "@sample", "-o", "@", "--cache-dir", "@annotate-cache",
			"--model", "test-model", "--base-url", srv.URL, "--prompt", "fineweb-edu", "--processor", "json",
			"--max-concurrency", "8", "--shards-in-flight", "1"}
		spreadOverProcesses(t, "annotate", step(t, "annotate", args...))
		same(t, "annotate")
		received, _ := srv.Counts()

		// A worker process killed mid-run: the job fails; the re-run sends
		// only what the shared cache lacks and ends as an uninterrupted
		// run.
		const kill = "gs://" + bucket + "/kill/"
		copyObjects(t, dist+"sample", kill+"sample")
		srv.ResetEvents()
		srv.SetMaxCompleted(40)
		killArgs := make([]string, len(args))
		for i, a := range args {
			switch a {
			case "@sample", "@", "@annotate-cache":
				a = kill + map[string]string{"@sample": "sample", "@": "annotate", "@annotate-cache": "annotate-cache"}[a]
			}
			killArgs[i] = a
		}
		killWorkerDuring(t, c, func(ctx context.Context) error { return srv.WaitCompleted(ctx, 40) }, killArgs...)
		srv.SetMaxCompleted(0)
		if r := c.Run(t, stepTimeout, killArgs...); r.Err != nil {
			t.Fatalf("re-run after the kill: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		if again, _ := srv.Counts(); again > received {
			t.Errorf("the killed run and its re-run sent %d requests; an uninterrupted run sends %d", again, received)
		}
		sameObjects(t, g.Server, local, kill, "annotate")
		noTemporaries(t, g.Server, "kill/annotate")
	})
	t.Run("train-model2vec", func(t *testing.T) {
		// The frozen mode pools every row with a Beam step; its base model
		// is on the submitter's disk, as a Hub model in the local cache is.
		models := t.TempDir()
		base := filepath.Join(models, "base")
		tok, err := filepath.Abs(filepath.Join("..", "..", "..", "data", "tokenizers", "bert-base-uncased", "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		if r := c.RunLocal(t, stepTimeout, "train-model2vec", "-d", local+"transform", "-o", base, "--from-scratch",
			"--tokenizer", tok, "--dim", "16", "--max-epochs", "2"); r.Err != nil {
			t.Fatalf("base model: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
		}
		heads := map[string][]byte{}
		for _, side := range []string{local, dist} {
			out := filepath.Join(models, strings.TrimSuffix(strings.TrimPrefix(side, "gs://"+bucket+"/"), "/"))
			args := []string{"train-model2vec", "-d", side + "transform", "-o", out, "-m", filepath.Join(base, "embeddings"),
				"--features-dir", side + "features", "--max-epochs", "3"}
			run := c.RunLocal
			if side == dist {
				run = c.Run
			}
			if r := run(t, stepTimeout, args...); r.Err != nil {
				t.Fatalf("train-model2vec into %s: %v\n%s%s", out, r.Err, r.Stdout, r.Stderr)
			}
			b, err := os.ReadFile(filepath.Join(out, "head.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			heads[side] = b
		}
		if !bytes.Equal(heads[local], heads[dist]) {
			t.Error("the heads trained on the pooled rows differ")
		}
		staged, _ := storage.List(ctx, dist+"features/_base/*/config.json")
		if len(staged) != 1 {
			t.Fatalf("the base model was not staged for the workers under %sfeatures/_base: %v", dist, staged)
		}
		// The manifests name the base model where the workers read it.
		sameObjects(t, g.Server, local, dist, "features",
			filepath.Join(base, "embeddings"), "BASE",
			strings.Replace(storage.Dir(staged[0]), dist, "gs://SIDE/", 1), "BASE")
	})
	t.Run("incremental", func(t *testing.T) {
		// The corpus grows by a day between two runs: the second filters
		// only the new shards.
		for _, day := range []string{"day1", "day2"} {
			for _, side := range []string{local, dist} {
				shards, err := storage.List(ctx, side+"transform/train/*.jsonl.zst")
				if err != nil || len(shards) < 2 {
					t.Fatalf("transform shards %v: %v", shards, err)
				}
				pick := shards[:2]
				if day == "day2" {
					pick = shards[2:]
				}
				for _, s := range pick {
					b, err := storage.ReadFile(ctx, s)
					if err != nil {
						t.Fatal(err)
					}
					if err := storage.WriteFile(ctx, side+"grow/"+day+"/"+storage.Base(s), b); err != nil {
						t.Fatal(err)
					}
				}
			}
			step(t, "incremental", "filter", "-i", "@grow", "-o", "@", "-m", "@model", "--threshold", "0.2", "--incremental")
			same(t, "incremental")
		}
	})
}

// everyProcessWorked checks that every worker process completed bundles
// of the command's jobs (each has several stages, and a stage's bundle goes
// to the process with the fewest in progress, round robin among equals).
func everyProcessWorked(t *testing.T, name string, r Result) {
	t.Helper()
	if len(r.Jobs) == 0 {
		t.Fatalf("%s: no job ran on the cluster's workers", name)
	}
	sum := make([]int, workers)
	for _, j := range r.Jobs {
		t.Logf("%s: bundles per worker process %v, by stage %v", name, j.Bundles, j.Stages)
		for i, n := range j.Bundles {
			sum[i] += n
		}
	}
	for i, n := range sum {
		if n == 0 {
			t.Errorf("%s: worker process %d of %d ran no bundle (%v)", name, i+1, workers, sum)
		}
	}
}

// spreadOverProcesses checks that one stage of the command's jobs ran
// bundles on every worker process: a multi-shard step's shards were
// spread over them.
func spreadOverProcesses(t *testing.T, name string, r Result) {
	t.Helper()
	for _, j := range r.Jobs {
		for _, per := range j.Stages {
			if !slices.Contains(per, 0) {
				return
			}
		}
	}
	t.Errorf("%s: no stage ran bundles on all %d worker processes", name, workers)
}

// sameObjects checks that the objects under rootA/DIR and rootB/DIR have
// the same names and contents, paths of one side in the other read as its
// own. Objects under _base/ (a base model staged for the workers) are not
// compared.
//
// replace are pairs old, new of further replacements in both sides' objects.
func sameObjects(t *testing.T, srv *fakestorage.Server, rootA, rootB, dir string, replace ...string) {
	t.Helper()
	read := func(root string) map[string][]byte {
		prefix := strings.TrimPrefix(root, "gs://"+bucket+"/") + dir + "/"
		objs, _, err := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, o := range objs {
			if strings.HasPrefix(strings.TrimPrefix(o.Name, prefix), "_base/") {
				continue
			}
			obj, err := srv.GetObject(bucket, o.Name)
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(o.Name, prefix)
			b := bytes.ReplaceAll(obj.Content, []byte(root), []byte("gs://SIDE/"))
			// A fingerprint of the work (in completion markers and
			// manifests) hashes the step's operations and global data,
			// which name paths of the side (compared, read as one side's,
			// in the manifest's options and _summary.json).
			for i := 0; i+1 < len(replace); i += 2 {
				b = bytes.ReplaceAll(b, []byte(replace[i]), []byte(replace[i+1]))
			}
			out[name] = fingerprint.ReplaceAll(b, []byte(`"fingerprint":"…"`))
		}
		return out
	}
	a, b := read(rootA), read(rootB)
	if len(a) == 0 {
		t.Fatalf("%s: no objects", dir)
	}
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		x, okA := a[n]
		y, okB := b[n]
		switch {
		case !okA:
			t.Errorf("%s/%s: only on the cluster", dir, n)
		case !okB:
			t.Errorf("%s/%s: only in the local run", dir, n)
		case !bytes.Equal(x, y):
			i := 0
			for i < len(x) && i < len(y) && x[i] == y[i] {
				i++
			}
			from := max(0, i-80)
			t.Errorf("%s/%s differs at byte %d:\nlocal   …%q\ncluster …%q", dir, n, i, x[from:min(len(x), i+120)], y[from:min(len(y), i+120)])
		}
	}
	t.Logf("%s: %d objects equal", dir, len(a))
}

var fingerprint = regexp.MustCompile(`"fingerprint": ?"[0-9a-f]+"`)

// copyObjects copies every object under from to the same names under to.
func copyObjects(t *testing.T, from, to string) {
	t.Helper()
	ctx := context.Background()
	names, err := storage.ListTree(ctx, from)
	if err != nil || len(names) == 0 {
		t.Fatalf("list %s: %v %v", from, names, err)
	}
	for _, n := range names {
		b, err := storage.ReadFile(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, to+strings.TrimPrefix(n, from), b); err != nil {
			t.Fatal(err)
		}
	}
}

// killWorkerDuring runs winnow with args on the cluster, kills one of its
// worker processes, one with a bundle in progress, once reached returns,
// and checks that the job fails.
func killWorkerDuring(t *testing.T, c *Cluster, reached func(context.Context) error, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := c.StartRun(t, &stdout, &stderr, args...)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := reached(ctx); err != nil {
		cmd.Process.Kill()
		t.Fatalf("the run never reached the kill point: %v\n%s", err, stderr.String())
	}
	var pid int
	for ctx.Err() == nil {
		var ok bool
		if pid, ok = c.BusyWorkerProcess(); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatal("no worker process with a bundle in progress to kill")
	}
	all := c.WorkerProcesses()
	if len(all) != workers {
		t.Errorf("worker processes %v; want %d", all, workers)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("the job succeeded although its worker was killed:\n%s", stdout.String())
		}
		t.Logf("killed worker process %d of %v; the job failed: %s", pid, all, lastLine(stderr.String()))
	case <-time.After(stepTimeout):
		cmd.Process.Kill()
		t.Fatal("the job neither failed nor finished after its worker was killed")
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// noTemporaries checks that no temporary object (storage.TempPrefix) is
// left under prefix.
func noTemporaries(t *testing.T, srv *fakestorage.Server, prefix string) {
	t.Helper()
	objs, _, err := srv.ListObjectsWithOptions(bucket, fakestorage.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(o.Name, storage.TempPrefix) || strings.HasSuffix(o.Name, "_lock.json") {
			t.Errorf("left in the bucket: %s", o.Name)
		}
	}
}
