package mapstep

import (
	"context"
	"errors"

	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Output is a run's hold on its output directories, the frame every stage
// runs in: Begin claims them (inputs and outputs kept apart, one run per
// output through its lock, temporary files of killed runs removed) and
// reads the manifest an earlier run left; the stage builds and runs its
// pipeline, whose completed shards resume by their markers; Finish turns
// the pipeline's outcome into the Result (a job submitted without waiting,
// or the new manifest), prunes what the earlier run wrote and this one did
// not, and gives the directories back.
type Output struct {
	// Dir is the directory holding the run's manifest.
	Dir string
	// Previous is the manifest an earlier run left in Dir, or nil.
	Previous *shardmap.Manifest
	releases []func(error)
}

// Begin claims dir, and the other directories the run writes (also), for a
// run of command, and reads dir's previous manifest. The returned context
// is cancelled should another run take a lock over; the run works under
// it and ends with Finish or Close.
func (c Common) Begin(ctx context.Context, command, dir string, also ...string) (context.Context, *Output, error) {
	o := &Output{Dir: storage.Clean(dir)}
	for _, d := range append([]string{dir}, also...) {
		var claim *dataset.Claim
		var err error
		ctx, claim, err = dataset.ClaimOutput(ctx, d, c.Inputs, command, c.Log())
		if err != nil {
			o.Close(err)
			return nil, nil, err
		}
		cctx := ctx
		o.releases = append(o.releases, func(err error) { claim.Release(cctx, err != nil) })
	}
	prev, err := shardmap.ReadManifest(ctx, o.Dir)
	switch {
	case errors.Is(err, shardmap.ErrNoManifest):
	case err != nil:
		o.Close(err)
		return nil, nil, err
	default:
		o.Previous = prev
	}
	return ctx, o, nil
}

// Close gives the directories back; err is the run's outcome (a failed
// run's temporary files are removed).
func (o *Output) Close(err error) {
	for i := len(o.releases) - 1; i >= 0; i-- {
		o.releases[i](err)
	}
	o.releases = nil
}

// FinishOptions adjust Finish for stages whose outputs outlive a run.
type FinishOptions struct {
	// Stale, when set, returns the manifests whose difference is pruned:
	// the outputs of previous not in current are removed (default: the
	// previous manifest and the new one).
	Stale func(previous, current *shardmap.Manifest) (*shardmap.Manifest, *shardmap.Manifest, error)
	// Manifest, when set, reads the run's manifest (default: the one the
	// pipeline wrote in Dir).
	Manifest func(ctx context.Context) (*shardmap.Manifest, error)
	// After, when set, completes the manifest (e.g. with step-specific
	// facts in its Extra), which is then written again; it runs while the
	// directories are still held.
	After func(*shardmap.Manifest) error
}

// Finish ends a run whose pipeline returned counters and err, then gives
// the directories back. A job the runner took without waiting for it gives
// a Result with Submitted set (its manifest comes when it finishes).
func (o *Output) Finish(ctx context.Context, counters runner.Counters, err error, fo FinishOptions) (_ *Result, ferr error) {
	defer func() { o.Close(ferr) }()
	if errors.Is(err, runner.ErrNotWaited) {
		return &Result{Submitted: true}, nil
	}
	if err != nil {
		return nil, err
	}
	read := fo.Manifest
	if read == nil {
		read = func(ctx context.Context) (*shardmap.Manifest, error) { return shardmap.ReadManifest(ctx, o.Dir) }
	}
	m, err := read(ctx)
	if err != nil {
		return nil, err
	}
	previous, current := o.Previous, m
	if fo.Stale != nil && previous != nil {
		if previous, current, err = fo.Stale(previous, m); err != nil {
			return nil, err
		}
	}
	if err := pruneStale(ctx, previous, current); err != nil {
		return nil, err
	}
	if fo.After != nil {
		if err := fo.After(m); err != nil {
			return nil, err
		}
		if err := m.Write(ctx, o.Dir); err != nil {
			return nil, err
		}
	}
	return &Result{Manifest: m, Counters: counters}, nil
}

// pruneStale deletes the shards an earlier run wrote that the new run did
// not write again (e.g. after a reshard to fewer files). Only files listed
// in the earlier manifest are ever removed.
func pruneStale(ctx context.Context, previous, current *shardmap.Manifest) error {
	if previous == nil {
		return nil
	}
	keep := map[string]bool{}
	for _, o := range current.Outputs {
		keep[o.Path] = true
	}
	for _, o := range previous.Outputs {
		if keep[o.Path] {
			continue
		}
		if err := storage.RemoveIfExists(ctx, o.Path); err != nil {
			return err
		}
	}
	return nil
}
