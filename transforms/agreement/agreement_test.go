package agreement

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

func near(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }

func pairsOf(a, b []string) []Pair {
	p := make([]Pair, len(a))
	for i := range a {
		p[i] = Pair{Key: fmt.Sprint(i), A: a[i], B: b[i]}
	}
	return p
}

// A case small enough to check by hand (see the comments).
func TestHandChecked(t *testing.T) {
	r := Compute(pairsOf([]string{"1", "1", "0", "0", "1"}, []string{"1", "0", "0", "0", "1"}), 0, 0)
	// Confusion (rows A): [[2 0] [1 2]]; agreement 4/5.
	if !reflect.DeepEqual(r.Confusion, [][]int64{{2, 0}, {1, 2}}) || r.Agreement != 0.8 {
		t.Errorf("confusion %v, agreement %v", r.Confusion, r.Agreement)
	}
	// Margins A (2, 3), B (3, 2): pe = (2*3 + 3*2)/25 = 0.48; kappa =
	// (0.8-0.48)/0.52. With two labels the quadratic weights are the
	// unweighted ones.
	if !near(r.Kappa, 0.32/0.52) || !near(r.QuadraticKappa, 0.32/0.52) {
		t.Errorf("kappa %v, quadratic %v", *r.Kappa, *r.QuadraticKappa)
	}
	// One disagreement of 1 in 5.
	if !near(r.MAE, 0.2) {
		t.Errorf("mae %v", *r.MAE)
	}
	// Average ranks A (4 4 1.5 1.5 4), B (4.5 2 2 2 4.5): both have mean 3
	// and squared deviations 7.5; the cross product is 5: rho = 5/7.5.
	if !near(r.Spearman, 5.0/7.5) {
		t.Errorf("spearman %v", *r.Spearman)
	}
}

func TestUndefinedAndCategorical(t *testing.T) {
	r := Compute(pairsOf([]string{"3", "3"}, []string{"3", "3"}), 0, 0)
	if r.Agreement != 1 || r.Kappa != nil || r.QuadraticKappa != nil || r.Spearman != nil || !near(r.MAE, 0) {
		t.Errorf("one label everywhere: %+v", r)
	}
	r = Compute(pairsOf([]string{"edu", "news", "edu"}, []string{"edu", "edu", "sport"}), 2, 1)
	if r.Numeric || r.QuadraticKappa != nil || r.MAE != nil || r.Kappa == nil {
		t.Errorf("categorical: %+v", r)
	}
	if !reflect.DeepEqual(r.Labels, []string{"edu", "news", "sport"}) || r.CoverageA != 0.6 || r.CoverageB != 0.75 {
		t.Errorf("labels %v, coverage %v %v", r.Labels, r.CoverageA, r.CoverageB)
	}
	// Numeric labels sort as numbers, not strings.
	r = Compute(pairsOf([]string{"10", "9", "2.5"}, []string{"9", "10", "2.5"}), 0, 0)
	if !reflect.DeepEqual(r.Labels, []string{"2.5", "9", "10"}) {
		t.Errorf("labels %v", r.Labels)
	}
	if empty := Compute(nil, 3, 0); empty.Pairs != 0 || empty.CoverageA != 0 || empty.Kappa != nil {
		t.Errorf("empty: %+v", empty)
	}
	if !strings.Contains(r.String(), "quadratic weighted kappa") {
		t.Errorf("String():\n%s", r.String())
	}
}

func TestJoin(t *testing.T) {
	a := []Item{{"x", "1"}, {"y", "2"}, {"z", "3"}}
	b := []Item{{"z", "3"}, {"w", "0"}, {"x", "2"}}
	pairs, onlyA, onlyB, err := Join(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pairs, []Pair{{"x", "1", "2"}, {"z", "3", "3"}}) || onlyA != 1 || onlyB != 1 {
		t.Errorf("Join = %v %d %d", pairs, onlyA, onlyB)
	}
	if _, _, _, err := Join(append(a, Item{"x", "5"}), b); err == nil {
		t.Error("a duplicate key in A was accepted")
	}
	if _, _, _, err := Join(a, append(b, Item{"w", "5"})); err == nil {
		t.Error("a duplicate key in B was accepted")
	}
}

// legalPairs reads real annotator noise: FineWeb pages scored twice (0-5,
// legal value) by the same model on different runs.
func legalPairs(t *testing.T) []Pair {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "annotate/legal-reannotations.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pairs []Pair
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		pairs = append(pairs, Pair{Key: f[0], A: f[1], B: f[2]})
	}
	return pairs
}

func TestRealReannotations(t *testing.T) {
	pairs := legalPairs(t)
	r := Compute(pairs, 0, 0)
	// 63 of the 2,000 pages changed score between runs.
	if r.Pairs != 2000 || r.Agreement != float64(2000-63)/2000 {
		t.Errorf("pairs %d, agreement %v", r.Pairs, r.Agreement)
	}
	if *r.Kappa < 0.9 || *r.QuadraticKappa < *r.Kappa || *r.Spearman < 0.9 {
		t.Errorf("kappa %v, quadratic %v, spearman %v: re-runs of one model should agree closely", *r.Kappa, *r.QuadraticKappa, *r.Spearman)
	}
}

// The statistics match scikit-learn and SciPy, computed by Debian's
// python3-sklearn and python3-scipy (skipped when they are not installed).
func TestMatchesSklearn(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import sklearn, scipy").Run(); err != nil {
		t.Skipf("python3 with sklearn and scipy is not available: %v", err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]Pair{"legal re-annotations": legalPairs(t)}
	for c := range 6 {
		n := 50 + rnd.IntN(400)
		a, b := make([]string, n), make([]string, n)
		for i := range n {
			x := rnd.IntN(6)
			a[i] = fmt.Sprint(x)
			// Mostly close to A, with gaps in the scale for some cases.
			y := x + rnd.IntN(3) - 1
			if c%2 == 1 && y == 2 {
				y = 3
			}
			b[i] = fmt.Sprint(max(0, min(5, y)))
		}
		cases[fmt.Sprintf("random %d", c)] = pairsOf(a, b)
	}
	script := `
import json, sys
from sklearn.metrics import cohen_kappa_score, confusion_matrix, mean_absolute_error
from scipy.stats import spearmanr
out = {}
for name, (a, b) in json.load(open(sys.argv[1])).items():
    labels = sorted(set(a) | set(b))
    out[name] = {
        "kappa": cohen_kappa_score(a, b),
        "qwk": cohen_kappa_score(a, b, weights="quadratic"),
        "mae": mean_absolute_error(a, b),
        "spearman": spearmanr(a, b).correlation,
        "confusion": confusion_matrix(a, b, labels=labels).tolist(),
    }
json.dump(out, sys.stdout)
`
	input := map[string][2][]float64{}
	for name, pairs := range cases {
		var a, b []float64
		for _, p := range pairs {
			var x, y float64
			fmt.Sscan(p.A, &x)
			fmt.Sscan(p.B, &y)
			a, b = append(a, x), append(b, y)
		}
		input[name] = [2][]float64{a, b}
	}
	dir := t.TempDir()
	data, _ := json.Marshal(input)
	inFile := filepath.Join(dir, "pairs.json")
	os.WriteFile(inFile, data, 0o644)
	out, err := exec.Command(python, "-c", script, inFile).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want map[string]struct {
		Kappa, QWK, MAE, Spearman float64
		Confusion                 [][]int64
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for name, pairs := range cases {
		got := Compute(pairs, 0, 0)
		w := want[name]
		if !near(got.Kappa, w.Kappa) || !near(got.QuadraticKappa, w.QWK) || !near(got.MAE, w.MAE) || !near(got.Spearman, w.Spearman) {
			t.Errorf("%s: kappa %v/%v qwk %v/%v mae %v/%v spearman %v/%v", name,
				*got.Kappa, w.Kappa, *got.QuadraticKappa, w.QWK, *got.MAE, w.MAE, *got.Spearman, w.Spearman)
		}
		if !reflect.DeepEqual(got.Confusion, w.Confusion) {
			t.Errorf("%s: confusion %v, sklearn %v", name, got.Confusion, w.Confusion)
		}
	}
}
