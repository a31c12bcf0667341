package hfhub

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a compiled file-name pattern.
type Pattern struct {
	src string
	re  *regexp.Regexp
}

// CompilePattern compiles a pattern as huggingface_hub's allow_patterns
// reads it (fnmatch): * and ? match any character, '/' included; [seq] and
// [!seq] match one character of (not of) seq; a pattern ending in '/'
// matches everything below that folder.
func CompilePattern(p string) (Pattern, error) {
	if strings.HasSuffix(p, "/") {
		p += "*"
	}
	return compile(p, false)
}

// CompileGlob compiles a pattern as Python's glob and fsspec (which the
// datasets library resolves data files with) read it: * and ? match within
// one path segment, ** matches any number of segments (also none, as in
// "**/train-*"), [seq] and [!seq] match one character of (not of) seq.
func CompileGlob(p string) (Pattern, error) { return compile(p, true) }

// MustCompileGlob is CompileGlob for patterns known to be valid.
func MustCompileGlob(p string) Pattern {
	g, err := CompileGlob(p)
	if err != nil {
		panic(err)
	}
	return g
}

// Match reports whether name (a path with forward slashes) matches.
func (p Pattern) Match(name string) bool { return p.re.MatchString(name) }

// String returns the pattern as written.
func (p Pattern) String() string { return p.src }

func compile(p string, glob bool) (Pattern, error) {
	var b strings.Builder
	b.WriteString(`^`)
	any, one := `.*`, `.`
	if glob {
		any, one = `[^/]*`, `[^/]`
	}
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			if glob && strings.HasPrefix(p[i:], "**") {
				j := i + 2
				if (i == 0 || p[i-1] == '/') && j < len(p) && p[j] == '/' {
					b.WriteString(`(?:.*/)?`) // **/ spans zero or more folders
					i = j + 1
				} else {
					b.WriteString(`.*`)
					i = j
				}
				continue
			}
			b.WriteString(any)
		case '?':
			b.WriteString(one)
		case '[':
			j := i + 1
			if j < len(p) && p[j] == '!' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				b.WriteString(`\[`) // no closing bracket: a literal '['
				break
			}
			b.WriteString(charClass(p[i+1:j], glob))
			i = j + 1
			continue
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
		i++
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", p, err)
	}
	return Pattern{src: p, re: re}, nil
}

// charClass translates the inside of a [...] set.
func charClass(set string, glob bool) string {
	var b strings.Builder
	b.WriteByte('[')
	if rest, ok := strings.CutPrefix(set, "!"); ok {
		b.WriteByte('^')
		if glob {
			b.WriteByte('/')
		}
		set = rest
	} else if strings.HasPrefix(set, "^") {
		b.WriteByte('\\')
	}
	for _, r := range set {
		if r == '\\' || r == '[' || r == ']' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte(']')
	return b.String()
}

// matchAny reports whether name matches one of patterns.
func matchAny(patterns []Pattern, name string) bool {
	for _, p := range patterns {
		if p.Match(name) {
			return true
		}
	}
	return false
}
