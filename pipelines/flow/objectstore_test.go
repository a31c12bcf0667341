package flow

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// TestExperimentOnObjectStore runs a flow whose experiment is on a fake
// GCS with the local runner: every step's output, the records, the model
// the filter loads and the report are written there, a second run skips
// every step, and changing the keep fraction reruns the filter alone.
func TestExperimentOnObjectStore(t *testing.T) {
	ctx := context.Background()
	fakecloud.StartGCS(t, "flows")
	exp := "gs://flows/small"

	first, err := Run(ctx, smallFlow(t, exp, nil), Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(first), " "); got != "label split fasttext-data-plsfix train-ft select filter" {
		t.Fatalf("first run ran %q", got)
	}
	if first.Report != exp+"/"+ReportHTML {
		t.Errorf("report written to %s, want in %s", first.Report, exp)
	}
	files, err := storage.ListTree(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	has := func(pattern string) bool {
		for _, f := range files {
			if ok, _ := filepath.Match(exp+"/"+pattern, f); ok {
				return true
			}
		}
		return false
	}
	for _, st := range first.Steps {
		if !strings.HasPrefix(st.Dir, exp+"/"+st.Step+"-") {
			t.Errorf("step %s wrote %s, not in the experiment", st.Step, st.Dir)
		}
		if !has(RecordsDir + "/" + storage.Base(st.Dir) + ".json") {
			t.Errorf("no record of step %s in %s", st.Step, exp)
		}
	}
	for _, p := range []string{PlanFile, ReportJSON, ReportHTML, "label-*/_manifest.json", "split-*/_manifest.json",
		"train-ft-*/model/manifest.json", "train-ft-*/" + PredictionsFile, "select-*/selection.json", "filter-*/_manifest.json"} {
		if !has(p) {
			t.Errorf("%s/%s is missing; the experiment holds %v", exp, p, files)
		}
	}
	// A URL taken for a local path would name the folder "gs:" here.
	if _, err := os.Stat("gs:"); err == nil {
		t.Errorf("the run wrote a local gs: folder")
	}
	rep, err := BuildReport(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Selection == nil || !strings.HasPrefix(rep.Selection.ModelDir, exp+"/train-ft-") {
		t.Errorf("selection %+v: want the model in the experiment", rep.Selection)
	}
	if len(rep.Classifiers) != 1 || rep.Classifiers[0].ROC["pos"] == nil || rep.Filter == nil || rep.Filter.Report.Scores.Total() != 2000 {
		t.Errorf("report: %+v", rep)
	}

	again, err := Run(ctx, smallFlow(t, exp, nil), Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := ran(again); len(r) != 0 {
		t.Errorf("a run with nothing changed ran %v", r)
	}
	res, err := Run(ctx, smallFlow(t, exp, func(s string) string { return strings.Replace(s, "keep_fraction: 0.1", "keep_fraction: 0.2", 1) }), Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "filter" {
		t.Errorf("changing the keep fraction ran %q, want filter", got)
	}
	b, err := storage.ReadFile(ctx, storage.Join(exp, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var written Report
	if err := json.Unmarshal(b, &written); err != nil {
		t.Fatal(err)
	}
	if written.Filter == nil || written.Filter.Report.Kept < 360 || written.Filter.Report.Kept > 440 {
		t.Errorf("report.json's filter %+v: want the new filter's, about 400 of 2000 kept", written.Filter)
	}
}

// TestDistributedRunnerNeedsSharedPaths refuses, before any step runs, a
// flow one of whose steps runs on Dataflow with its experiment or pool on
// this machine's disk, naming the flow file's line and key.
func TestDistributedRunnerNeedsSharedPaths(t *testing.T) {
	fakecloud.StartGCS(t, "flows")
	dataflow := func(src string) string {
		return src + "runner:\n  steps:\n    filter: {runner: dataflow}\n"
	}
	for _, c := range []struct {
		name, exp, want string
		edit            func(string) string
	}{
		{"local experiment", t.TempDir(), ":2: experiment: ", dataflow},
		{"memfs experiment", "memfs://flows/small", ":2: experiment: memfs://flows/small lives in this process's memory", dataflow},
		{"local pool", "gs://flows/small", ":4: pool.inputs[0]: ", dataflow},
		{"every step", t.TempDir(), ":2: experiment: ", func(src string) string { return src + "runner:\n  flags: {runner: dataflow}\n" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ran := false
			_, err := Run(context.Background(), smallFlow(t, c.exp, c.edit), Options{Quiet: true, stepHook: func(*Step) { ran = true }})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "put it on gs:// or s3://") || !strings.Contains(err.Error(), "flow.yaml") {
				t.Errorf("error %v, want one naming flow.yaml, %q and gs:// or s3://", err, c.want)
			}
			if ran {
				t.Error("a step ran")
			}
		})
	}
	// A job server's workers may share this machine's file system: a local
	// experiment is warned about, not refused.
	var out strings.Builder
	exp := t.TempDir()
	_, err := Run(context.Background(), smallFlow(t, exp, func(src string) string {
		return src + "runner:\n  steps:\n    filter: {runner: universal, environment_type: EXTERNAL, endpoint: localhost:1}\n"
	}), Options{DryRun: true, Out: &out})
	if err != nil {
		t.Errorf("job server: %v", err)
	}
	if w := out.String(); !strings.Contains(w, "warning: "+exp+"/flow.yaml:2: experiment: ") || !strings.Contains(w, "shared file system") {
		t.Errorf("job server: output %q, want a warning about the local experiment", w)
	}
	// On the local runner a local experiment is fine.
	if _, err := Run(context.Background(), smallFlow(t, t.TempDir(), nil), Options{DryRun: true}); err != nil {
		t.Errorf("local runner: %v", err)
	}
}
