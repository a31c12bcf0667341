package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

// topicModel is a four-label fastText model trained by official fastText:
// an external model without manifest (top-label scores).
func topicModel(t *testing.T) string {
	return testutil.Testdata(t, "fasttext/fasttext-net/softmax.bin")
}

func sampleData(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
}

func TestScoreAndFilterCommands(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"score", "-i", sampleData(t), "-o", dir + "/scored", "-m", topicModel(t), "--all-labels"},
			[]string{"score: 2,000 rows in, 2,000 out", "model softmax (fasttext", "normalizer newlines 1", "probability of the most probable label", "train.jsonl.zst", "total  2,000  2,000  100.00"}},
		{[]string{"infer-fasttext", "-i", sampleData(t), "-o", dir + "/attributes", "-m", topicModel(t), "--attributes-only", "--no-version-dir"},
			[]string{"2,000 rows in, 2,000 out", "wrote " + dir + "/attributes"}},
		{[]string{"filter", "-i", sampleData(t), "-o", dir + "/top", "-m", topicModel(t), "--keep-fraction", "0.1", "--rejected-dir", dir + "/rejected"},
			[]string{"keep fraction 0.1 of 2,000 scored rows (target 200): cut at score", "total  2,000  ", "train.jsonl.zst  1,000"}},
		{[]string{"filter", "-i", sampleData(t), "-o", dir + "/jq", "-m", topicModel(t), "-e", `.metadata.softmax.label == "tech"`},
			[]string{"filter: 2,000 rows in"}},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if err != nil {
			t.Fatalf("winnow %s: %v\n%s", strings.Join(s.args, " "), err, out)
		}
		squeezed := regexp.MustCompile(` +`).ReplaceAllString(out, "  ")
		for _, w := range s.want {
			if !strings.Contains(out, w) && !strings.Contains(squeezed, w) {
				t.Errorf("winnow %s: output lacks %q:\n%s", s.args[0], w, out)
			}
		}
	}
	// One attribute record per document.
	m, err := shardmap.ReadManifest(t.Context(), dir+"/attributes")
	if err != nil {
		t.Fatal(err)
	}
	if m.Totals.RowsOut != 2000 || len(m.Outputs) != 2 {
		t.Errorf("%d attribute records in %d shards, want 2000 in 2", m.Totals.RowsOut, len(m.Outputs))
	}
}

func TestFilterFlagErrors(t *testing.T) {
	data, model := sampleData(t), topicModel(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"filter", "-i", data, "-o", "y", "-m", model}, "at least one of the flags in the group"},
		{[]string{"filter", "-i", data, "-o", "y", "-m", model, "--threshold", "0.5", "--pareto", "9"}, "were all set"},
		{[]string{"filter", "-i", data, "-o", "y", "-m", model, "--keep-fraction", "0.5", "--incremental"}, "--keep-fraction is global"},
		{[]string{"filter", "-i", data, "-o", "y", "-m", model, "--keep-fraction", "2"}, "want a number in (0, 1]"},
		{[]string{"filter", "-i", data, "-o", "y", "-m", model, "-e", ".a |"}, `jq expression ".a |"`},
		{[]string{"score", "-i", data, "-o", "y"}, `"model" not set`},
		{[]string{"score", "-i", data, "-o", "y", "-m", model, "--normalizer", "nope"}, `unknown normalizer "nope"`},
		{[]string{"score", "-i", data, "-o", "y", "-m", model, "--positive-label", "pos"}, "not one of the model's labels"},
		{[]string{"score", "-i", data, "-o", "y", "-m", data}, "has neither manifest.json, model.bin/model.ftz nor a Hugging Face config.json"},
		{[]string{"score", "-i", data, "-o", "y", "-m", model, "--field", "a b"}, `"a b" for "--field" flag: score field "a b": want dot-separated names`},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("winnow %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// checkCommandLine parses args with winnow's own command tree, as the CLI
// would, and fails on unknown flags, missing required ones and conflicts.
func checkCommandLine(t *testing.T, source string, args []string) {
	t.Helper()
	cmd, rest, err := newRootCmd().Find(args)
	if err != nil || cmd.Name() != "filter" {
		t.Fatalf("%s: %v does not name winnow filter: %v", source, args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: %v", source, err)
		return
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		t.Errorf("%s: %v", source, err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		t.Errorf("%s: %v", source, err)
	}
}

// TestInfraExamples validates what the scheduling examples in infra/ can be
// checked for here: the files parse, and every winnow command line in them
// (after launch.sh's parameter translation) is accepted by the real CLI.
func TestInfraExamples(t *testing.T) {
	infra := filepath.Join(testutil.RepoRoot(t), "infra", "schedule")

	var job struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Schedule          string `yaml:"schedule"`
			ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
			JobTemplate       struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Command []string `yaml:"command"`
								Args    []string `yaml:"args"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	b, err := os.ReadFile(filepath.Join(infra, "k8s", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatalf("cronjob.yaml: %v", err)
	}
	containers := job.Spec.JobTemplate.Spec.Template.Spec.Containers
	if job.Kind != "CronJob" || job.Spec.ConcurrencyPolicy != "Forbid" || len(strings.Fields(job.Spec.Schedule)) != 5 || len(containers) != 1 {
		t.Fatalf("cronjob.yaml: %+v", job)
	}
	checkCommandLine(t, "cronjob.yaml", containers[0].Args)

	cron, err := os.ReadFile(filepath.Join(infra, "crontab"))
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`(?m)^((?:\S+\s+){5})(.*refilter\.sh.*)$`).FindStringSubmatch(string(cron))
	if entry == nil {
		t.Fatalf("crontab has no five-field entry running refilter.sh:\n%s", cron)
	}
	sel := regexp.MustCompile(`WINNOW_SELECTION="([^"]*)"`).FindStringSubmatch(entry[2])
	if sel == nil {
		t.Fatal("the crontab entry sets no WINNOW_SELECTION")
	}
	checkCommandLine(t, "crontab", append([]string{"filter", "--incremental", "-i", "in", "-o", "out", "-m", "model"}, strings.Fields(sel[1])...))

	var meta struct {
		Name       string `json:"name"`
		Parameters []struct {
			Name       string   `json:"name"`
			IsOptional bool     `json:"isOptional"`
			Regexes    []string `json:"regexes"`
		} `json:"parameters"`
	}
	readJSON(t, filepath.Join(infra, "dataflow", "metadata.json"), &meta)
	var launch struct {
		LaunchParameter struct {
			JobName              string            `json:"jobName"`
			ContainerSpecGcsPath string            `json:"containerSpecGcsPath"`
			Parameters           map[string]string `json:"parameters"`
		} `json:"launchParameter"`
	}
	readJSON(t, filepath.Join(infra, "dataflow", "launch-request.json"), &launch)
	declared := map[string]bool{}
	for _, p := range meta.Parameters {
		declared[p.Name] = true
		for _, re := range p.Regexes {
			if _, err := regexp.Compile(re); err != nil {
				t.Errorf("metadata.json: parameter %s: %v", p.Name, err)
			}
		}
		if !p.IsOptional {
			if _, ok := launch.LaunchParameter.Parameters[p.Name]; !ok {
				t.Errorf("launch-request.json lacks the required parameter %s", p.Name)
			}
		}
		// launch.sh must translate every parameter to a filter flag.
		if !strings.Contains(readFile(t, filepath.Join(infra, "dataflow", "launch.sh")), "--"+p.Name+"=*") {
			t.Errorf("launch.sh does not translate the parameter %s", p.Name)
		}
	}
	var params []string
	for name, value := range launch.LaunchParameter.Parameters {
		if !declared[name] {
			t.Errorf("launch-request.json sets %s, which metadata.json does not declare", name)
		}
		for _, p := range meta.Parameters {
			if p.Name == name {
				for _, re := range p.Regexes {
					if !regexp.MustCompile(re).MatchString(value) {
						t.Errorf("launch-request.json: %s=%q does not match %s", name, value, re)
					}
				}
			}
		}
		params = append(params, "--"+strings.ReplaceAll(name, "_", "-")+"="+value)
	}
	if !strings.HasPrefix(launch.LaunchParameter.ContainerSpecGcsPath, "gs://") || launch.LaunchParameter.JobName == "" {
		t.Errorf("launch-request.json: %+v", launch.LaunchParameter)
	}
	checkCommandLine(t, "launch-request.json", append([]string{"filter", "--incremental"}, params...))
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readFile(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// winnowExecutable writes an executable that runs this test binary as the
// winnow command (TestHelperWinnowCLI), for the scripts under test.
func winnowExecutable(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "winnow")
	script := fmt.Sprintf("#!/bin/sh\nWINNOW_TEST_CLI=1 exec %q -test.run='^TestHelperWinnowCLI$' -- \"$@\"\n", self)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHelperWinnowCLI is not a test: it runs the winnow CLI with the
// arguments after "--" when the scripts under test call winnowExecutable.
func TestHelperWinnowCLI(t *testing.T) {
	if os.Getenv("WINNOW_TEST_CLI") != "1" {
		t.Skip("runs the winnow command for script tests")
	}
	root := newRootCmd()
	root.SetArgs(flag.Args())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "winnow:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestRefilterScript runs infra/schedule/refilter.sh as cron would, twice
// over a corpus that grows in between: the second run filters only the new
// shard and the manifest covers all of them.
func TestRefilterScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	script := filepath.Join(testutil.RepoRoot(t), "infra", "schedule", "refilter.sh")
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	os.MkdirAll(corpus, 0o755)
	src := filepath.Join(sampleData(t), "train.jsonl.zst")
	copyFile(t, src, filepath.Join(corpus, "day1.jsonl.zst"))
	run := func() string {
		cmd := exec.Command(script)
		cmd.Env = append(os.Environ(),
			"WINNOW="+winnowExecutable(t), "WINNOW_INPUT="+corpus, "WINNOW_OUTPUT="+dir+"/filtered",
			"WINNOW_MODEL="+topicModel(t), "WINNOW_SELECTION=--threshold 0.5", "WINNOW_REJECTED="+dir+"/rejected",
			"WINNOW_EXTRA_ARGS=--parallelism 2", "WINNOW_LOCK="+dir+"/lock")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("refilter.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	copyFile(t, filepath.Join(sampleData(t), "valid.jsonl.zst"), filepath.Join(corpus, "day2.jsonl.zst"))
	second := run()
	if !strings.Contains(first, "shards_done=1") || !strings.Contains(second, "shards_done=1") || !strings.Contains(second, "refilter: done") {
		t.Errorf("each run should filter one new shard:\n--- first\n%s\n--- second\n%s", first, second)
	}
	versions, _ := filepath.Glob(dir + "/filtered/softmax-*")
	if len(versions) != 1 {
		t.Fatalf("version directories %v", versions)
	}
	m, err := shardmap.ReadManifest(t.Context(), versions[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Outputs) != 2 || m.Totals.RowsIn != 2000 {
		t.Errorf("manifest after two nights: %d outputs, %d rows in", len(m.Outputs), m.Totals.RowsIn)
	}
}

// TestFlexTemplateLaunch runs infra/schedule/dataflow/launch.sh with the
// launch request's parameters and Dataflow's pipeline options as the flex
// template launcher passes them, up to a Dataflow dry run (the job is
// translated, not submitted).
func TestFlexTemplateLaunch(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	launch := filepath.Join(testutil.RepoRoot(t), "infra", "schedule", "dataflow", "launch.sh")
	// Dataflow's workers read and write gs://, here a fake GCS.
	fakecloud.StartGCS(t, "winnow-test")
	in := toGCS(t, sampleData(t), "gs://winnow-test/in")
	model := toGCS(t, topicModel(t), "gs://winnow-test/models/softmax.bin")
	cmd := exec.Command(launch,
		"--input_dir="+in, "--output_dir=gs://winnow-test/out", "--model="+model, "--int_threshold=1",
		"--rejected_dir=gs://winnow-test/rejected", "--project=winnow-test", "--region=us-central1",
		"--staging_location=gs://winnow-test/staging", "--temp_location=gs://winnow-test/tmp",
		"--job_name=winnow-refilter", "--dry_run")
	cmd.Env = append(os.Environ(), "WINNOW="+winnowExecutable(t), "WINNOW_WORKER_BINARY="+topicModel(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("launch.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if !strings.Contains(string(out), "submitted to dataflow") {
		t.Errorf("launch.sh output:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// One truth per count (issue 15: filter said "2,000 in, 207 out", "200 …
// kept" at the cut and rows_in=4000 rows_out=2207 in its counters; reshard
// said shards_done=6 for 4 shards): every number printed agrees with the
// manifest, whatever passes the run made.
func TestPrintedCountsAgreeWithTheManifest(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "filter", "-i", sampleData(t), "-o", dir+"/top", "-m", topicModel(t), "--keep-fraction", "0.1", "--no-version-dir")
	if err != nil {
		t.Fatal(err)
	}
	m, err := shardmap.ReadManifest(t.Context(), dir+"/top")
	if err != nil {
		t.Fatal(err)
	}
	kept := m.Totals.RowsOut
	for _, want := range []string{
		fmt.Sprintf("filter: 2,000 rows in, %s out", progress.Count(kept)),
		fmt.Sprintf("; kept %s, all ", progress.Count(kept)),
		fmt.Sprintf("bad_rows=0 bytes_in=%d bytes_out=%d rows_in=2000 rows_out=%d shards_done=2\n", m.Totals.BytesIn, m.Totals.BytesOut, kept),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("filter output lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "reshard", "-i", sampleData(t), "-o", dir+"/resharded", "-n", "4", "--test-split", "0.2")
	if err != nil {
		t.Fatal(err)
	}
	if m, err = shardmap.ReadManifest(t.Context(), dir+"/resharded"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("bad_rows=0 bytes_in=%d bytes_out=%d rows_in=2000 rows_out=2000 shards_done=4\n", m.Totals.BytesIn, m.Totals.BytesOut)
	if len(m.Outputs) != 4 || !strings.Contains(out, want) {
		t.Errorf("reshard into %d shards; output lacks %q:\n%s", len(m.Outputs), want, out)
	}

	// to-fasttext writes one file per split from the four shards.
	out, err = runCLI(t, "to-fasttext", "-i", dir+"/resharded", "-o", dir+"/ft", "-l", "scores.score")
	if err != nil {
		t.Fatal(err)
	}
	if m, err = shardmap.ReadManifest(t.Context(), dir+"/ft"); err != nil {
		t.Fatal(err)
	}
	squeezed := regexp.MustCompile(` +`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"2,000 out, 0 bad; ", " 2 shards in ", "shards_done=2\n",
		" test 1 400 400 0 ", " train 1 1,600 1,600 0 ",
	} {
		if len(m.Outputs) != 2 || !strings.Contains(squeezed, want) {
			t.Errorf("to-fasttext wrote %d files; output lacks %q:\n%s", len(m.Outputs), want, out)
		}
	}
}
