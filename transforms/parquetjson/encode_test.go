package parquetjson

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// stdString encodes s with encoding/json, HTML escaping off.
func stdString(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	alphabet := []rune{'a', 'Z', ' ', '"', '\\', '/', '<', '>', '&', '\n', '\r', '\t', '\b', '\f', 0, 1, 0x1f, 0x7f,
		'é', 'ß', '日', '😀', '\u2028', '\u2029', '\u2027', '\u202a', '\u00e2', '\ufffd', '\ufeff'}
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []string{"", "plain ascii, long enough for the eight-byte path", strings.Repeat("é", 17), "\u2028", "x\u2029"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(40) {
			if rng.IntN(3) == 0 {
				b.WriteString("abcdefgh")
			}
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := string(appendString(nil, []byte(s))), stdString(t, s); got != want {
			t.Fatalf("appendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\n\u2028日本")
	f.Add(strings.Repeat("x", 9) + "\x01")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		if got, want := string(appendString(nil, []byte(s))), stdString(t, s); got != want {
			t.Fatalf("appendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, 1e-7, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.MaxFloat32, math.SmallestNonzeroFloat32, 123456789.125}
	for range 20000 {
		values = append(values, math.Float64frombits(rng.Uint64()), rng.NormFloat64()*math.Pow(10, float64(rng.IntN(60)-30)))
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			if got := string(appendFloat(nil, f, 64)); got != "null" {
				t.Fatalf("appendFloat(%v) = %s, want null", f, got)
			}
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f, 64); string(got) != string(want) {
			t.Fatalf("float64 %v: got %s, encoding/json gives %s", f, got, want)
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			continue
		}
		want, err = json.Marshal(f32)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, float64(f32), 32); string(got) != string(want) {
			t.Fatalf("float32 %v: got %s, encoding/json gives %s", f32, got, want)
		}
	}
}

// TestHalfToFloat32 checks every half-precision value against its
// definition: (-1)^s × 2^(e-15) × 1.m, or 2^-14 × 0.m when subnormal.
func TestHalfToFloat32(t *testing.T) {
	for h := range 1 << 16 {
		sign, exp, mant := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			want = math.NaN()
		case exp == 0:
			want = math.Ldexp(float64(mant)/1024, -14)
		default:
			want = math.Ldexp(1+float64(mant)/1024, exp-15)
		}
		if sign == 1 {
			want = -want
		}
		got := float64(halfToFloat32(uint16(h)))
		if math.IsNaN(want) != math.IsNaN(got) || !math.IsNaN(want) && (got != want || math.Signbit(got) != math.Signbit(want)) {
			t.Fatalf("half %#04x: got %v, want %v", h, got, want)
		}
	}
}

// TestDecimals checks the decimal encoders against math/big's exact
// rendering of unscaled / 10^scale.
func TestDecimals(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ten := big.NewInt(10)
	for range 5000 {
		scale := rng.IntN(40)
		nbytes := 1 + rng.IntN(16)
		raw := make([]byte, nbytes)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		// the two's complement value of raw
		x := new(big.Int).SetBytes(raw)
		if raw[0]&0x80 != 0 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*nbytes)))
		}
		want := new(big.Rat).SetFrac(x, new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil)).FloatString(scale)

		enc, err := decimalEncoder(format.FixedLenByteArray, scale, "DECIMAL")
		if err != nil {
			t.Fatal(err)
		}
		got, err := enc(nil, parquet.FixedLenByteArrayValue(raw))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("bytes %x scale %d: got %s, want %s", raw, scale, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("%s is not a JSON number", got)
		}
		if nbytes <= 8 && scale <= 18 {
			enc64, err := decimalEncoder(format.Int64, scale, "DECIMAL")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := enc64(nil, parquet.Int64Value(x.Int64())); string(got) != want {
				t.Fatalf("int64 %d scale %d: got %s, want %s", x.Int64(), scale, got, want)
			}
		}
	}
}
