package mapstep

import (
	"context"
	"errors"

	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// PreviousManifest returns the manifest an earlier run left in dir, or nil.
func PreviousManifest(ctx context.Context, dir string) (*shardmap.Manifest, error) {
	m, err := shardmap.ReadManifest(ctx, dir)
	if errors.Is(err, shardmap.ErrNoManifest) {
		return nil, nil
	}
	return m, err
}

// PruneStale deletes the shards an earlier run wrote that the new run did
// not write again (e.g. after a reshard to fewer files). Only files listed
// in the earlier manifest are ever removed.
func PruneStale(ctx context.Context, previous, current *shardmap.Manifest) error {
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
