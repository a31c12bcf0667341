package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
	"time"
)

// KillChildWhen runs this test binary again as a child process, with
// -test.run=^$ and env added to its environment (so that the package's
// TestMain does the work env describes), and kills it (SIGKILL) as soon as
// ready, polled every poll, reports true. It returns true when the child
// was killed, false when it finished first. A child that fails, or that
// neither finishes nor becomes ready within timeout, fails the test (the
// latter is killed first).
func KillChildWhen(t testing.TB, env []string, poll, timeout time.Duration, ready func() bool) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("child: %v\n%s", err, stderr.String())
			}
			return false
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("the child neither finished nor reached its kill point in %v\n%s", timeout, stderr.String())
		case <-time.After(poll):
			if ready() {
				_ = cmd.Process.Kill()
				<-exited
				return true
			}
		}
	}
}
