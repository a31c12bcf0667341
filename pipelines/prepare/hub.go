package prepare

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/hfdata"
	"github.com/winnowlabs/winnow/transforms/hfhub"
)

// HubImportOptions configures ImportHub. Common.Inputs is not used.
type HubImportOptions struct {
	ImportOptions
	// Dataset is the Hub dataset, OWNER/NAME.
	Dataset string `json:"dataset"`
	// Revision is a branch, tag or commit (default main).
	Revision string `json:"revision,omitempty"`
	// Config names a configuration of the dataset card (or, for a card
	// without configurations, a folder); DataDir a folder read with the
	// default patterns (see hfdata.Options).
	Config  string `json:"config,omitempty"`
	DataDir string `json:"data_dir,omitempty"`
	// Splits keeps only these of the dataset's splits.
	Splits []string `json:"splits,omitempty"`
	// Commit is the commit the revision resolved to: ImportHub sets it and
	// the manifest records it.
	Commit string `json:"commit"`
	// Hub is the Hub client (default hfhub.FromEnv, its progress on
	// Common.Progress, silenced by Common.Quiet).
	Hub *hfhub.Client `json:"-"`
}

// HubSource is what ImportHub read.
type HubSource struct {
	Snapshot *hfhub.Snapshot
	// Selection is the configuration, folder and splits the data files
	// came from.
	Selection *hfdata.Selection
	// Files are the files imported, with winnow's split of each.
	Files []dataset.File
}

// ImportHub imports a dataset from a Hugging Face Hub: it lists the
// repository's files at the revision, finds the data files of each split
// as the datasets library does (hfdata.Resolve, from the card's configs or
// the default patterns), downloads them into the Hub cache (hfhub), then
// imports them as Import imports a local directory. The Hub's splits train,
// validation and test (and their synonyms) become train, valid and test;
// files no pattern assigns a split to are the train split, as an unsplit
// local directory is. A split of another name (train_sft) is imported, as
// train, only when it is the one split imported. The files are read from
// the local cache, so the pipeline runs where the cache is (the local
// runner, or workers sharing it).
func ImportHub(ctx context.Context, o HubImportOptions) (*mapstep.Result, *HubSource, error) {
	args := o.importArgs()
	c := o.Hub
	if c == nil {
		c = hfhub.FromEnv()
		c.Progress = o.Progress
		if c.Progress == nil {
			c.Progress = os.Stderr
		}
		if o.Quiet {
			c.Progress = nil
		}
	}
	src := &HubSource{}
	inputs := func(ctx context.Context) ([]dataset.File, []string, error) {
		snap, sel, err := fetchDataset(ctx, c, o)
		if err != nil {
			return nil, nil, err
		}
		src.Snapshot, src.Selection = snap, sel
		if err := hubCacheReachable(snap.Dir, o.Log()); err != nil {
			return nil, nil, err
		}
		o.Commit = snap.Commit
		if src.Files, err = hubFiles(o.Dataset, snap, sel); err != nil {
			return nil, nil, err
		}
		return src.Files, []string{snap.Dir}, nil
	}
	// The manifest encodes the options after the inputs set the commit.
	res, err := runReshuffle(ctx, o.Common, "import", &o, inputs, args)
	if err != nil {
		return nil, nil, err
	}
	return res, src, nil
}

// hubCacheReachable checks that the workers can read the files downloaded
// into the Hub cache at dir: always when they run in this process; on a
// runner whose workers are other machines never (an error); otherwise only
// if the cache is on a file system they share (a warning).
func hubCacheReachable(dir string, log io.Writer) error {
	switch {
	case !runner.Distributed():
		return nil
	case runner.Remote():
		return fmt.Errorf("the Hub dataset is downloaded into %s on this machine, which %s's workers do not see: import it locally and copy the output to gs:// or s3://", dir, runner.Name())
	}
	fmt.Fprintf(log, "winnow: warning: the Hub dataset is read from %s (HF_HUB_CACHE): %s's workers must see that path (a shared file system)\n", dir, runner.Name())
	return nil
}

// fetchDataset resolves the data files and downloads them.
func fetchDataset(ctx context.Context, c *hfhub.Client, o HubImportOptions) (*hfhub.Snapshot, *hfdata.Selection, error) {
	repo := hfhub.DatasetRepo(o.Dataset, o.Revision)
	info, err := c.Info(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	var readme []byte
	if _, ok := info.File("README.md"); ok {
		snap, err := c.Download(ctx, info, []string{"README.md"})
		if err != nil {
			return nil, nil, err
		}
		if readme, err = os.ReadFile(snap.Path("README.md")); err != nil {
			return nil, nil, err
		}
	}
	sel, err := hfdata.Resolve(repo.ID, info.Paths(), readme, hfdata.Options{Config: o.Config, DataDir: o.DataDir, Splits: o.Splits})
	if err != nil {
		return nil, nil, err
	}
	snap, err := c.Download(ctx, info, sel.Files())
	if err != nil {
		return nil, nil, err
	}
	return snap, sel, nil
}

// hubFiles lists the downloaded files as shards of winnow's splits.
func hubFiles(name string, snap *hfhub.Snapshot, sel *hfdata.Selection) ([]dataset.File, error) {
	var names []string
	for _, sp := range sel.Splits {
		names = append(names, sp.Name)
	}
	byWinnow := map[string]string{}
	var files []dataset.File
	for _, sp := range sel.Splits {
		split := dataset.CanonicalSplit(sp.Name)
		switch {
		case sel.Unsplit:
			split = "" // imported as train, as an unsplit directory is
		case split == "" && len(sel.Splits) > 1:
			return nil, fmt.Errorf("dataset %s has splits %s, and winnow's are train, valid and test: select the splits to import (a single split of another name is imported as train)", name, strings.Join(names, ", "))
		case split == "":
			split = "train"
		}
		if prev, ok := byWinnow[split]; ok && split != "" {
			return nil, fmt.Errorf("dataset %s: splits %s and %s would both be imported as %s: select one", name, prev, sp.Name, split)
		}
		byWinnow[split] = sp.Name
		for _, f := range sp.Files {
			p := snap.Path(f)
			st, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			rel := strings.TrimPrefix(f, sel.Dir+"/")
			files = append(files, dataset.File{Path: p, Size: st.Size(), Split: split, Rel: rel})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}
