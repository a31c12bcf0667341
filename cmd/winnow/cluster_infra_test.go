package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestClusterInfra checks what the cluster material in infra/cluster can be
// checked for without Docker or a cluster: the YAML files parse, every
// winnow command line in them and in their README is accepted by the CLI,
// and the images' entrypoint contract matches the Beam boot program of the
// Beam version winnow is built with (its flags, its worker pool port).
func TestClusterInfra(t *testing.T) {
	keepGoFlags(t) // the command lines set Beam's flags
	dir := filepath.Join(testutil.RepoRoot(t), "infra", "cluster")
	bootFlags, poolPort := bootContract(t)

	var commands [][]string
	var workerArgs [][]string
	for _, name := range []string{"flink/docker-compose.yaml", "spark/docker-compose.yaml", "k8s/flink.yaml"} {
		text := readFile(t, filepath.Join(dir, name))
		docs := yaml.NewDecoder(strings.NewReader(text))
		n := 0
		for {
			var doc map[string]any
			if err := docs.Decode(&doc); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", name, err)
			}
			n++
			walkWorkerArgs(doc, &workerArgs)
		}
		if n == 0 {
			t.Errorf("%s: no YAML document", name)
		}
		commands = append(commands, commentCommands(t, name, text)...)
	}
	readme := readFile(t, filepath.Join(dir, "README.md"))
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		commands = append(commands, shellCommands(t, "README.md", block[1])...)
	}
	if len(commands) < 6 {
		t.Fatalf("found %d winnow command lines, want the three README recipes and one per deployment example", len(commands))
	}
	runners := map[string]bool{}
	for _, args := range commands {
		checkWinnowCommand(t, args)
		for _, a := range args {
			if r, ok := strings.CutPrefix(a, "--runner="); ok {
				runners[r] = true
			}
			if c, ok := strings.CutPrefix(a, "--environment_config="); ok && !strings.HasSuffix(c, ":"+poolPort) {
				t.Errorf("%v: the worker pool listens on port %s, not at %s", args, poolPort, c)
			}
		}
	}
	for _, r := range []string{"dataflow", "flink", "spark"} {
		if !runners[r] {
			t.Errorf("no %s recipe", r)
		}
	}

	if len(workerArgs) != 3 {
		t.Errorf("found %d worker pool containers, want one per deployment example", len(workerArgs))
	}
	for _, args := range workerArgs {
		for _, a := range args {
			name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
			if !bootFlags[name] {
				t.Errorf("worker container argument %s is not a flag of Beam's boot program", a)
			}
		}
	}
	for _, name := range []string{"Dockerfile", "Dockerfile.gpu"} {
		text := readFile(t, filepath.Join(dir, name))
		for _, want := range []string{
			`ENTRYPOINT ["/opt/apache/beam/boot"]`,
			"go build -trimpath -o /out/boot github.com/apache/beam/sdks/v2/go/container",
			"EXPOSE " + poolPort,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
		if !regexp.MustCompile(`(?m)^USER \S+`).MatchString(text) || strings.Contains(text, "USER root") {
			t.Errorf("%s does not run as a non-root user", name)
		}
	}
	if gpu := readFile(t, filepath.Join(dir, "Dockerfile.gpu")); !strings.Contains(gpu, "ARG PJRT_CUDA_PLUGIN") ||
		!strings.Contains(gpu, "-tags xla") || !strings.Contains(gpu, "/usr/local/lib/go-xla/pjrt_c_api_cuda_plugin.so") {
		t.Error("Dockerfile.gpu does not build with -tags xla and install the PJRT_CUDA_PLUGIN build argument where xla:cuda finds it")
	}
}

// bootContract reads the flags and the worker pool port of the Beam Go
// SDK's boot program from its source, at the Beam version in go.mod.
func bootContract(t *testing.T) (map[string]bool, string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/apache/beam/sdks/v2").Output()
	if err != nil {
		t.Skipf("cannot locate the Beam module: %v", err)
	}
	src := readFile(t, filepath.Join(strings.TrimSpace(string(out)), "go", "container", "boot.go"))
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`flag\.\w+\("(\w+)"`).FindAllStringSubmatch(src, -1) {
		flags[m[1]] = true
	}
	port := regexp.MustCompile(`pool\.New\(ctx, (\d+),`).FindStringSubmatch(src)
	if !flags["worker_pool"] || !flags["id"] || port == nil {
		t.Fatalf("boot.go: flags %v, pool port %v", flags, port)
	}
	return flags, port[1]
}

// walkWorkerArgs collects the command or args of every service or
// container that runs the worker image.
func walkWorkerArgs(v any, out *[][]string) {
	switch v := v.(type) {
	case map[string]any:
		if img, _ := v["image"].(string); strings.HasPrefix(img, "winnow-worker") {
			for _, key := range []string{"command", "args"} {
				if list, ok := v[key].([]any); ok {
					var args []string
					for _, a := range list {
						args = append(args, a.(string))
					}
					*out = append(*out, args)
				}
			}
		}
		for _, x := range v {
			walkWorkerArgs(x, out)
		}
	case []any:
		for _, x := range v {
			walkWorkerArgs(x, out)
		}
	}
}

// commentCommands returns the winnow command lines in a YAML file's
// comments, indented as code ("#   winnow ...", continued by trailing
// backslashes).
func commentCommands(t *testing.T, name, text string) [][]string {
	var script []string
	for _, line := range strings.Split(text, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#   "); ok {
			script = append(script, strings.TrimSpace(c))
		}
	}
	return shellCommands(t, name, strings.Join(script, "\n"))
}

// shellCommands returns the winnow command lines of a shell snippet, split
// into words as the shell would (quotes, backslash-newline).
func shellCommands(t *testing.T, name, script string) [][]string {
	t.Helper()
	var cmds [][]string
	lines := strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n")
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "winnow ") {
			continue
		}
		words, err := shellWords(line)
		if err != nil {
			t.Errorf("%s: %q: %v", name, line, err)
			continue
		}
		cmds = append(cmds, words[1:])
	}
	return cmds
}

func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, os.ErrInvalid
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// checkWinnowCommand parses args with winnow's command tree, as the CLI
// would, and fails on unknown commands or flags, missing required flags and
// conflicts.
func checkWinnowCommand(t *testing.T, args []string) {
	t.Helper()
	cmd, rest, err := newRootCmd().Find(args)
	if err != nil || cmd.Name() == "winnow" || !slices.Contains(rest, "-i") && !slices.Contains(rest, "--input-dir") {
		t.Errorf("%v does not name a winnow command with inputs: %v", args, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%v: %v", args, err)
		return
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		t.Errorf("%v: %v", args, err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		t.Errorf("%v: %v", args, err)
	}
}
