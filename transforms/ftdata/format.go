package ftdata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/winnowlabs/winnow/transforms/normalize"
)

// LabelPrefix starts every label on a fastText line.
const LabelPrefix = normalize.LabelPrefix

// defusedPrefix replaces LabelPrefix inside texts.
const defusedPrefix = "_label_"

// ErrNoLabel is returned for a row without labels.
var ErrNoLabel = errors.New("row has no label")

// Formatter turns rows into fastText lines: "__label__a __label__b text".
// It is safe for concurrent use when its Normalizer is (all of package
// normalize's are).
type Formatter struct {
	// Normalizer is applied to every text; nil leaves texts as they are.
	Normalizer normalize.Normalizer
	// MaxLength, when positive, keeps only the first MaxLength characters
	// (Unicode code points, not bytes) of a text, before normalizing.
	MaxLength int
}

// Text prepares a text for a fastText line: it is truncated to MaxLength
// characters, normalized, stripped of label prefixes (DefuseLabelPrefix) and
// freed of line breaks (every remaining "\n" and "\r" becomes a space).
func (f *Formatter) Text(text string) string {
	s := Truncate(text, f.MaxLength)
	if f.Normalizer != nil {
		s = f.Normalizer.Normalize(s)
	}
	s = DefuseLabelPrefix(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

// AppendLine appends the line for one row, with its final newline, to dst.
// Each label is normalized with normalize.Label ("Very Good" becomes
// "__label__very_good"); a row needs at least one non-empty label.
func (f *Formatter) AppendLine(dst []byte, labels []string, text string) ([]byte, error) {
	if len(labels) == 0 {
		return dst, ErrNoLabel
	}
	for _, l := range labels {
		nl := normalize.Label(l)
		if nl == "" {
			return dst, fmt.Errorf("empty label %q", l)
		}
		dst = append(dst, LabelPrefix...)
		dst = append(dst, nl...)
		dst = append(dst, ' ')
	}
	dst = append(dst, f.Text(text)...)
	return append(dst, '\n'), nil
}

// Line returns the line for one row, without its final newline.
func (f *Formatter) Line(labels []string, text string) (string, error) {
	b, err := f.AppendLine(nil, labels, text)
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// Truncate returns the first n characters (code points) of text; n <= 0
// keeps all of it.
func Truncate(text string, n int) string {
	if n <= 0 || len(text) <= n {
		return text
	}
	count := 0
	for i := range text {
		if count == n {
			return text[:i]
		}
		count++
	}
	return text
}

// DefuseLabelPrefix rewrites every "__label__" inside a text as "_label_",
// repeating until none is left, so that no word of the text can start with
// fastText's label prefix and be read as a label ("x __label__spam" becomes
// "x _label_spam").
func DefuseLabelPrefix(text string) string {
	for strings.Contains(text, LabelPrefix) {
		text = strings.ReplaceAll(text, LabelPrefix, defusedPrefix)
	}
	return text
}

// Add counts one written line with the given (already normalized) labels.
func (c *SplitCounts) Add(labels ...string) {
	c.Rows++
	if c.Labels == nil {
		c.Labels = map[string]int64{}
	}
	for _, l := range labels {
		c.Labels[l]++
	}
}
