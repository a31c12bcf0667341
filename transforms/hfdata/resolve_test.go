package hfdata

import (
	"reflect"
	"strings"
	"testing"
)

const card = `---
license: odc-by
configs:
- config_name: edu
  default: true
  data_files:
  - split: train
    path: edu/train-*.jsonl.zst
  - split: validation
    path:
    - edu/valid-*.jsonl.zst
- config_name: legal
  data_dir: legal
- config_name: flat
  data_files: flat/*.parquet
---
# A dataset
`

func TestResolve(t *testing.T) {
	cardRepo := []string{
		"README.md", ".gitattributes",
		"edu/train-0.jsonl.zst", "edu/train-1.jsonl.zst", "edu/valid-0.jsonl.zst",
		"legal/train/part-0.parquet", "legal/test/part-0.parquet",
		"flat/a.parquet", "flat/b.parquet",
	}
	type split = Split
	for _, tc := range []struct {
		name    string
		files   []string
		readme  string
		opts    Options
		want    []split
		unsplit bool
		config  string
		err     string
	}{
		{name: "sharded names",
			files: []string{"README.md", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/test-00000-of-00001.parquet"},
			want:  []split{{"train", []string{"data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"}}, {"test", []string{"data/test-00000-of-00001.parquet"}}}},
		{name: "sharded names of the dataset's own splits",
			files: []string{"data/train_sft-00000-of-00001.parquet", "data/test_sft-00000-of-00001.parquet"},
			want:  []split{{"test_sft", []string{"data/test_sft-00000-of-00001.parquet"}}, {"train_sft", []string{"data/train_sft-00000-of-00001.parquet"}}}},
		{name: "split folders",
			files: []string{"en/train/a.jsonl", "en/validation/b.jsonl", "en/test/c.jsonl.gz", ".github/train/x.jsonl", "__pycache__/train/y.jsonl"},
			want:  []split{{"train", []string{"en/train/a.jsonl"}}, {"validation", []string{"en/validation/b.jsonl"}}, {"test", []string{"en/test/c.jsonl.gz"}}}},
		{name: "split file names",
			files: []string{"README.md", "train.jsonl.zst", "valid.jsonl.zst"},
			want:  []split{{"train", []string{"train.jsonl.zst"}}, {"validation", []string{"valid.jsonl.zst"}}}},
		{name: "everything is train",
			files:   []string{"README.md", "LICENSE", "data/batch_000001.parquet", "data/batch_000002.parquet"},
			want:    []split{{"train", []string{"data/batch_000001.parquet", "data/batch_000002.parquet"}}},
			unsplit: true},
		{name: "default configuration", files: cardRepo, readme: card, config: "edu",
			want: []split{{"train", []string{"edu/train-0.jsonl.zst", "edu/train-1.jsonl.zst"}}, {"validation", []string{"edu/valid-0.jsonl.zst"}}}},
		{name: "configuration with a data dir", files: cardRepo, readme: card, opts: Options{Config: "legal"}, config: "legal",
			want: []split{{"train", []string{"legal/train/part-0.parquet"}}, {"test", []string{"legal/test/part-0.parquet"}}}},
		{name: "configuration with one pattern", files: cardRepo, readme: card, opts: Options{Config: "flat"}, config: "flat",
			want: []split{{"train", []string{"flat/a.parquet", "flat/b.parquet"}}}},
		{name: "data dir overrides the card", files: cardRepo, readme: card, opts: Options{DataDir: "legal/test"},
			want: []split{{"train", []string{"legal/test/part-0.parquet"}}}, unsplit: true},
		{name: "a folder as configuration without a card",
			files: []string{"en/train.jsonl", "de/train.jsonl", "de/test.jsonl"}, opts: Options{Config: "de"},
			want: []split{{"train", []string{"de/train.jsonl"}}, {"test", []string{"de/test.jsonl"}}}},
		{name: "chosen splits", files: cardRepo, readme: card, opts: Options{Splits: []string{"validation"}}, config: "edu",
			want: []split{{"validation", []string{"edu/valid-0.jsonl.zst"}}}},
		{name: "the most common format wins",
			files: []string{"train/a.parquet", "train/b.parquet", "train/c.jsonl"},
			want:  []split{{"train", []string{"train/a.parquet", "train/b.parquet"}}}},

		{name: "unknown configuration", files: cardRepo, readme: card, opts: Options{Config: "nope"},
			err: "dataset acme/data has no configuration nope (it has edu, legal, flat)"},
		{name: "no default configuration", files: cardRepo, readme: "---\nconfigs:\n- config_name: a\n- config_name: b\n---\n",
			err: "has several configurations and no default: choose one of a, b"},
		{name: "unknown folder", files: []string{"en/train.jsonl"}, opts: Options{Config: "fr"},
			err: "dataset acme/data has no configurations in its README.md and no folder fr"},
		{name: "unknown split", files: cardRepo, readme: card, opts: Options{Splits: []string{"test"}},
			err: "dataset acme/data (configuration edu) has no split test (it has train, validation)"},
		{name: "patterns matching nothing", files: cardRepo, readme: "---\nconfigs:\n- config_name: x\n  data_files: nope/*.parquet\n---\n",
			err: "dataset acme/data: no data files match train: nope/*.parquet"},
		{name: "no data at all", files: []string{"README.md", "LICENSE", "script.py"},
			err: "dataset acme/data has no data files (it holds README.md, LICENSE, script.py)"},
		{name: "a format winnow does not read", files: []string{"train.csv", "test.csv"},
			err: "its data files are csv (e.g. train.csv); winnow reads Parquet and JSON Lines"},
		{name: "a compression winnow does not read", files: []string{"train.jsonl.bz2"},
			err: "train.jsonl.bz2 is compressed in a way winnow does not read"},
		{name: "a broken card", files: cardRepo, readme: "---\nconfigs:\n- config_name: x\n  data_files: {a: b}\n---\n",
			err: "README.md: config x: data_files: line 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var readme []byte
			if tc.readme != "" {
				readme = []byte(tc.readme)
			}
			sel, err := Resolve("acme/data", tc.files, readme, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sel.Splits, tc.want) || sel.Unsplit != tc.unsplit || sel.Config != tc.config {
				t.Errorf("got %+v (unsplit %v, config %q)\nwant %+v (unsplit %v, config %q)", sel.Splits, sel.Unsplit, sel.Config, tc.want, tc.unsplit, tc.config)
			}
		})
	}
}
