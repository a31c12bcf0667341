package plsfix

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// misdecode returns the UTF-8 bytes of s read as single-byte text in c.
func misdecode(s string, c *codec) string { return c.decodeBytes([]byte(s)) }

func realTexts(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "normalize/texts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	texts := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		texts[row.ID] = row.Text
	}
	return texts
}

// TestRealMojibake damages real Spanish, German, Norwegian, Serbian and
// English documents the way mojibake happens — UTF-8 read as Windows-1252 or
// Latin-1, once or twice — and checks that FixText undoes it.
func TestRealMojibake(t *testing.T) {
	damages := []struct {
		name   string
		damage func(string) string
	}{
		{"windows-1252", func(s string) string { return misdecode(s, sloppyWin1252) }},
		{"latin-1", func(s string) string { return misdecode(s, latin1) }},
		{"windows-1252 twice", func(s string) string { return misdecode(misdecode(s, sloppyWin1252), sloppyWin1252) }},
		{"latin-1 twice", func(s string) string { return misdecode(misdecode(s, latin1), latin1) }},
		{"latin-1 then windows-1252", func(s string) string { return misdecode(misdecode(s, latin1), sloppyWin1252) }},
	}
	// ftfy decides line by line whether a line is mojibake. In one line of
	// these texts the only trace is "VÃ¥r" (capital, Ã, ¥) before plain
	// words, which its heuristic does not flag: ftfy 6.3.1 leaves that line
	// as single mojibake whatever the damage, and so does FixText.
	unflagged := map[string]string{"web-nob-1": "Vår ideologi omfatter"}
	for id, text := range realTexts(t) {
		clean := FixText(text)
		if prefix, ok := unflagged[id]; ok {
			lines := strings.Split(clean, "\n")
			found := false
			for i, line := range lines {
				if strings.HasPrefix(line, prefix) {
					lines[i] = misdecode(line, sloppyWin1252)
					found = true
				}
			}
			if !found {
				t.Fatalf("%s has no line %q", id, prefix)
			}
			clean = strings.Join(lines, "\n")
		}
		for _, d := range damages {
			broken := d.damage(text)
			if broken == text {
				continue // ASCII only: nothing to damage
			}
			if got := FixText(broken); got != clean {
				t.Errorf("%s, %s: not repaired\ninput %q\n got %q\nwant %q", id, d.name, broken, got, clean)
			}
		}
	}
	// The real texts need nothing but quote straightening and NFC.
	for id, text := range realTexts(t) {
		if got := FixText(text); got != uncurlQuotes(text) {
			t.Errorf("%s: FixText changed clean text beyond quotes:\n%q", id, got)
		}
	}
}

func TestFixTextCases(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"windows-1252 once", "SÃ£o Paulo, cafÃ©, rÃ©sumÃ©, naÃ¯ve", "São Paulo, café, résumé, naïve"},
		{"windows-1252 twice", "cafÃƒÂ© au lait", "café au lait"},
		{"latin-1 C1 bytes", "Ã\u0089cole", "École"},
		{"cyrillic read as windows-1252", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "привет"},
		{"emoji read as windows-1252", "ðŸ˜€ ok", "😀 ok"},
		{"windows-1252 punctuation", "The Mona Lisa doesnâ€™t have eyebrows â€” really.", "The Mona Lisa doesn't have eyebrows — really."},
		{"lost byte A0", "voilÃ le travail", "voilà le travail"},
		{"lossy replacement", "â€œ like this â€\ufffd", "\" like this \ufffd"},
		{"C1 as windows-1252", "\u0093quoted\u0094 and \u0085", "\"quoted\" and …"},
		{"curly quotes", "\u201chere\u2019s a test\u201d", `"here's a test"`},
		{"html entities", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!", "Broken text… it's flubberific!"},
		{"html entities in caps", "P&EACUTE;REZ &NTILDE; &nTILDE;", "PÉREZ Ñ &nTILDE;"},
		{"html kept in html", "<p>AT&amp;T</p>", "<p>AT&amp;T</p>"},
		{"html kept after a tag line", "a &amp; b\n<br>\nc &amp; d", "a & b\n<br>\nc &amp; d"},
		{"nested entities", "&amp;lt;", "<"},
		{"control characters", "bell\x07 nul\x00 bom\ufeff del\x7f tab\tkept", "bell nul bom del tab\tkept"},
		{"terminal escapes", "\x1b[36;44mblue\x1b[0m", "blue"},
		{"line breaks", "a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne"},
		{"width and ligatures", "ＬＯＵＤ　ＮＯＩＳＥＳ ﬁnd Ǆ", "LOUD NOISES find DŽ"},
		{"NFC", "e\u0301", "é"},
		{"legitimate accents kept", "Ærø, naïve, Ελληνικά, Српски, 中文", "Ærø, naïve, Ελληνικά, Српски, 中文"},
		{"legitimate symbols kept", "100°C ± 2 — €5 © 2024", "100°C ± 2 — €5 © 2024"},
		{"invalid UTF-8", "bad\xffbyte", "bad\ufffdbyte"},
	}
	for _, c := range cases {
		if got := FixText(c.in); got != c.want {
			t.Errorf("%s: FixText(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestCut(t *testing.T) {
	short := strings.Repeat("x", 100)
	if Cut(short) != short {
		t.Error("short text cut")
	}
	long := strings.Repeat("a", MaxBytes-3) + "bcdef\nghi" + strings.Repeat("z", 10)
	if got := Cut(long); got != long[:MaxBytes+2] {
		t.Errorf("Cut kept %d bytes, want up to the newline at %d", len(got), MaxBytes+2)
	}
	noNewline := strings.Repeat("é", MaxBytes) // 2 bytes each
	got := Cut(strings.Repeat("a", 1) + noNewline)
	if len(got) != MaxBytes-1 || !utf8.ValidString(got) {
		t.Errorf("Cut without newline: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if Fix(long) != FixText(long[:MaxBytes+2]) {
		t.Error("Fix does not cut")
	}
}

// TestCodecsMatchPython compares the single-byte codecs with the tables of
// CPython 3.11's codecs (sloppy variants built as ftfy builds them).
func TestCodecsMatchPython(t *testing.T) {
	data, err := os.ReadFile(testutil.Testdata(t, "normalize/sloppy_codecs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Tables map[string][]rune `json:"tables"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	tablesOnce.Do(buildTables)
	if len(want.Tables) != len(codecs) {
		t.Fatalf("fixture has %d tables, package %d codecs", len(want.Tables), len(codecs))
	}
	for _, c := range codecs {
		table, ok := want.Tables[c.name]
		if !ok || len(table) != 256 {
			t.Errorf("no table for %s", c.name)
			continue
		}
		for b, r := range table {
			if c.decode[b] != r {
				t.Errorf("%s: byte %#02x decodes to %U, Python %U", c.name, b, c.decode[b], r)
			}
		}
	}
}
