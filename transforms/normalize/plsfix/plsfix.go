package plsfix

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Version identifies the behaviour of Fix and FixText. It changes whenever
// their output changes for some input, and every normalizer built on them
// includes it in its own version.
const Version = "1"

// MaxBytes is the length above which Fix cuts a text.
const MaxBytes = 1 << 20

// maxSegmentRunes bounds the segments FixText repairs independently
// (ftfy's max_decode_length).
const maxSegmentRunes = 1_000_000

// Fix repairs text as FixText does, after cutting a text longer than MaxBytes
// bytes at its first newline at or after MaxBytes (the newline is dropped), or
// at MaxBytes itself, moved back to a character boundary, when no newline
// follows.
func Fix(text string) string {
	return FixText(Cut(text))
}

// Cut shortens text as Fix does before repairing it.
func Cut(text string) string {
	if len(text) <= MaxBytes {
		return text
	}
	if nl := strings.IndexByte(text[MaxBytes:], '\n'); nl >= 0 {
		return text[:MaxBytes+nl]
	}
	end := MaxBytes
	for end > 0 && !utf8.RuneStart(text[end]) {
		end--
	}
	return text[:end]
}

// FixText repairs mojibake and other Unicode damage as ftfy.fix_text does
// with its default configuration. It is safe for concurrent use.
func FixText(text string) string {
	tablesOnce.Do(buildTables)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if isClean(text) {
		return text
	}
	var out strings.Builder
	out.Grow(len(text))
	unescape := true
	for pos := 0; pos < len(text); {
		end := len(text)
		if nl := strings.IndexByte(text[pos:], '\n'); nl >= 0 {
			end = pos + nl + 1
		}
		if end-pos > maxSegmentRunes {
			end = runeLimit(text, pos, end, maxSegmentRunes)
		}
		seg := text[pos:end]
		// ftfy stops decoding HTML entities from the first segment that
		// holds a '<' on: the text is probably HTML, where they belong.
		if unescape && strings.IndexByte(seg, '<') >= 0 {
			unescape = false
		}
		out.WriteString(fixSegment(seg, unescape))
		pos = end
	}
	return out.String()
}

// runeLimit returns the byte offset, at most end, after max runes from pos.
func runeLimit(s string, pos, end, max int) int {
	n := 0
	for i := range s[pos:end] {
		if n == max {
			return pos + i
		}
		n++
	}
	return end
}

// isClean reports whether no fix applies to s: nothing that could be an
// HTML entity, no character of a mojibake category, nothing a per-character
// fix changes, and NFC already.
func isClean(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				if entityEnd(s, i) > 0 {
					return false
				}
			case c == '\r' || c == 0x1b || c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\f'):
				return false
			}
			continue
		}
		ascii = false
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size - 1
		if runeCats(r) != 0 || isBadLiteral(r) || runeNeedsFix(r) {
			return false
		}
	}
	return ascii || norm.NFC.IsNormalString(s)
}

// fixSegment is ftfy.fix_and_explain on one segment: the fixes applied in
// ftfy's order, again and again until the text stops changing.
func fixSegment(s string, unescape bool) string {
	if isClean(s) {
		return s
	}
	for {
		orig := s
		if unescape {
			s = unescapeHTML(s)
		}
		s = fixEncoding(s)
		s = applyCharFixes(s)
		if !norm.NFC.IsNormalString(s) {
			s = norm.NFC.String(s)
		}
		if s == orig {
			return s
		}
	}
}

// applyCharFixes runs fix_c1_controls, fix_latin_ligatures,
// fix_character_width, uncurl_quotes, fix_line_breaks,
// remove_terminal_escapes and remove_control_chars, in that order.
// (fix_surrogates has nothing to do: a valid Go string holds no surrogate
// code points.)
func applyCharFixes(s string) string {
	f := scanFixes(s)
	if f == 0 {
		return s
	}
	steps := []struct {
		flag uint16
		fix  func(string) string
	}{
		{needsC1, fixC1Controls},
		{needsLigature, fixLatinLigatures},
		{needsWidth, fixCharacterWidth},
		{needsQuote, uncurlQuotes},
		{needsLineBreak, fixLineBreaks},
		{needsEscape, removeTerminalEscapes},
		{needsControl, removeControlChars},
	}
	for _, st := range steps {
		if f&st.flag == 0 {
			continue
		}
		if fixed := st.fix(s); fixed != s {
			s = fixed
			f = scanFixes(s)
		}
	}
	return s
}

// tablesOnce builds the encodings' tables, the UTF-8 clue classes and the
// width map on first use rather than at start: every winnow process links
// this package, and few of them repair text.
var tablesOnce sync.Once

func buildTables() {
	codecs = buildCodecs()
	latin1, sloppyWin1252 = codecByName("latin-1"), codecByName("sloppy-windows-1252")
	widthMap = buildWidthMap()
	buildClues()
}
