package gomlxbackend

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec, kind, config, err string
	}{
		{spec: "", kind: "go"},
		{spec: "go", kind: "go"},
		{spec: " go ", kind: "go"},
		{spec: "xla:cuda", kind: "xla", config: "cuda"},
		{spec: "xla:/opt/pjrt/xla_cuda_plugin.so,preallocate=false", kind: "xla", config: "/opt/pjrt/xla_cuda_plugin.so,preallocate=false"},
		{spec: "go:parallelism=2", err: "takes no configuration"},
		{spec: "xla", err: "name a PJRT plugin"},
		{spec: "xla:", err: "name a PJRT plugin"},
		{spec: "xla:lib/plugin.so", err: "must be absolute"},
		{spec: "tpu", err: `unknown backend "tpu"`},
	} {
		kind, config, err := parse(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse(%q) error = %v, want one containing %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || kind != tc.kind || config != tc.config {
			t.Errorf("parse(%q) = %q, %q, %v; want %q, %q", tc.spec, kind, config, err, tc.kind, tc.config)
		}
	}
}

func TestOpenSharesOneBackend(t *testing.T) {
	b, err := Open("go")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "Go Backend" {
		t.Errorf("Open(go) gave backend %q", b.Name())
	}
	again, err := Open("")
	if err != nil || again != b {
		t.Errorf("second Open = %v, %v; want the same backend", again, err)
	}
	if _, err := Open("xla:/no/such/plugin.so"); err == nil {
		t.Error("Open of another backend in the same process succeeded")
	} else if !XLACompiled && !errors.Is(err, ErrNotCompiled) {
		t.Errorf("Open(xla) in a build without XLA: %v, want ErrNotCompiled", err)
	}
}

func TestRecover(t *testing.T) {
	err := Recover(func() error { panic(errors.New("shape mismatch")) })
	if err == nil || !strings.Contains(err.Error(), "shape mismatch") {
		t.Errorf("Recover = %v", err)
	}
	if err := Recover(func() error { return nil }); err != nil {
		t.Errorf("Recover of a clean call = %v", err)
	}
}
