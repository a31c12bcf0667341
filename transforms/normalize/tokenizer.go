package normalize

import (
	"strings"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/transforms/normalize/hftok"
	"github.com/winnowlabs/winnow/transforms/normalize/plsfix"
)

// appendTokens appends the token strings of s to b, each preceded by a
// space when b already holds something; ids is scratch space, returned for
// reuse.
func appendTokens(b []byte, ids []int, tok *hftok.Tokenizer, s string) ([]byte, []int) {
	ids = tok.AppendEncode(ids[:0], s)
	for _, id := range ids {
		t := tok.Token(id)
		if t == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, t...)
	}
	return b, ids
}

// tokenStrings is the "tokenizer" normalizer: plsfix, then the token strings
// joined by spaces.
func tokenStrings(tok *hftok.Tokenizer, text string) string {
	s := plsfix.Fix(text)
	b, _ := appendTokens(make([]byte, 0, len(s)+len(s)/4), nil, tok, s)
	return string(b)
}

// ultrafine follows Ultra-FineWeb's fastText preprocessing: at most one
// blank line in a row, lowercase, no diacritics, each token id decoded on its
// own, joined by spaces, "\n", "\r" and "\t" written as two-character
// escapes, runs of spaces collapsed, trimmed.
func ultrafine(tok *hftok.Tokenizer, text string) string {
	s := squeezeNewlines(text)
	s = lower(s)
	s = stripDiacritics(s)
	b := make([]byte, 0, len(s)+len(s)/4)
	for _, id := range tok.Encode(s) {
		d := tok.DecodeID(id)
		for i := 0; i < len(d); {
			r, size := utf8.DecodeRuneInString(d[i:])
			i += size
			switch r {
			case '\n', '\r', '\t':
				b = appendEscapedControl(b, r)
			case ' ':
				if len(b) > 0 && b[len(b)-1] != ' ' {
					b = append(b, ' ')
				}
			default:
				b = utf8.AppendRune(b, r)
			}
		}
		if len(b) > 0 && b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
	}
	return trimSpace(string(b))
}

// isSegmentBreak reports the characters hyperfine splits on.
func isSegmentBreak(c byte) bool { return c == '\t' || c == '\r' || c == '\n' }

// hyperfine splits the text on runs of \t, \r and \n and writes each
// segment's tokens followed by its separator run, escaped one character at
// a time ("\n\t" becomes `\n \t`), everything separated by single spaces.
// The prose variant lowercases and collapses whitespace inside segments; the
// code variant keeps case and spacing and turns space indentation into tabs
// first, so that indentation shows up in the escaped separators.
func hyperfine(tok *hftok.Tokenizer, text string, code bool) string {
	s := plsfix.Fix(text)
	s = squeezeNewlines(s)
	if !code {
		s = lower(s)
	}
	s = stripDiacritics(s)
	if code {
		s = spacesToTabs(s)
	}
	b := make([]byte, 0, len(s)+len(s)/4)
	var ids []int
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && !isSegmentBreak(s[j]) {
			j++
		}
		seg := s[i:j]
		if !code {
			seg = collapseWhitespace(seg)
		}
		b, ids = appendTokens(b, ids, tok, seg)
		for j < len(s) && isSegmentBreak(s[j]) {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = appendEscapedControl(b, rune(s[j]))
			j++
		}
		i = j
	}
	return strings.TrimSpace(string(b))
}
