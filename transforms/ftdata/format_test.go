package ftdata

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/normalize"
)

func mustNormalizer(t *testing.T, name string) normalize.Normalizer {
	t.Helper()
	n, err := normalize.New(name, normalize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLine(t *testing.T) {
	ws := mustNormalizer(t, normalize.Whitespace)
	cases := []struct {
		name   string
		f      Formatter
		labels []string
		text   string
		want   string
	}{
		{"plain", Formatter{}, []string{"1"}, "hello world", "__label__1 hello world"},
		{"labels normalized", Formatter{}, []string{"__label__Very Good", "B"}, "x", "__label__very_good __label__b x"},
		{"newlines become spaces", Formatter{}, []string{"a"}, "line one\nline two\r\nthree\rfour", "__label__a line one line two  three four"},
		{"whitespace normalizer", Formatter{Normalizer: ws}, []string{"a"}, "  line one\n\n line two ", "__label__a line one line two"},
		{"label prefix defused", Formatter{}, []string{"ham"}, "buy __label__spam now ___label___", "__label__ham buy _label_spam now _label_"},
		{"defused after normalizing", Formatter{Normalizer: mustNormalizer(t, normalize.Potion)}, []string{"x"}, "__LABEL__Spam", "__label__x _label_spam"},
		// MaxLength counts characters and cuts before normalizing: the
		// whitespace normalizer never sees "after".
		{"max length", Formatter{Normalizer: ws, MaxLength: 8}, []string{"a"}, "é\n  ü  ñ after", "__label__a é ü ñ"},
		{"empty text", Formatter{}, []string{"a"}, "", "__label__a "},
	}
	for _, c := range cases {
		got, err := c.f.Line(c.labels, c.text)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: Line = %q, want %q", c.name, got, c.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: line holds a line break", c.name)
		}
	}
	var f Formatter
	if _, err := f.Line(nil, "x"); !errors.Is(err, ErrNoLabel) {
		t.Errorf("no labels: %v", err)
	}
	if _, err := f.Line([]string{" __label__ "}, "x"); err == nil {
		t.Error("empty label accepted")
	}
	b, err := f.AppendLine([]byte("prev\n"), []string{"a"}, "t")
	if err != nil || string(b) != "prev\n__label__a t\n" {
		t.Errorf("AppendLine = %q, %v", b, err)
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 0, "hello"}, {"hello", 3, "hel"}, {"hello", 5, "hello"}, {"hello", 9, "hello"},
		{"añb😀c", 4, "añb😀"}, {"Српски", 2, "Ср"},
	} {
		if got := Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestAutoBins(t *testing.T) {
	cases := []struct {
		name   string
		values []float64
		n      int
		want   Bins
	}{
		{"distinct", []float64{1, 2, 3, 4, 5, 6}, 3, Bins{1, 3, 5, 6}},
		{"one bin", []float64{3, 1, 2}, 1, Bins{1, 3}},
		{"one value", []float64{2, 2, 2}, 4, Bins{2, 2}},
		// ties are never split: 0,0,0,0,1,1,2,3 in two bins of 4
		{"ties", []float64{0, 1, 0, 2, 0, 3, 0, 1}, 2, Bins{0, 1, 3}},
		// three targets land on the same boundary and collapse to two bins
		{"collapsed", []float64{0, 0, 0, 0, 0, 0, 0, 0, 5, 9}, 4, Bins{0, 5, 9}},
	}
	for _, c := range cases {
		got, err := AutoBins(c.values, c.n)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: AutoBins(%v, %d) = %v, want %v", c.name, c.values, c.n, got, c.want)
		}
		// every value lands in a bin, and every bin gets a value
		used := make([]bool, got.Count())
		for _, v := range c.values {
			used[got.Index(v)] = true
		}
		if slices.Contains(used, false) {
			t.Errorf("%s: an empty bin in %v", c.name, got)
		}
	}
	b := Bins{0, 1, 3}
	for v, want := range map[float64]string{-5: "0", 0: "0", 0.5: "0", 1: "1", 2.9: "1", 3: "1", 100: "1"} {
		if got := b.Label(v); got != want {
			t.Errorf("Label(%v) = %s, want %s", v, got, want)
		}
	}
	for _, bad := range [][]float64{nil, {1, nanValue()}} {
		if _, err := AutoBins(bad, 2); err == nil {
			t.Errorf("AutoBins(%v) accepted", bad)
		}
	}
	if _, err := AutoBins([]float64{1}, 0); err == nil {
		t.Error("AutoBins with 0 bins accepted")
	}
}

func nanValue() float64 { var z float64; return z / z }

func TestNumericLabel(t *testing.T) {
	for _, c := range []struct {
		in   any
		want float64
	}{{3.0, 3}, {int64(2), 2}, {json.Number("4.5"), 4.5}, {" 1.5 ", 1.5}, {7, 7}} {
		got, err := NumericLabel(c.in)
		if err != nil || got != c.want {
			t.Errorf("NumericLabel(%v) = %v, %v", c.in, got, err)
		}
	}
	for _, bad := range []any{"good", true, nil, map[string]any{}, "NaN"} {
		if _, err := NumericLabel(bad); err == nil {
			t.Errorf("NumericLabel(%v) accepted", bad)
		}
	}
}

func TestMultiLabels(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(`{"Toxic": false, "Well Written": true, "educational": true, "ads": false}`), &v); err != nil {
		t.Fatal(err)
	}
	got, err := MultiLabels(v)
	if err != nil || !slices.Equal(got, []string{"educational", "well_written"}) {
		t.Errorf("MultiLabels = %v, %v", got, err)
	}
	got, err = MultiLabels(map[string]any{"a": false, "b": false})
	if err != nil || !slices.Equal(got, []string{NoLabel}) {
		t.Errorf("MultiLabels(all false) = %v, %v", got, err)
	}
	for _, bad := range []any{
		map[string]any{"a": 1.0},
		map[string]any{"None": true},
		map[string]any{"Good": true, "good": false},
		map[string]any{"  ": true},
		[]any{"a"},
		"a",
	} {
		if _, err := MultiLabels(bad); err == nil {
			t.Errorf("MultiLabels(%v) accepted", bad)
		}
	}
}

func TestSplitCountsAdd(t *testing.T) {
	var c SplitCounts
	c.Add("a", "b")
	c.Add("a")
	if c.Rows != 2 || c.Labels["a"] != 2 || c.Labels["b"] != 1 {
		t.Errorf("counts = %+v", c)
	}
}
