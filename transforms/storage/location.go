package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Locate returns where p points, in a form that compares equal for every
// spelling of one location: a local path is made absolute with every
// symbolic link resolved (as far as p exists; a part that does not exist
// yet is appended as given), a URL keeps its scheme, bucket and key, cleaned
// and without a trailing slash.
func Locate(p string) (string, error) {
	if !IsLocal(p) {
		scheme, rest := splitScheme(Clean(p))
		return strings.ToLower(scheme) + "://" + strings.TrimLeft(rest, "/"), nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", p, err)
	}
	// Resolve the longest prefix that exists; the rest cannot hold links.
	missing := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(real, missing), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("locate %s: %w", p, err)
		}
		if dir == filepath.Dir(dir) {
			return abs, nil
		}
		missing = filepath.Join(filepath.Base(dir), missing)
	}
}

// within reports whether the located path p is dir or lies inside it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if IsLocal(dir) {
		return strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
	}
	return strings.HasPrefix(p, dir+"/")
}

// CheckApart refuses an output location that is one of the inputs, lies
// inside one, or contains one, comparing where the paths point (see
// Locate), so that no run reads what it writes. Inputs are directories,
// files or globs; a glob counts as every path it matches.
func CheckApart(ctx context.Context, output string, inputs []string) error {
	out, err := Locate(output)
	if err != nil {
		return err
	}
	for _, in := range inputs {
		matches := []string{in}
		if HasGlob(in) {
			if matches, err = expand(ctx, in); err != nil {
				return err
			}
		}
		for _, m := range matches {
			loc, err := Locate(m)
			if err != nil {
				return err
			}
			where := ""
			if Clean(m) != loc || Clean(output) != out {
				where = fmt.Sprintf(" (%s is %s, %s is %s)", m, loc, output, out)
			}
			switch {
			case loc == out:
				return fmt.Errorf("the output %s is the input %s (both are %s)", output, in, out)
			case within(out, loc):
				return fmt.Errorf("the output %s is inside the input %s%s", output, in, where)
			case within(loc, out):
				return fmt.Errorf("the input %s is inside the output %s%s", in, output, where)
			}
		}
	}
	return nil
}

// Overlap reports whether a and b point to the same location or one lies
// inside the other (see Locate).
func Overlap(a, b string) (bool, error) {
	la, err := Locate(a)
	if err != nil {
		return false, err
	}
	lb, err := Locate(b)
	if err != nil {
		return false, err
	}
	return within(la, lb) || within(lb, la), nil
}

// expand lists what a glob matches: locally files and directories, on
// object stores the objects.
func expand(ctx context.Context, glob string) ([]string, error) {
	if !IsLocal(glob) {
		return List(ctx, glob)
	}
	m, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("glob %s: %w", glob, err)
	}
	return m, nil
}
