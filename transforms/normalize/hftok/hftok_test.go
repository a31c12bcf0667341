package hftok

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/winnowlabs/winnow/internal/testutil"
)

func loadBert(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := Load(testutil.BertTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.bert == nil {
		t.Fatal("bert-base-uncased did not get the BERT encoder")
	}
	return tok
}

func tokens(tok *Tokenizer, text string) []string {
	var out []string
	for _, id := range tok.Encode(text) {
		out = append(out, tok.Token(id))
	}
	return out
}

func TestBertTokens(t *testing.T) {
	tok := loadBert(t)
	cases := []struct{ text, want string }{
		{"Héllo wörld! Running quickly, unbelievably.", "hello world ! running quickly , un ##bel ##ie ##va ##bly ."},
		{"naïve café 3.14 東京", "naive cafe 3 . 14 東 京"},
		// Added tokens are matched on the raw text, before lowercasing.
		{"a [MASK] b [mask]", "a [MASK] b [ mask ]"},
		// clean_text drops format characters (soft hyphen, zero-width space)
		// and control characters, \v included; other whitespace separates
		// words.
		{"soft\u00adhyphen zero\u200bwidth bell\x07ring", "soft ##hy ##ph ##en zero ##wi ##dt ##h bell ##ring"},
		{"a\u2028b\u00a0c\u3000d\ve", "a b c de"},
		{"İstanbul ΚΑΛΗΜΕΡΑ", "istanbul κ ##α ##λ ##η ##μ ##ε ##ρ ##α"},
		{strings.Repeat("a", 101) + " " + strings.Repeat("é", 100), "[UNK] " + strings.Repeat("##e", 100)[2:]},
	}
	for _, c := range cases {
		got := strings.Join(tokens(tok, c.text), " ")
		if c.text == cases[len(cases)-1].text {
			// 100 "é" become 100 "e": one word of 100 characters, within the limit.
			if !strings.HasPrefix(got, "[UNK] ") || strings.Contains(got[6:], "[UNK]") {
				t.Errorf("tokens(long words) = %q", got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("tokens(%q)\n got %q\nwant %q", c.text, got, c.want)
		}
	}
}

func TestDecodeID(t *testing.T) {
	tok := loadBert(t)
	ids := tok.Encode("unbelievably [CLS] x")
	var got []string
	for _, id := range ids {
		got = append(got, tok.DecodeID(id))
	}
	// Continuation pieces keep their prefix when decoded alone; special
	// tokens decode to nothing.
	want := []string{"un", "##bel", "##ie", "##va", "##bly", "", "x"}
	if !slices.Equal(got, want) {
		t.Errorf("DecodeID = %q, want %q", got, want)
	}
	if tok.Token(ids[5]) != "[CLS]" || tok.Token(-1) != "" || tok.DecodeID(1<<30) != "" {
		t.Error("Token/DecodeID bounds")
	}
	if len(tok.Hash()) != 64 || tok.VocabSize() != 30522 {
		t.Errorf("Hash %q VocabSize %d", tok.Hash(), tok.VocabSize())
	}
}

// realTexts returns documents of a shared JSONL file, cut to at most n bytes
// at a line boundary.
func realTexts(t testing.TB, rel string, limit, n int) []string {
	t.Helper()
	f, err := os.Open(testutil.SharedData(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	var out []string
	for sc.Scan() && len(out) < limit {
		var row struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		text := row.Text
		if len(text) > n {
			if i := strings.LastIndexByte(text[:n], '\n'); i > 0 {
				text = text[:i]
			} else {
				continue
			}
		}
		out = append(out, text)
	}
	return out
}

// libraryDiffers reports texts where go-huggingface's BertNormalizer is
// known to differ from Hugging Face's (see the package documentation).
func libraryDiffers(text string) bool {
	for _, f := range strings.Fields(text) {
		if len(f) > 100 {
			return true
		}
	}
	return strings.ContainsFunc(text, func(r rune) bool {
		return (isControl(r) && !unicode.IsControl(r)) || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029
	})
}

func TestBertEncoderAgreesWithLibrary(t *testing.T) {
	tok := loadBert(t)
	var texts []string
	texts = append(texts, realTexts(t, "fineweb-edu-llama3-sample/train.jsonl", 60, 1500)...)
	for _, f := range []string{"spa_Latn_sampled_500k_0_to_600.jsonl", "deu_Latn_sampled_500k_first200.jsonl",
		"nob_Latn_sampled_500k_first200.jsonl", "srp_Cyrl_sampled_500k_0_to_600.jsonl"} {
		texts = append(texts, realTexts(t, "web-text/"+f, 15, 1500)...)
	}
	compared := 0
	for _, text := range texts {
		if libraryDiffers(text) {
			continue
		}
		compared++
		got, want := tok.Encode(text), tok.libraryEncode(text)
		if !slices.Equal(got, want) {
			t.Errorf("encoders differ on %q\n got %v\nwant %v", text, got, want)
		}
	}
	if compared < 80 {
		t.Errorf("compared only %d texts", compared)
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := loadBert(t)
	texts := realTexts(t, "fineweb-edu-llama3-sample/valid.jsonl", 16, 4000)
	want := make([][]int, len(texts))
	for i, text := range texts {
		want[i] = tok.Encode(text)
	}
	var wg sync.WaitGroup
	for i := range texts {
		wg.Go(func() {
			if got := tok.Encode(texts[i]); !slices.Equal(got, want[i]) {
				t.Errorf("concurrent Encode of text %d differs", i)
			}
		})
	}
	wg.Wait()
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	bad := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil {
		t.Error("Load of invalid JSON succeeded")
	}
}

func TestSingleSpecials(t *testing.T) {
	tok := loadBert(t)
	prefix, suffix, err := tok.SingleSpecials()
	if err != nil || !slices.Equal(prefix, []int{101}) || !slices.Equal(suffix, []int{102}) {
		t.Errorf("SingleSpecials = %v, %v, %v; want [101] [102]", prefix, suffix, err)
	}
}

func TestSingleSpecialsPostProcessors(t *testing.T) {
	const model = `"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
		"vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "<s>": 3, "</s>": 4, "a": 5}}`
	cases := []struct {
		post           string
		prefix, suffix []int
		err            string
	}{
		{`{"type": "BertProcessing", "cls": ["[CLS]", 1], "sep": ["[SEP]", 2]}`, []int{1}, []int{2}, ""},
		{`{"type": "RobertaProcessing", "cls": ["<s>", 3], "sep": ["</s>", 4], "trim_offsets": true}`, []int{3}, []int{4}, ""},
		{`{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
			"special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}}`, []int{3}, nil, ""},
		{`{"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
			"special_tokens": {}}`, nil, nil, `special token "[SEP]" has no ids`},
		{`{"type": "BertProcessing", "cls": "[CLS]", "sep": ["[SEP]", 2]}`, nil, nil, "cls is not a [token, id] pair"},
		{`{"type": "ByteLevel"}`, nil, nil, `type "ByteLevel" is not supported`},
		{`null`, nil, nil, "no post_processor"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		if err := os.WriteFile(path, []byte(`{`+model+`, "post_processor": `+c.post+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(path)
		if err != nil {
			t.Fatalf("Load with post_processor %s: %v", c.post, err)
		}
		prefix, suffix, err := tok.SingleSpecials()
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("post_processor %s: error %v, want one containing %q", c.post, err, c.err)
			}
		case err != nil || !slices.Equal(prefix, c.prefix) || !slices.Equal(suffix, c.suffix):
			t.Errorf("post_processor %s: SingleSpecials = %v, %v, %v; want %v %v", c.post, prefix, suffix, err, c.prefix, c.suffix)
		}
	}
}
