package shardmap

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func writeInput(t *testing.T, n int, bad map[int]string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		if s, ok := bad[i]; ok {
			b.WriteString(s + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"i":%d,"text":"%s"}`+"\n", i, strings.Repeat("w", i%97))
	}
	p := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	r, err := shardio.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		l, err := r.Next()
		if err != nil {
			return out
		}
		out = append(out, string(l))
	}
}

// evenOnly keeps rows with an even "i" and tags them.
var evenOnly = rows.OpFunc(func(r *rows.Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	n, _ := obj["i"].(json.Number).Int64()
	if n%2 == 1 {
		return false, nil
	}
	obj["even"] = true
	r.Set(obj)
	return true, nil
})

func TestRunKeepsInputOrderAcrossManyBatchesAndWritesRejected(t *testing.T) {
	in := writeInput(t, 5*batchRows+17, nil)
	dir := t.TempDir()
	task := Task{Input: in, Output: filepath.Join(dir, "out.jsonl.zst"), Rejected: filepath.Join(dir, "rejected", "out.jsonl.zst"), Marker: filepath.Join(dir, "_done", "out.json")}
	res, err := NewEngine(4).Run(context.Background(), task, Work{Ops: []rows.Op{evenOnly}, Fingerprint: "f1"}, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	n := 5*batchRows + 17
	if res.RowsIn != int64(n) || res.RowsOut != int64((n+1)/2) || res.Rejected != int64(n/2) {
		t.Fatalf("result %+v", res)
	}
	kept := readLines(t, task.Output)
	for j, l := range kept {
		if want := fmt.Sprintf(`{"even":true,"i":%d,`, 2*j); !strings.HasPrefix(l, want) {
			t.Fatalf("kept row %d is %.40s, want prefix %s", j, l, want)
		}
	}
	rejected := readLines(t, task.Rejected)
	for j, l := range rejected {
		if want := fmt.Sprintf(`{"i":%d,`, 2*j+1); !strings.HasPrefix(l, want) {
			t.Fatalf("rejected row %d is %.40s, want prefix %s (as read)", j, l, want)
		}
	}
}

// tagBatches is a batch operation that tags every row with the size of the
// batch it came in, and records the largest.
type tagBatches struct {
	mu      sync.Mutex
	largest int
}

func (o *tagBatches) Apply(r *rows.Row) (bool, error) {
	keep, errs := []bool{false}, []error{nil}
	o.ApplyBatch([]*rows.Row{r}, keep, errs)
	return keep[0], errs[0]
}

func (o *tagBatches) ApplyBatch(rs []*rows.Row, keep []bool, errs []error) {
	o.mu.Lock()
	o.largest = max(o.largest, len(rs))
	o.mu.Unlock()
	for i, r := range rs {
		obj, err := r.Object()
		if err != nil {
			errs[i] = err
			continue
		}
		obj["batch"] = len(rs)
		r.Set(obj)
		keep[i] = true
	}
}

func TestBatchesTakeAnArenaForEncodedRowsOnlyWhenARowIsReplaced(t *testing.T) {
	batch := func() []*rows.Row {
		var rs []*rows.Row
		for i := 0; i < 4; i++ {
			rs = append(rs, rows.New([]byte(fmt.Sprintf(`{"i":%d}`, i)), "in.jsonl", int64(i+1)))
		}
		return rs
	}
	oddOnly := rows.OpFunc(func(r *rows.Row) (bool, error) {
		obj, err := r.Object()
		if err != nil {
			return false, err
		}
		n, _ := obj["i"].(json.Number).Int64()
		return n%2 == 1, nil
	})

	// Rows kept or dropped as read are written from the batch's lines.
	var asRead lazyArena
	out := make([]rowOutcome, 4)
	process(batch(), []rows.Op{oddOnly}, out, &asRead)
	if asRead.buf != nil {
		t.Error("a batch whose rows were all kept as read took an arena for encoded rows")
	}
	if string(out[1].out) != `{"i":1}` || out[0].out != nil {
		t.Errorf("outcomes %q, %q; want the odd row as read and the even one dropped", out[0].out, out[1].out)
	}

	var replaced lazyArena
	process(batch(), []rows.Op{evenOnly}, out, &replaced)
	if replaced.buf == nil {
		t.Fatal("a batch with replaced rows took no arena for them")
	}
	if want := `{"even":true,"i":0}{"even":true,"i":2}`; string(*replaced.buf) != want {
		t.Errorf("encoded arena holds %s, want %s", *replaced.buf, want)
	}
	if string(out[2].out) != `{"even":true,"i":2}` {
		t.Errorf("outcome of row 2 is %s", out[2].out)
	}
	releaseArena(replaced.buf)
}

func TestBatchOperationsTakeWholeBatchesInOrder(t *testing.T) {
	n := 3*batchRows + 5
	in := writeInput(t, n, nil)
	dir := t.TempDir()
	op := &tagBatches{}
	task := Task{Input: in, Output: filepath.Join(dir, "out.jsonl")}
	// evenOnly runs row by row before the batch operation gets the kept rows.
	if _, err := NewEngine(3).Run(context.Background(), task, Work{Ops: []rows.Op{evenOnly, op}}, Policy{}); err != nil {
		t.Fatal(err)
	}
	if op.largest != batchRows/2 {
		t.Errorf("the batch operation got batches of up to %d rows, want the %d kept of each batch of %d", op.largest, batchRows/2, batchRows)
	}
	kept := readLines(t, task.Output)
	if len(kept) != (n+1)/2 {
		t.Fatalf("%d rows written, want %d", len(kept), (n+1)/2)
	}
	for j, l := range kept {
		if want := fmt.Sprintf(`{"batch":%d,"even":true,"i":%d,`, op.largest, 2*j); j < op.largest && !strings.HasPrefix(l, want) {
			t.Fatalf("row %d is %.50s, want prefix %s", j, l, want)
		}
		if want := fmt.Sprintf(`"i":%d,`, 2*j); !strings.Contains(l, want) {
			t.Fatalf("row %d is %.50s, want %s", j, l, want)
		}
	}
}

func TestFailedTasksGiveBackTheirBatchesInFlight(t *testing.T) {
	// A bad row late in a long shard fails the task while many batches are
	// in flight; a cancelled one stops it wherever it is. Either way the
	// engine, which outlives its tasks, must still run the next ones.
	bad := writeInput(t, 8*batchRows, map[int]string{6 * batchRows: "not json"})
	good := writeInput(t, 3*batchRows, nil)
	dir := t.TempDir()
	eng := NewEngine(1)
	finished := make(chan error)
	go func() {
		for i := range cap(eng.batches) + 1 {
			task := Task{Input: bad, Output: filepath.Join(dir, fmt.Sprintf("bad-%d.jsonl", i))}
			if _, err := eng.Run(context.Background(), task, Work{Ops: []rows.Op{evenOnly}}, Policy{}); err == nil {
				finished <- fmt.Errorf("task %d with a bad row succeeded", i)
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			task.Output = filepath.Join(dir, fmt.Sprintf("cancelled-%d.jsonl", i))
			if _, err := eng.Run(ctx, task, Work{Ops: []rows.Op{evenOnly}}, Policy{}); err == nil {
				finished <- fmt.Errorf("cancelled task %d succeeded", i)
				return
			}
		}
		_, err := eng.Run(context.Background(), Task{Input: good, Output: filepath.Join(dir, "good.jsonl")}, Work{Ops: []rows.Op{evenOnly}}, Policy{})
		finished <- err
	}()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the engine stalled after failed tasks: %d of its %d batches in flight were not given back", len(eng.batches), cap(eng.batches))
	}
	if got := len(readLines(t, filepath.Join(dir, "good.jsonl"))); got != 3*batchRows/2 {
		t.Errorf("%d rows written after the failed tasks, want %d", got, 3*batchRows/2)
	}
	if n := len(eng.batches); n != 0 {
		t.Errorf("%d batches still counted in flight after every task ended", n)
	}
}

func TestMarkersResumeOnlyTheSameWork(t *testing.T) {
	in := writeInput(t, 100, nil)
	dir := t.TempDir()
	task := Task{Input: in, InputSize: 1, Output: filepath.Join(dir, "o.jsonl"), Marker: filepath.Join(dir, "_done", "o.json")}
	eng := NewEngine(2)
	ctx := context.Background()
	if res, err := eng.Run(ctx, task, Work{Fingerprint: "a"}, Policy{}); err != nil || res.Resumed {
		t.Fatalf("first run: %+v %v", res, err)
	}
	if res, err := eng.Run(ctx, task, Work{Fingerprint: "a"}, Policy{}); err != nil || !res.Resumed || res.RowsOut != 100 {
		t.Fatalf("same work was not resumed: %+v %v", res, err)
	}
	if res, err := eng.Run(ctx, task, Work{Fingerprint: "b"}, Policy{}); err != nil || res.Resumed {
		t.Fatalf("changed work was resumed: %+v %v", res, err)
	}
	os.Remove(task.Output)
	if res, err := eng.Run(ctx, task, Work{Fingerprint: "b"}, Policy{}); err != nil || res.Resumed {
		t.Fatalf("missing output was resumed: %+v %v", res, err)
	}
}

func TestBadRowsFailOrGoToTheSidecar(t *testing.T) {
	bad := map[int]string{3: `{"i":3`, 2500: "{\"i\":\"\xff\"}"}
	in := writeInput(t, 3000, bad)
	dir := t.TempDir()
	task := Task{Input: in, Output: filepath.Join(dir, "o.jsonl"), Errors: filepath.Join(dir, "_errors", "o.jsonl")}
	eng := NewEngine(2)
	_, err := eng.Run(context.Background(), task, Work{}, Policy{})
	if err == nil || !strings.Contains(err.Error(), in+":4: malformed JSON") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(task.Output); !os.IsNotExist(err) {
		t.Fatal("output committed after a failure")
	}
	res, err := eng.Run(context.Background(), task, Work{}, Policy{SkipBad: true})
	if err != nil || res.BadRows != 2 || res.RowsOut != 2998 {
		t.Fatalf("skip: %+v %v", res, err)
	}
	if lines := readLines(t, task.Errors); len(lines) != 2 || !strings.Contains(lines[1], `"line":2501`) {
		t.Fatalf("errors sidecar %v", lines)
	}
	// A clean re-run removes the stale sidecar.
	clean := writeInput(t, 10, nil)
	task.Input = clean
	if _, err := eng.Run(context.Background(), task, Work{}, Policy{SkipBad: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(task.Errors); !os.IsNotExist(err) {
		t.Fatal("stale errors sidecar kept")
	}
}

func TestForEachCountsGoodRows(t *testing.T) {
	in := writeInput(t, 2000, map[int]string{5: "nope"})
	var idx []int64
	res, err := NewEngine(3).ForEach(context.Background(), Task{Input: in, Errors: filepath.Join(t.TempDir(), "e.jsonl")}, Policy{SkipBad: true}, func(i int64, raw []byte) error {
		idx = append(idx, i)
		return nil
	})
	if err != nil || res.RowsIn != 2000 || res.BadRows != 1 || len(idx) != 1999 || idx[1998] != 1998 {
		t.Fatalf("%+v %v %d", res, err, len(idx))
	}
}
