// Package parity compares this module's fastText with the C++ tool: it
// prepares the comparison data sets (the legal annotations as a binary
// fastText task) and runs Debian's `fasttext` binary. Its tests are the
// side-by-side checks (bit-identical training with -thread 1, predictions
// of models written here, quality on the cooking and legal sets); they run
// when the binary and the shared data are present and skip otherwise.
package parity

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
)

// CppBinary returns the path of the fastText C++ command line tool, if
// installed (Debian package fasttext).
func CppBinary() (string, bool) {
	p, err := exec.LookPath("fasttext")
	return p, err == nil
}

// RunCpp runs the C++ tool with args and returns its standard output.
func RunCpp(bin string, args ...string) ([]byte, error) {
	return RunCppInput(bin, nil, args...)
}

// RunCppInput is RunCpp with standard input read from stdin.
func RunCppInput(bin string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tail := stderr.Bytes()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("fasttext %v: %w\n%s", args, err, tail)
	}
	return stdout.Bytes(), nil
}
