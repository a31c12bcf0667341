package normalize

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/normalize/golden")

// pySpace is Python's \s (str patterns) as a Go regexp class.
const pySpace = `[\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`

var (
	spaceRunRE = regexp.MustCompile(pySpace + `+`)
	trimRE     = regexp.MustCompile(`^` + pySpace + `+|` + pySpace + `+$`)
)

// reference implementations: the regular expressions bonepick applies.
func refWhitespace(s string) string {
	return trimRE.ReplaceAllString(spaceRunRE.ReplaceAllString(s, " "), "")
}

func refPotionEscapes(s string) string {
	s = regexp.MustCompile(`\r?\n\r?\n`).ReplaceAllString(s, "¶")
	s = regexp.MustCompile(`\r?\n`).ReplaceAllString(s, "·")
	s = strings.ReplaceAll(s, "\t", "↦")
	return refWhitespace(s)
}

type textCase struct {
	ID, Source, Text string
}

func readTexts(t testing.TB) []textCase {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "normalize/texts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []textCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c textCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) < 10 {
		t.Fatalf("texts.jsonl has %d texts", len(out))
	}
	return out
}

func mustNew(t testing.TB, name string) Normalizer {
	t.Helper()
	var opts Options
	if NeedsTokenizer(name) {
		opts.Tokenizer = testutil.BertTokenizer(t)
	}
	n, err := New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRegistry(t *testing.T) {
	want := []string{"hyperfine", "hyperfine-code", "newlines", "plsfix", "potion", "potion-code", "tokenizer", "ultrafine", "whitespace"}
	if got := Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Names() = %v", got)
	}
	if _, err := New("nfkc", Options{}); err == nil || !strings.Contains(err.Error(), "unknown normalizer") {
		t.Errorf("New(unknown) error = %v", err)
	}
	if _, err := New(Ultrafine, Options{}); err == nil || !strings.Contains(err.Error(), "needs a tokenizer") {
		t.Errorf("New(ultrafine) without tokenizer: %v", err)
	}
	if _, err := New(Ultrafine, Options{Tokenizer: filepath.Join(t.TempDir(), "none.json")}); err == nil {
		t.Error("New(ultrafine) with a missing tokenizer succeeded")
	}
	versions := map[string]string{
		Whitespace: "1", Plsfix: "1+plsfix.1", Potion: "1+plsfix.1", PotionCode: "1+plsfix.1",
	}
	for name, v := range versions {
		n := mustNew(t, name)
		if n.Name() != name || n.Version() != v {
			t.Errorf("%s: Name %q Version %q, want %q", name, n.Name(), n.Version(), v)
		}
		if m := Describe(n); m.Name != name || m.Version != v || m.Tokenizer != "" {
			t.Errorf("Describe(%s) = %+v", name, m)
		}
	}
	t.Run("tokenizer-based", func(t *testing.T) {
		u := mustNew(t, Ultrafine)
		m := Describe(u)
		if u.Version() != "1+hftok.2" || !strings.HasSuffix(m.Tokenizer, "tokenizer.json") || len(m.TokenizerHash) != 64 {
			t.Errorf("ultrafine: version %q manifest %+v", u.Version(), m)
		}
		if v := mustNew(t, HyperfineCode).Version(); v != "1+plsfix.1+hftok.2" {
			t.Errorf("hyperfine-code version %q", v)
		}
	})
}

func TestWhitespace(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"a", "a"},
		{"  a  b\t\tc\n\n d  ", "a b c d"},
		{"x\u00a0\u2003y\u3000z\x1cw", "x y z w"},
		{"héllo\u2028wörld\u0085!", "héllo wörld !"},
		{"\u200bzero-width is not space\u200b", "\u200bzero-width is not space\u200b"},
	}
	n := mustNew(t, Whitespace)
	for _, c := range cases {
		if got := n.Normalize(c.in); got != c.want {
			t.Errorf("whitespace(%q) = %q, want %q", c.in, got, c.want)
		}
		if ref := refWhitespace(c.in); ref != c.want {
			t.Errorf("reference(%q) = %q: test table is wrong", c.in, ref)
		}
	}
	for _, tc := range readTexts(t) {
		if got, want := n.Normalize(tc.Text), refWhitespace(tc.Text); got != want {
			t.Errorf("%s: whitespace differs from the regexp reference\n got %q\nwant %q", tc.ID, got, want)
		}
	}
}

func TestLabel(t *testing.T) {
	cases := []struct{ in, want string }{
		{"__label__Good", "good"},
		{"  Very  Good\tIndeed ", "very_good_indeed"},
		{"__label__ High Quality", "high_quality"},
		{"3", "3"},
		{"__label____label__x", "__label__x"},
		{"Ünïcode Läbel", "ünïcode_läbel"},
		{"", ""},
		{"__label__", ""},
	}
	for _, c := range cases {
		if got := Label(c.in); got != c.want {
			t.Errorf("Label(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTextSteps(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\n\nb", "a\n\nb"}, {"a\n\n\nb", "a\n\nb"}, {"a\n\n\n\n\n\nb\n\n\n", "a\n\nb\n\n"}, {"a\r\n\r\n\r\nb", "a\r\n\r\n\r\nb"},
	} {
		if got := squeezeNewlines(c.in); got != c.want {
			t.Errorf("squeezeNewlines(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"ascii only", "ascii only"},
		{"Crème brûlée, señor, Ærø, Øre", "Creme brulee, senor, Ærø, Øre"},
		{"ﬁ ½ ²", "fi 1⁄2 2"}, // NFKD compatibility decompositions
		{"Није ђаво; й → и", "Није ђаво; и → и"},
		{"e\u0301", "e"},
	} {
		if got := stripDiacritics(c.in); got != c.want {
			t.Errorf("stripDiacritics(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPotion(t *testing.T) {
	n := mustNew(t, Potion)
	cases := []struct{ in, want string }{
		{"Hello, World!", "hello, world!"},
		{"Para one.\n\nPara two.\nLine\tTab", "para one.¶para two.·line↦tab"},
		{"a\n\n\n\n\nb", "a¶b"},
		{"a\r\n\r\nb\r\nc", "a¶b·c"}, // plsfix turns \r\n into \n first
		{"  Crème  Brûlée  \n", "creme brulee ·"},
		{"cafÃ© â€œquotedâ€\u009d", `cafe "quoted"`},
		{"x \n y", "x · y"},
	}
	for _, c := range cases {
		if got := n.Normalize(c.in); got != c.want {
			t.Errorf("potion(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// The one-pass escaper equals bonepick's four substitutions, including
	// on carriage returns that plsfix would have removed.
	for _, s := range []string{"a\r\n\nb", "a\n\r\nb", "a\r\rb\r", "\r\n\r\n\r\n", " \t \n \r\n x", "a\n\r\n\r\nb"} {
		if got, want := markBreaksCollapsed(s), refPotionEscapes(s); got != want {
			t.Errorf("markBreaksCollapsed(%q) = %q, reference %q", s, got, want)
		}
	}
	for _, tc := range readTexts(t) {
		s := stripDiacritics(lower(squeezeNewlines(tc.Text)))
		if got, want := markBreaksCollapsed(s), refPotionEscapes(s); got != want {
			t.Errorf("%s: markBreaksCollapsed differs from the regexp reference", tc.ID)
		}
	}
}

func TestPotionCode(t *testing.T) {
	n := mustNew(t, PotionCode)
	cases := []struct{ in, want string }{
		// indent unit 4: 8 spaces are two tabs, 12 three
		{"def f():\n    if x:\n        return 1\n            # deep", "def f():¶↦if x:¶↦↦return 1¶↦↦↦# deep"},
		// the unit is the GCD: 4, 8 and 6 spaces make it 2; the final
		// newline is a symbol, which trimming keeps
		{"def f():\n    if x:\n        return 1\n      # odd\n", "def f():¶↦↦if x:¶↦↦↦↦return 1¶↦↦↦# odd¶"},
		// unit 2; blank and whitespace-only lines do not count
		{"a:\n  b\n    c\n   \n\n\n\nd", "a:¶↦b¶↦↦c¶↦ ¶¶d"},
		// lines whose spaces precede a tab are left out of the detection
		{"x\n   \ty\n  z", "x¶↦ ↦y¶↦z"},
		{"Café Über\r\nNext", "Cafe Uber¶Next"},
		{"  leading and trailing  ", "↦leading and trailing"},
		{" \t leading and trailing ", "↦ leading and trailing"},
		{"keep  inner   spaces", "keep  inner   spaces"},
	}
	for _, c := range cases {
		if got := n.Normalize(c.in); got != c.want {
			t.Errorf("potion-code(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if g := indentUnit("a\n    b\n      c\n"); g != 2 {
		t.Errorf("indentUnit = %d, want 2", g)
	}
	if g := indentUnit("no indentation\n\tonly tabs\n"); g != 0 {
		t.Errorf("indentUnit = %d, want 0", g)
	}
}

func TestTokenizerNormalizers(t *testing.T) {
	text := "Ünbelievably GOOD café!\n\n\n\n\tIndented  line\r\nEnd [MASK] 😀"
	cases := []struct{ name, want string }{
		{Tokenizer, `un ##bel ##ie ##va ##bly good cafe ! ind ##ented line end [MASK] [UNK]`},
		// ultrafine has no plsfix step and lowercases before tokenizing, so
		// [MASK] is no special token any more; WordPiece drops line breaks;
		// the emoji is [UNK], a special token, which decodes to nothing.
		{Ultrafine, `un ##bel ##ie ##va ##bly good cafe ! ind ##ented line end [ mask ]`},
		{Hyperfine, `un ##bel ##ie ##va ##bly good cafe ! \n \n \t ind ##ented line \n end [ mask ] [UNK]`},
		{HyperfineCode, `un ##bel ##ie ##va ##bly good cafe ! \n \n \t ind ##ented line \n end [MASK] [UNK]`},
	}
	for _, c := range cases {
		if got := mustNew(t, c.name).Normalize(text); got != c.want {
			t.Errorf("%s(%q)\n got %q\nwant %q", c.name, text, got, c.want)
		}
	}
	code := "func f() {\n    if x {\n        return\n    }\n}\n"
	want := `fun ##c f ( ) { \n \t if x { \n \t \t return \n \t } \n } \n`
	if got := mustNew(t, HyperfineCode).Normalize(code); got != want {
		t.Errorf("hyperfine-code(code)\n got %q\nwant %q", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	texts := readTexts(t)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			n := mustNew(t, name)
			want := make([]string, len(texts))
			for i, tc := range texts {
				want[i] = n.Normalize(tc.Text)
			}
			var wg sync.WaitGroup
			for i := range texts {
				wg.Go(func() {
					if got := n.Normalize(texts[i].Text); got != want[i] {
						t.Errorf("concurrent result differs on %s", texts[i].ID)
					}
				})
			}
			wg.Wait()
		})
	}
}

type golden struct {
	ID     string `json:"id"`
	Output string `json:"output"`
}

// TestGolden compares every normalizer's output on the real texts of
// testdata/normalize/texts.jsonl with testdata/normalize/golden/NAME.jsonl
// (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	texts := readTexts(t)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			n := mustNew(t, name)
			path := testutil.Testdata(t, filepath.Join("normalize/golden", name+".jsonl"))
			if *update {
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				for _, tc := range texts {
					if err := enc.Encode(golden{tc.ID, n.Normalize(tc.Text)}); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != len(texts) {
				t.Fatalf("%s has %d lines for %d texts", path, len(lines), len(texts))
			}
			for i, line := range lines {
				var g golden
				if err := json.Unmarshal([]byte(line), &g); err != nil {
					t.Fatal(err)
				}
				if g.ID != texts[i].ID {
					t.Fatalf("golden line %d is %s, want %s", i+1, g.ID, texts[i].ID)
				}
				if got := n.Normalize(texts[i].Text); got != g.Output {
					t.Errorf("%s on %s\n got %q\nwant %q", name, g.ID, got, g.Output)
				}
			}
		})
	}
}
