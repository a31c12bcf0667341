package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/rows"
)

func goodRows(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"text":"row %d","score":%d}`+"\n", i, i, i%3)
	}
	return b.String()
}

// corpus writes a flat dataset: two good shards and bad.<ext> with content.
func corpus(t *testing.T, badName string, bad []byte) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(goodRows(50)), 0o644)
	os.WriteFile(filepath.Join(dir, "c.jsonl"), []byte(goodRows(50)), 0o644)
	os.WriteFile(filepath.Join(dir, badName), bad, 0o644)
	return dir
}

func truncated(t *testing.T, ext string) []byte {
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if ext == ".gz" {
		w = gzip.NewWriter(&buf)
	} else {
		w, _ = zstd.NewWriter(&buf)
	}
	w.Write([]byte(goodRows(20000)))
	w.Close()
	return buf.Bytes()[:buf.Len()/2]
}

// assertNoPartialOutput checks the bad shard left no output or temporary file.
func assertNoPartialOutput(t *testing.T, out, badBase string) {
	t.Helper()
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		if !d.IsDir() && strings.HasPrefix(name, badBase+".") && !strings.Contains(p, "_errors") {
			t.Errorf("output of the bad shard committed: %s", p)
		}
		return nil
	})
}

func TestBadInputFailsWithFileLineAndReason(t *testing.T) {
	lines := goodRows(3)
	cases := []struct {
		name, file string
		content    []byte
		run        func(in, out string) error
		line       string // the file:line expected, "" when not row-level
		reason     string
		skippable  bool
	}{
		{"malformed JSON", "bad.jsonl", []byte(lines + `{"id": 9, "text": "x"` + "\n" + lines), transformAll, ":4:", "malformed JSON", true},
		{"invalid UTF-8", "bad.jsonl", []byte(lines + "{\"id\":9,\"text\":\"caf\xe9\"}\n"), transformAll, ":4:", "invalid UTF-8", true},
		{"truncated zstd", "bad.jsonl.zst", truncated(t, ".zst"), transformAll, "", "truncated zstd stream", false},
		{"truncated gzip", "bad.jsonl.gz", truncated(t, ".gz"), transformAll, "", "truncated gzip stream", false},
		{"missing label", "bad.jsonl", []byte(lines + `{"id":9,"text":"x"}` + "\n"), balanceAll, ":4:", "missing field .score", true},
		{"missing text", "bad.jsonl", []byte(`{"id":9,"body":"x","score":1}` + "\n" + lines), statsAll, ":1:", "missing field .text", true},
		{"jq runtime error", "bad.jsonl", []byte(lines + `{"id":9,"text":"x","score":"high"}` + "\n"), func(in, out string) error {
			_, err := Transform(context.Background(), TransformOptions{
				Common:        mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true},
				TransformArgs: rows.TransformArgs{LabelTransform: `{score: (.score * 2 + 1)}`},
			})
			return err
		}, ":4:", "cannot add", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := corpus(t, tc.file, tc.content)
			out := t.TempDir()
			err := tc.run(in, out)
			if err == nil {
				t.Fatal("bad input accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Join(in, tc.file)+tc.line) || !strings.Contains(msg, tc.reason) {
				t.Fatalf("error should name %s%s and %q:\n%v", tc.file, tc.line, tc.reason, err)
			}
			assertNoPartialOutput(t, out, "bad")
		})
	}
}

func transformAll(in, out string) error {
	_, err := Transform(context.Background(), TransformOptions{Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}})
	return err
}

func balanceAll(in, out string) error {
	_, _, err := Balance(context.Background(), BalanceOptions{Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}})
	return err
}

func statsAll(in, _ string) error {
	_, _, err := Stats(context.Background(), StatsOptions{Inputs: []string{in}, Quiet: true})
	return err
}

func TestSkippedBadRowsGoToErrorsWithReasons(t *testing.T) {
	content := []byte(goodRows(3) + `{"id": 9, "text": "x"` + "\n" + "{\"id\":10,\"text\":\"caf\xe9\"}\n" + goodRows(2))
	in := corpus(t, "bad.jsonl", content)
	out := t.TempDir()
	res, err := Transform(context.Background(), TransformOptions{
		Common: mapstep.Common{Inputs: []string{in}, Output: out, OnBadRow: "skip", Quiet: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Totals.BadRows != 2 || res.Manifest.Totals.RowsOut != 105 {
		t.Fatalf("totals %+v, want 2 bad and 105 out", res.Manifest.Totals)
	}
	b, err := os.ReadFile(filepath.Join(out, "_errors", "bad.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 {
		t.Fatalf("%d error records", len(recs))
	}
	if recs[0]["line"].(float64) != 4 || !strings.Contains(recs[0]["reason"].(string), "malformed JSON") || recs[0]["row"] != `{"id": 9, "text": "x"` {
		t.Errorf("first record %v", recs[0])
	}
	if recs[1]["line"].(float64) != 5 || !strings.Contains(recs[1]["reason"].(string), "invalid UTF-8") || recs[1]["row_base64"] == nil {
		t.Errorf("second record %v (invalid UTF-8 must be kept byte for byte, in base64)", recs[1])
	}
	// A bound on skipped rows fails the run.
	_, err = Transform(context.Background(), TransformOptions{
		Common: mapstep.Common{Inputs: []string{in}, Output: t.TempDir(), OnBadRow: "skip", MaxBadRows: 1, Quiet: true},
	})
	if err == nil || !strings.Contains(err.Error(), "more than 1 bad rows") {
		t.Fatalf("--max-bad-rows 1 with 2 bad rows: %v", err)
	}
	// Truncated files cannot be skipped row by row.
	in2 := corpus(t, "bad.jsonl.zst", truncated(t, ".zst"))
	_, err = Transform(context.Background(), TransformOptions{
		Common: mapstep.Common{Inputs: []string{in2}, Output: t.TempDir(), OnBadRow: "skip", Quiet: true},
	})
	if err == nil || !strings.Contains(err.Error(), "truncated zstd") {
		t.Fatalf("truncated input with skip: %v", err)
	}
}

func TestResumeSkipsCompletedShardsAndRedoesChangedWork(t *testing.T) {
	in := corpus(t, "b.jsonl", []byte(goodRows(10)))
	out := t.TempDir()
	opts := TransformOptions{Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}}
	if _, err := Transform(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	res, err := Transform(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counters["shards_resumed"] != 3 {
		t.Fatalf("second run resumed %d shards, want 3 (counters %v)", res.Counters["shards_resumed"], res.Counters)
	}
	opts.LabelTransform = "{label: .score}"
	res, err = Transform(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counters["shards_resumed"] != 0 {
		t.Fatalf("changed expression still resumed %d shards", res.Counters["shards_resumed"])
	}
	if got := readAll(t, filepath.Join(out, "a.jsonl.zst")); got[0]["label"] == nil {
		t.Fatalf("output not redone: %v", got[0])
	}
}

// A failed run leaves nothing half-done: no temporary file, even of the
// shards still being written when another failed (issue 15: a 0-byte
// .tmp- file stayed after a disk-full failure), and no output directory
// when it wrote nothing.
func TestFailedRunLeavesNothingBehind(t *testing.T) {
	in := t.TempDir()
	// The bad row ends a shard, so that other shards are being written when
	// it is found.
	for i := 0; i < 4; i++ {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("good-%d.jsonl", i)), []byte(goodRows(100000)), 0o644)
	}
	os.WriteFile(filepath.Join(in, "bad.jsonl"), []byte(goodRows(20000)+"not json\n"), 0o644)
	root := t.TempDir()
	out := filepath.Join(root, "work", "out")
	err := transformAll(in, out)
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:20001:") {
		t.Fatalf("error %v, want bad.jsonl:20001", err)
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), ".tmp-") || d.Name() == "_lock.json") {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})

	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "bad.jsonl"), []byte("not json\n"), 0o644)
	if err := transformAll(bad, filepath.Join(root, "work2", "out")); err == nil {
		t.Fatal("a bad row was accepted")
	}
	if _, err := os.Stat(filepath.Join(root, "work2")); !os.IsNotExist(err) {
		t.Errorf("a run that wrote nothing left its output directory: %v", err)
	}
}
