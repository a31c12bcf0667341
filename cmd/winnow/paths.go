package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// workerPathFlags are, by command, the flags naming files and directories
// that a pipeline's workers read or write. On a distributed run (workers
// outside this process) their relative local paths are made absolute before
// the pipeline is submitted, and local paths are warned about, or refused on
// a runner whose workers are other machines. Paths only this process reads
// (prompt and price files, a model written by a training command) are not
// listed.
var workerPathFlags = map[string][]string{
	"agreement":         {"a", "b", "output"},
	"annotate":          {"input-dir", "output-dir", "cache-dir"},
	"balance":           {"input-dir", "output-dir"},
	"eval":              {"dataset-dir", "model-dir"},
	"eval-model2vec":    {"dataset-dir", "model-dir"},
	"filter":            {"input-dir", "output-dir", "rejected-dir", "model", "tokenizer"},
	"import":            {"input-dir", "output-dir"},
	"import-hf-dataset": {"output-dir"},
	"normalize":         {"input-dir", "output-dir", "tokenizer"},
	"reshard":           {"input-dir", "output-dir"},
	"run":               {"experiment"},
	"sample":            {"input-dir", "output-dir"},
	"score":             {"input-dir", "output-dir", "model", "tokenizer"},
	"stats":             {"input-dir", "output"},
	"to-fasttext":       {"input-dir", "output-dir", "tokenizer"},
	"train-contrastive": {"dataset-dir", "features-dir", "model-name", "normalizer-tokenizer"},
	"train-model2vec":   {"dataset-dir", "features-dir", "model-name", "tokenizer", "normalizer-tokenizer"},
	"transform":         {"input-dir", "output-dir"},
}

// hubOrPath are flags that take a Hugging Face Hub id or a local directory:
// only a value that exists on local disk is a path.
var hubOrPath = map[string]bool{"model-name": true}

// resolveWorkerPaths applies workerPathFlags to cmd's flags before a
// distributed run; it does nothing when the workers run in this process.
func resolveWorkerPaths(cmd *cobra.Command, warn io.Writer) error {
	if !runner.Distributed() {
		return nil
	}
	for _, name := range workerPathFlags[cmd.Name()] {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed && f.Value.String() == "" {
			continue
		}
		values := []string{f.Value.String()}
		sv, isSlice := f.Value.(pflag.SliceValue)
		if isSlice {
			values = sv.GetSlice()
		}
		for i, v := range values {
			if hubOrPath[name] {
				if _, err := os.Stat(v); err != nil {
					continue
				}
			}
			p, err := workerPath(v)
			if err != nil {
				return fmt.Errorf("--%s %s: %w", name, v, err)
			}
			if storage.IsLocal(p) && p != "" {
				fmt.Fprintf(warn, "winnow: warning: --%s %s is a local path: %s's workers run in other processes, which must see it at the same path (a shared file system); use gs:// or s3:// otherwise\n",
					name, p, runner.Name())
			}
			values[i] = p
		}
		if isSlice {
			if err := sv.Replace(values); err != nil {
				return err
			}
		} else if err := f.Value.Set(values[0]); err != nil {
			return err
		}
	}
	return nil
}

// workerPath returns p made absolute when it is local, or an error when the
// workers cannot reach it: a local path on a runner whose workers are other
// machines, or a memfs:// path (it lives in this process's memory).
func workerPath(p string) (string, error) {
	switch {
	case p == "":
		return p, nil
	case storage.Scheme(p) == "memfs":
		return "", fmt.Errorf("memfs:// lives in this process's memory, which %s's workers do not share: use gs:// or s3://", runner.Name())
	case !storage.IsLocal(p):
		return p, nil
	case runner.Remote():
		return "", fmt.Errorf("a local path, but %s's workers run on other machines: use gs:// or s3://", runner.Name())
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("make %s absolute: %w", p, err)
	}
	return abs, nil
}
