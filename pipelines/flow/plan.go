package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Step is one step of a flow: what it reads (earlier steps and external
// inputs), the work it does (recorded in its fingerprint) and the folder
// it writes.
type Step struct {
	// Name is unique in the flow, e.g. "label" or "train-fasttext".
	Name string `json:"name"`
	// Kind is one of StepNames ("train" for every train-* step).
	Kind string `json:"kind"`
	// Needs are the steps whose outputs this one reads.
	Needs []*Step `json:"-"`
	// Work is what the step does, as recorded in its fingerprint.
	Work any `json:"work"`
	// External are the inputs from outside the experiment (corpus shards,
	// tokenizers, prompt files) whose identity enters the fingerprint.
	External []string `json:"external,omitempty"`
	// Always marks a step that runs every time (an incremental filter adds
	// the shards that arrived since the last run).
	Always bool `json:"always,omitempty"`
	// Fingerprint is a SHA-256 over the work, the needed steps'
	// fingerprints, the external inputs' identity and the code version.
	Fingerprint string `json:"fingerprint"`
	// Dir is the step's folder: <experiment>/<name>-<fingerprint[:12]>.
	Dir string `json:"dir"`

	run func(ctx context.Context, r *runState) (facts any, err error)
}

// Record is a completed step's record, written to <experiment>/_steps/
// once the step's output is complete.
type Record struct {
	Step        string    `json:"step"`
	Kind        string    `json:"kind"`
	Fingerprint string    `json:"fingerprint"`
	Dir         string    `json:"dir"`
	Needs       []string  `json:"needs,omitempty"`
	Started     time.Time `json:"started"`
	// Seconds is the step's wall time; CPUSeconds the CPU time this
	// process spent meanwhile (CoresBusy is their ratio).
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	CoresBusy  float64 `json:"cores_busy"`
	// Rows and Bytes are what the step read, when it reads rows.
	Rows  int64 `json:"rows,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
	// Facts are the step's results (label histograms, costs, metrics,
	// the selection, the filter report).
	Facts json.RawMessage `json:"facts,omitempty"`
}

// RecordsDir holds the completion records, one per step folder.
const RecordsDir = "_steps"

// PlanFile is the flow's latest plan in the experiment directory, which
// the report reads.
const PlanFile = "flow.json"

func (s *Step) recordPath(exp string) string {
	return storage.Join(exp, RecordsDir, storage.Base(s.Dir)+".json")
}

// fingerprint computes the step's fingerprint and folder from its needs,
// which must have theirs.
func (s *Step) fingerprint(ctx context.Context, exp string) error {
	h := sha256.New()
	work, err := json.Marshal(s.Work)
	if err != nil {
		return fmt.Errorf("%s: encode work: %w", s.Name, err)
	}
	fmt.Fprintf(h, "step %s\ncode %s\nwork %s\n", s.Kind, version.String(), work)
	for _, n := range s.Needs {
		fmt.Fprintf(h, "needs %s %s\n", n.Name, n.Fingerprint)
	}
	if !s.Always {
		for _, e := range s.External {
			if err := identify(ctx, h, e); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
		}
	}
	s.Fingerprint = hex.EncodeToString(h.Sum(nil))
	s.Dir = storage.Join(exp, s.Name+"-"+s.Fingerprint[:12])
	return nil
}

// identify writes an external input's identity to w: a file's content
// hash (small files such as tokenizers and prompts), a model directory's
// files or a dataset's shards with their sizes and modification times, or
// a Hub model's name.
func identify(ctx context.Context, w io.Writer, p string) error {
	if strings.HasPrefix(p, "hf://") {
		fmt.Fprintf(w, "hub %s\n", p)
		return nil
	}
	st, err := os.Stat(p)
	if err == nil && !st.IsDir() && st.Size() < 64<<20 && !isShard(p) {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file %s %x\n", p, sha256.Sum256(b))
		return nil
	}
	if err == nil && st.IsDir() && isModelDir(p) {
		return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "model file %s %d %s\n", path, info.Size(), info.ModTime().UTC().Format(time.RFC3339Nano))
			return nil
		})
	}
	files, err := dataset.Discover(ctx, []string{p}, dataset.Options{})
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		mod := ""
		if storage.IsLocal(f.Path) {
			if st, err := os.Stat(f.Path); err == nil {
				mod = st.ModTime().UTC().Format(time.RFC3339Nano)
			}
		}
		fmt.Fprintf(w, "shard %s %d %s\n", f.Path, f.Size, mod)
	}
	return nil
}

// isModelDir reports whether dir is a model directory (a Hugging Face or
// winnow model) rather than a dataset.
func isModelDir(dir string) bool {
	for _, f := range []string{"config.json", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

func isShard(p string) bool {
	for _, ext := range []string{".jsonl", ".jsonl.zst", ".jsonl.gz", ".json.gz", ".json.zst", ".parquet"} {
		if len(p) > len(ext) && p[len(p)-len(ext):] == ext {
			return true
		}
	}
	return false
}

// complete returns the step's record when its folder is complete for its
// fingerprint.
func (s *Step) complete(ctx context.Context, exp string) (*Record, bool) {
	b, err := storage.ReadFile(ctx, s.recordPath(exp))
	if err != nil {
		return nil, false
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil || r.Fingerprint != s.Fingerprint {
		return nil, false
	}
	if s.Kind != "select" {
		if ok, err := storage.IsDir(ctx, s.Dir); err != nil || !ok {
			return nil, false
		}
	}
	return &r, true
}

// writeJSON writes v to path (on any filesystem) atomically.
func writeJSON(ctx context.Context, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return storage.WriteFile(ctx, path, append(b, '\n'))
}
