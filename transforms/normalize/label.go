package normalize

import "strings"

// LabelPrefix is fastText's label prefix.
const LabelPrefix = "__label__"

// Label normalizes a class label: surrounding whitespace and one leading
// "__label__" are removed, every inner run of whitespace becomes "_", and
// the result is lowercased ("__label__Very Good" → "very_good"). It may
// return "" (for "" or a bare "__label__"); callers reject that.
func Label(label string) string {
	s := trimSpace(label)
	s = trimSpace(strings.TrimPrefix(s, LabelPrefix))
	if s == "" {
		return ""
	}
	b := make([]byte, 0, len(s))
	inSpace := false
	for i := 0; i < len(s); {
		if n := spaceAt(s, i); n > 0 {
			if !inSpace {
				b = append(b, '_')
			}
			inSpace = true
			i += n
			continue
		}
		inSpace = false
		b = append(b, s[i])
		i++
	}
	return strings.ToLower(string(b))
}
