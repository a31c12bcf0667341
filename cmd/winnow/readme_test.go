package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// readmeCommands returns the commands of the README's fenced sh blocks, in
// order, with backslash-continued lines joined.
func readmeCommands(t *testing.T, readme string) []string {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	in, cont := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in:
			in = line == "```sh"
		case line == "```":
			in = false
		default:
			if more, ok := strings.CutSuffix(line, "\\"); ok {
				cont += more
				continue
			}
			if cmd := strings.TrimSpace(cont + line); cmd != "" {
				cmds = append(cmds, cmd)
			}
			cont = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

// TestReadmeWalkthrough copies the repository's tracked files to a fresh
// folder (so nothing outside it, such as ../shared, is at hand) and runs
// every command of the README's sh blocks there, in order, as written.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's walkthrough (about a minute)")
	}
	root := testutil.RepoRoot(t)
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("the tracked files are unknown (not a git checkout?): %v", err)
	}
	// The copy lives at a fixed place per checkout: the go command's cache
	// keys this module's packages by their directory, so a later run of the
	// test rebuilds only what changed.
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	clone := filepath.Join(cache, "winnow-readme-test", hex.EncodeToString(sum[:6]), "winnow")
	if err := os.RemoveAll(clone); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(clone) })
	for _, rel := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(clone, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	cmds := readmeCommands(t, filepath.Join(clone, "README.md"))
	if len(cmds) < 20 || cmds[0] != "go build -o winnow ./cmd/winnow" {
		t.Fatalf("the README's sh blocks hold %d commands, starting %q", len(cmds), cmds)
	}
	env := append(os.Environ(), "WINNOW_SHARED_DATA="+filepath.Join(clone, "no-shared-data"))
	for _, c := range cmds {
		start := time.Now()
		// Builds in a new folder recompile winnow's own packages (the go
		// command's cache keys them by directory): on a cold, loaded 2-core
		// machine that takes minutes.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", c)
		cmd.Dir, cmd.Env = clone, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README command failed: %s\n%v\n%s", c, err, out)
		}
		t.Logf("%5.1fs  %s", time.Since(start).Seconds(), c)
	}
	// The built command asks for its heap's huge pages first thing (what
	// it got depends on the machine; "not asked for" means main did not).
	out, err := exec.Command(filepath.Join(clone, "winnow"), "--log-level", "debug", "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "heap on huge pages: ") || strings.Contains(string(out), "not asked for") {
		t.Errorf("winnow --log-level debug version does not report the heap's huge pages (%v):\n%s", err, out)
	}
	// Everything was written under work/ (beside the two binaries).
	entries, err := os.ReadDir(clone)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, e.Name())); os.IsNotExist(err) && e.Name() != "work" && e.Name() != "winnow" && e.Name() != "fasttext" {
			t.Errorf("a README command wrote %s outside work/", e.Name())
		}
	}
}
