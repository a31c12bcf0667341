package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"
)

// Numeric flags check their own range when they are parsed, so a bad value
// is reported as "invalid argument "0" for "--rate" flag: want a number in
// (0, 1]" rather than by a later check that cannot tell which flag was
// wrong.

// bound is a range of numbers; a nil end is unbounded.
type bound struct {
	lo, hi         *float64
	loOpen, hiOpen bool
}

func num(v float64) *float64 { return &v }

var (
	anyNumber   = bound{}
	positive    = bound{lo: num(0), loOpen: true}
	nonNegative = bound{lo: num(0)}
	fraction    = bound{lo: num(0), hi: num(1), loOpen: true}
	atLeastOne  = bound{lo: num(1)}
)

func (b bound) check(v float64) error {
	if b.lo != nil && (v < *b.lo || b.loOpen && v == *b.lo) ||
		b.hi != nil && (v > *b.hi || b.hiOpen && v == *b.hi) {
		return fmt.Errorf("want a number %s", b)
	}
	return nil
}

func (b bound) String() string {
	switch {
	case b.lo != nil && b.hi != nil:
		l, r := "[", "]"
		if b.loOpen {
			l = "("
		}
		if b.hiOpen {
			r = ")"
		}
		return fmt.Sprintf("in %s%g, %g%s", l, *b.lo, *b.hi, r)
	case b.lo != nil && b.loOpen:
		return fmt.Sprintf("above %g", *b.lo)
	case b.lo != nil:
		return fmt.Sprintf("of at least %g", *b.lo)
	}
	return "(finite)"
}

// floatFlag is a float64 flag within a bound.
type floatFlag struct {
	p *float64
	b bound
}

func (f *floatFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("want a number %s", f.b)
	}
	if err := f.b.check(v); err != nil {
		return err
	}
	*f.p = v
	return nil
}

func (f *floatFlag) Type() string   { return "float" }
func (f *floatFlag) String() string { return strconv.FormatFloat(*f.p, 'g', -1, 64) }

// intFlag is an int or int64 flag within a bound.
type intFlag[T int | int64] struct {
	p *T
	b bound
}

func (f *intFlag[T]) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || int64(T(v)) != v {
		return fmt.Errorf("want a whole number %s", f.b)
	}
	if err := f.b.check(float64(v)); err != nil {
		return fmt.Errorf("want a whole number %s", f.b)
	}
	*f.p = T(v)
	return nil
}

func (f *intFlag[T]) Type() string   { return "int" }
func (f *intFlag[T]) String() string { return strconv.FormatInt(int64(*f.p), 10) }

// floatVar defines a float64 flag within b; short may be "".
func floatVar(fs *pflag.FlagSet, p *float64, name, short string, value float64, b bound, usage string) {
	*p = value
	fs.VarP(&floatFlag{p: p, b: b}, name, short, usage)
}

// intVar defines an int or int64 flag within b; short may be "".
func intVar[T int | int64](fs *pflag.FlagSet, p *T, name, short string, value T, b bound, usage string) {
	*p = value
	fs.VarP(&intFlag[T]{p: p, b: b}, name, short, usage)
}

// checkedString is a string flag whose values check accepts, so that a
// library's validation error is reported against the flag that was given.
type checkedString struct {
	p     *string
	check func(string) error
}

func (f *checkedString) Set(s string) error {
	if err := f.check(s); err != nil {
		return err
	}
	*f.p = s
	return nil
}

func (f *checkedString) Type() string   { return "string" }
func (f *checkedString) String() string { return *f.p }

// checkedStringVar defines a string flag whose values check accepts.
func checkedStringVar(fs *pflag.FlagSet, p *string, name, value string, check func(string) error, usage string) {
	*p = value
	fs.Var(&checkedString{p: p, check: check}, name, usage)
}

// sizeFlag is a positive byte size written as 500MB, 1GiB, ...
type sizeFlag struct{ p *int64 }

func (f *sizeFlag) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return fmt.Errorf("want a size such as 500MB or 1GiB")
	}
	if n == 0 {
		return fmt.Errorf("want a size above 0")
	}
	*f.p = int64(n)
	return nil
}

func (f *sizeFlag) Type() string { return "size" }
func (f *sizeFlag) String() string {
	if *f.p == 0 {
		return ""
	}
	return humanize.Bytes(uint64(*f.p))
}

// splitSizeFlag is the size of a split: a fraction in (0, 1) or a whole
// row count.
type splitSizeFlag struct{ p *float64 }

func (f *splitSizeFlag) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v >= 1 && v != math.Trunc(v) {
		return fmt.Errorf("want a fraction such as 0.1 or a whole row count such as 500")
	}
	*f.p = v
	return nil
}

func (f *splitSizeFlag) Type() string { return "F|N" }
func (f *splitSizeFlag) String() string {
	if *f.p == 0 {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}
