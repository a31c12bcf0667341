package normalize

import (
	"strings"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/transforms/normalize/plsfix"
)

// Symbols that stand for line breaks and tabs in the potion normalizers.
const (
	paragraphMark = "¶" // a blank line: \r?\n\r?\n
	lineMark      = "·" // any other line break: \r?\n
	tabMark       = "↦" // a tab
)

// potion prepares prose for Model2Vec models: plsfix, at most one blank
// line in a row, lowercase, no diacritics, line breaks and tabs as symbols,
// whitespace collapsed.
func potion(text string) string {
	s := plsfix.Fix(text)
	s = squeezeNewlines(s)
	s = lower(s)
	s = stripDiacritics(s)
	return markBreaksCollapsed(s)
}

// newlineAt returns the end of a match of \r?\n at s[i:], or -1.
func newlineAt(s string, i int) int {
	if i < len(s) && s[i] == '\r' {
		i++
	}
	if i < len(s) && s[i] == '\n' {
		return i + 1
	}
	return -1
}

// markBreaksCollapsed replaces \r?\n\r?\n with ¶, the remaining \r?\n with
// ·, tabs with ↦, then collapses whitespace and trims — one pass equal to
// the four regular-expression substitutions in that order.
func markBreaksCollapsed(s string) string {
	b := make([]byte, 0, len(s)+len(s)/8)
	pending := false
	emit := func(tok string) {
		if pending && len(b) > 0 {
			b = append(b, ' ')
		}
		pending = false
		b = append(b, tok...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\n' || c == '\r' {
			if end := newlineAt(s, i); end > 0 {
				if end2 := newlineAt(s, end); end2 > 0 {
					emit(paragraphMark)
					i = end2
				} else {
					emit(lineMark)
					i = end
				}
				continue
			}
		}
		if c == '\t' {
			emit(tabMark)
			i++
			continue
		}
		if n := spaceAt(s, i); n > 0 {
			pending = true
			i += n
			continue
		}
		size := 1
		if c >= utf8.RuneSelf {
			_, size = utf8.DecodeRuneInString(s[i:])
		}
		emit(s[i : i+size])
		i += size
	}
	return string(b)
}

// potionCode prepares code for Model2Vec models: plsfix, at most one blank
// line in a row, no diacritics (case kept), space indentation as tabs, every
// line break as ¶ and tab as ↦, trimmed; other whitespace is kept.
func potionCode(text string) string {
	s := plsfix.Fix(text)
	s = squeezeNewlines(s)
	s = stripDiacritics(s)
	s = spacesToTabs(s)
	b := make([]byte, 0, len(s)+len(s)/4)
	for i := 0; i < len(s); {
		if end := newlineAt(s, i); end > 0 {
			b = append(b, paragraphMark...)
			i = end
			continue
		}
		if s[i] == '\t' {
			b = append(b, tabMark...)
		} else {
			b = append(b, s[i])
		}
		i++
	}
	return trimSpace(string(b))
}

// indentUnit returns the greatest common divisor of the numbers of leading
// spaces of the lines that have some and then neither end nor continue with a
// tab, or 0 when no line does.
func indentUnit(s string) int {
	g := 0
	for line := range strings.SplitSeq(s, "\n") {
		rest := strings.TrimLeft(line, " ")
		lead := len(line) - len(rest)
		if lead == 0 || rest == "" || rest[0] == '\t' {
			continue
		}
		g = gcd(g, lead)
		if g == 1 {
			return 1
		}
	}
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// spacesToTabs converts the leading spaces of every line to tabs, one per
// indentUnit spaces, keeping the remainder as spaces.
func spacesToTabs(s string) string {
	unit := indentUnit(s)
	if unit == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	first := true
	for line := range strings.SplitSeq(s, "\n") {
		if !first {
			b.WriteByte('\n')
		}
		first = false
		rest := strings.TrimLeft(line, " ")
		lead := len(line) - len(rest)
		b.WriteString(strings.Repeat("\t", lead/unit))
		b.WriteString(strings.Repeat(" ", lead%unit))
		b.WriteString(rest)
	}
	return b.String()
}
