package hfdata

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Config is a configuration of a dataset card's `configs:` section.
type Config struct {
	Name string
	// DataDir is the folder the data files are resolved in ("" for the
	// repository root).
	DataDir string
	// DataFiles maps split names, in the card's order, to patterns; nil
	// when the configuration names no data_files (the default patterns
	// apply in DataDir).
	DataFiles []SplitPatterns
	// Default marks the configuration loaded when none is named.
	Default bool
}

// SplitPatterns are the patterns of one split.
type SplitPatterns struct {
	Split    string
	Patterns []string
}

// ParseCard reads the `configs:` section of a dataset card (README.md)'s
// YAML front matter, as the datasets library's MetadataConfigs does. A card
// without front matter or without configs has none.
func ParseCard(readme []byte) ([]Config, error) {
	front, ok := frontMatter(readme)
	if !ok {
		return nil, nil
	}
	var card struct {
		Configs []struct {
			Name      string    `yaml:"config_name"`
			DataDir   string    `yaml:"data_dir"`
			DataFiles yaml.Node `yaml:"data_files"`
			Default   bool      `yaml:"default"`
		} `yaml:"configs"`
	}
	// The front matter starts on the README's second line: a leading
	// newline makes YAML's line numbers the README's.
	if err := yaml.Unmarshal(append([]byte("\n"), front...), &card); err != nil {
		return nil, fmt.Errorf("README.md front matter: %w", err)
	}
	out := make([]Config, 0, len(card.Configs))
	for i, c := range card.Configs {
		if c.Name == "" {
			return nil, fmt.Errorf("README.md: configs[%d] has no config_name", i)
		}
		files, err := dataFiles(&c.DataFiles)
		if err != nil {
			return nil, fmt.Errorf("README.md: config %s: data_files: %w", c.Name, err)
		}
		out = append(out, Config{Name: c.Name, DataDir: c.DataDir, DataFiles: files, Default: c.Default})
	}
	return out, nil
}

// frontMatter returns the YAML between a first line "---" and the next
// line "---".
func frontMatter(readme []byte) ([]byte, bool) {
	lines := bytes.Split(readme, []byte("\n"))
	if len(lines) == 0 || string(bytes.TrimRight(lines[0], "\r")) != "---" {
		return nil, false
	}
	for i := 1; i < len(lines); i++ {
		if string(bytes.TrimRight(lines[i], "\r")) == "---" {
			return bytes.Join(lines[1:i], []byte("\n")), true
		}
	}
	return nil, false
}

// dataFiles reads the forms data_files takes (sanitize_patterns): a
// pattern, a list of patterns (both the train split), or a list of
// {split, path} where path is a pattern or a list of them.
func dataFiles(n *yaml.Node) ([]SplitPatterns, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.ScalarNode:
		return []SplitPatterns{{Split: "train", Patterns: []string{n.Value}}}, nil
	case yaml.SequenceNode:
	default:
		return nil, fmt.Errorf("line %d: want a pattern, a list of patterns or a list of {split, path}", n.Line)
	}
	var plain []string
	var splits []SplitPatterns
	seen := map[string]bool{}
	for _, item := range n.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			plain = append(plain, item.Value)
		case yaml.MappingNode:
			var sp struct {
				Split string    `yaml:"split"`
				Path  yaml.Node `yaml:"path"`
			}
			if err := item.Decode(&sp); err != nil {
				return nil, err
			}
			paths, err := patternList(&sp.Path)
			if err != nil || sp.Split == "" {
				return nil, fmt.Errorf("line %d: want {split: NAME, path: PATTERN or [PATTERN, ...]}", item.Line)
			}
			if seen[sp.Split] {
				return nil, fmt.Errorf("line %d: split %s given twice", item.Line, sp.Split)
			}
			seen[sp.Split] = true
			splits = append(splits, SplitPatterns{Split: sp.Split, Patterns: paths})
		default:
			return nil, fmt.Errorf("line %d: want a pattern or {split, path}", item.Line)
		}
	}
	if len(plain) > 0 && len(splits) > 0 {
		return nil, fmt.Errorf("line %d: mixes patterns with {split, path} entries", n.Line)
	}
	if len(plain) > 0 {
		return []SplitPatterns{{Split: "train", Patterns: plain}}, nil
	}
	return splits, nil
}

func patternList(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		if err := n.Decode(&out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: want a pattern or a list of patterns", n.Line)
}
