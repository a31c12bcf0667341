package plsfix

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// oracleCase is one line of testdata/normalize/plsfix_oracle.jsonl: an input
// and what ftfy (6.3.1, through its port ftfy-js 6.3.2) makes of it.
type oracleCase struct {
	Kind     string  `json:"kind"`
	Source   string  `json:"source"`
	Damage   string  `json:"damage"`
	Original string  `json:"original"`
	Input    string  `json:"input"`
	IsBad    bool    `json:"is_bad"`
	Fixed    *string `json:"fixed"`
}

func readOracle(t *testing.T) []oracleCase {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "normalize/plsfix_oracle.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []oracleCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c oracleCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("parse oracle line %d: %v", len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 3000 {
		t.Fatalf("oracle has %d cases, want the full file", len(cases))
	}
	return cases
}

func TestIsBadMatchesFtfy(t *testing.T) {
	bad := 0
	for _, c := range readOracle(t) {
		if got := isBad(c.Input); got != c.IsBad {
			t.Errorf("isBad(%q) = %v, ftfy says %v", c.Input, got, c.IsBad)
		}
		if c.IsBad {
			bad++
		}
	}
	if bad < 500 {
		t.Errorf("only %d oracle inputs are bad: the comparison would prove little", bad)
	}
}

func TestFixTextMatchesFtfy(t *testing.T) {
	n := 0
	for _, c := range readOracle(t) {
		if c.Fixed == nil {
			continue
		}
		n++
		if got := FixText(c.Input); got != *c.Fixed {
			t.Errorf("%s %s %s\nFixText(%q)\n got %q\nwant %q", c.Kind, c.Source, c.Damage, c.Input, got, *c.Fixed)
		}
	}
	if n < 300 {
		t.Errorf("only %d fix_text cases", n)
	}
}
