// Package ftcli is a drop-in replacement for the command line of fastText
// (`fasttext supervised|test|test-label|predict|predict-prob|quantize|
// print-sentence-vectors|print-word-vectors`), built on package fasttext.
// It accepts the C++ tool's arguments, single-dash names, defaults and
// positional forms, and prints the same output, so that scripts written for
// the archived binary keep working. Two deliberate differences: test-label
// prints correct recall and F1 (Debian's 0.9.2 build does not), and
// unsupervised training (skipgram, cbow) is not implemented.
package ftcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/winnowlabs/winnow/models/fasttext"
)

// ErrUsage is returned (wrapped) for malformed command lines, after the
// usage text has been written to stderr.
var ErrUsage = errors.New("invalid fastText command line")

// IO holds a command's standard streams.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Usage is the command list, as `fasttext` prints it.
const Usage = `usage: fasttext <command> <args>

The commands supported by fasttext are:

  supervised              train a supervised classifier
  quantize                quantize a model to reduce the memory usage
  test                    evaluate a supervised classifier
  test-label              print labels with precision and recall scores
  predict                 predict most likely labels
  predict-prob            predict most likely labels with probabilities
  print-word-vectors      print word vectors given a trained model
  print-sentence-vectors  print sentence vectors given a trained model

Not implemented here: skipgram and cbow (unsupervised word vectors),
print-ngrams, nn, analogies and dump.
`

// Main runs one fastText command; args[0] is the command name (e.g.
// "supervised") and the rest are its arguments in fastText's syntax.
func Main(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, Usage)
		return fmt.Errorf("%w: missing command", ErrUsage)
	}
	switch cmd := args[0]; cmd {
	case "supervised":
		return supervised(ctx, args[1:], io)
	case "quantize":
		return quantize(ctx, args[1:], io)
	case "test", "test-label":
		return test(cmd == "test-label", args[1:], io)
	case "predict", "predict-prob":
		return predict(cmd == "predict-prob", args[1:], io)
	case "print-sentence-vectors":
		return printSentenceVectors(args[1:], io)
	case "print-word-vectors":
		return printWordVectors(args[1:], io)
	case "skipgram", "cbow", "print-ngrams", "nn", "analogies", "dump":
		return fmt.Errorf("fasttext %s is not implemented (only supervised classification is; see `winnow fasttext help`)", cmd)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(io.Stdout, Usage)
		return nil
	default:
		fmt.Fprint(io.Stderr, Usage)
		return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
	}
}

// openInput opens a data file argument, "-" meaning stdin.
func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("input file cannot be opened: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// parseKThreshold reads the optional positional <k> and <th> arguments.
func parseKThreshold(args []string) (int, float32, error) {
	k, th := 1, float32(0)
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil {
			return 0, 0, fmt.Errorf("k %q is not an integer", args[0])
		}
		if v == 0 || v < -1 {
			return 0, 0, fmt.Errorf("k needs to be 1 or higher (or -1 for all labels), got %d", v)
		}
		k = v
	}
	if len(args) > 1 {
		v, err := strconv.ParseFloat(args[1], 32)
		if err != nil {
			return 0, 0, fmt.Errorf("threshold %q is not a number", args[1])
		}
		th = float32(v)
	}
	return k, th, nil
}

const testUsage = `usage: fasttext %s <model> <test-data> [<k>] [<th>]

  <model>      model filename
  <test-data>  test data filename (if -, read from stdin)
  <k>          (optional; 1 by default) predict top k labels
  <th>         (optional; 0.0 by default) probability threshold
`

func test(perLabel bool, args []string, io IO) error {
	name := "test"
	if perLabel {
		name = "test-label"
	}
	if len(args) < 2 || len(args) > 4 {
		fmt.Fprintf(io.Stderr, testUsage, name)
		return fmt.Errorf("%w: %s takes 2 to 4 arguments", ErrUsage, name)
	}
	k, th, err := parseKThreshold(args[2:])
	if err != nil {
		return err
	}
	m, err := fasttext.Load(args[0])
	if err != nil {
		return err
	}
	in, done, err := openInput(args[1], io.Stdin)
	if err != nil {
		return err
	}
	defer done()
	res, err := m.Test(in, k, th)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(io.Stdout)
	if perLabel {
		for i, label := range m.Labels() {
			c := res.Labels[i]
			writeMetric(w, "F1-Score", c.F1())
			writeMetric(w, "Precision", c.Precision())
			writeMetric(w, "Recall", c.Recall())
			fmt.Fprintf(w, " %s\n", label)
		}
	}
	fmt.Fprintf(w, "N\t%d\n", res.Examples)
	// test-label leaves the stream in fixed notation, so its totals print
	// with three decimals; test prints three significant digits.
	format := func(v float64) string {
		if perLabel {
			return strconv.FormatFloat(v, 'f', 3, 64)
		}
		return formatG(v, 3)
	}
	fmt.Fprintf(w, "P@%d\t%s\n", k, format(res.PrecisionAtK()))
	fmt.Fprintf(w, "R@%d\t%s\n", k, format(res.RecallAtK()))
	return w.Flush()
}

func writeMetric(w io.Writer, name string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		fmt.Fprintf(w, "%s : --------  ", name)
		return
	}
	fmt.Fprintf(w, "%s : %.6f  ", name, v)
}

// formatG formats v like a C++ stream in its default notation with the
// given precision (printf's %g), including "nan" and "inf".
func formatG(v float64, prec int) string {
	switch {
	case math.IsNaN(v):
		if math.Signbit(v) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', prec, 64)
}

const predictUsage = `usage: fasttext predict[-prob] <model> <test-data> [<k>] [<th>]

  <model>      model filename
  <test-data>  test data filename (if -, read from stdin)
  <k>          (optional; 1 by default) predict top k labels
  <th>         (optional; 0.0 by default) probability threshold
`

func predict(withProb bool, args []string, io IO) error {
	if len(args) < 2 || len(args) > 4 {
		fmt.Fprint(io.Stderr, predictUsage)
		return fmt.Errorf("%w: predict takes 2 to 4 arguments", ErrUsage)
	}
	k, th, err := parseKThreshold(args[2:])
	if err != nil {
		return err
	}
	m, err := fasttext.Load(args[0])
	if err != nil {
		return err
	}
	if m.Args().Model != fasttext.ModelSupervised {
		return fmt.Errorf("model needs to be supervised for prediction (%s is %s)", args[0], m.Args().Model)
	}
	in, done, err := openInput(args[1], io.Stdin)
	if err != nil {
		return err
	}
	defer done()
	w := bufio.NewWriterSize(io.Stdout, 1<<16)
	lr := fasttext.NewLineReader(m, in)
	p := m.NewPredictor()
	var preds []fasttext.Prediction
	var buf []byte
	for lr.Next() {
		preds = p.PredictLine(preds[:0], lr, k, th)
		buf = buf[:0]
		for i, pr := range preds {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = append(buf, pr.Label...)
			if withProb {
				buf = append(buf, ' ')
				buf = strconv.AppendFloat(buf, float64(pr.Prob), 'g', 6, 64)
			}
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if err := lr.Err(); err != nil {
		return fmt.Errorf("read %s: %w", args[1], err)
	}
	return w.Flush()
}

func printSentenceVectors(args []string, io IO) error {
	if len(args) != 1 {
		fmt.Fprint(io.Stderr, "usage: fasttext print-sentence-vectors <model>\n\n  <model>      model filename\n\n")
		return fmt.Errorf("%w: print-sentence-vectors takes the model file", ErrUsage)
	}
	m, err := fasttext.Load(args[0])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(io.Stdout, 1<<16)
	lr := fasttext.NewLineReader(m, io.Stdin)
	vec := make([]float32, m.Dim())
	for lr.Next() {
		lr.SentenceVector(vec)
		writeVector(w, vec)
		w.WriteByte('\n')
	}
	if err := lr.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	return w.Flush()
}

func printWordVectors(args []string, io IO) error {
	if len(args) != 1 {
		fmt.Fprint(io.Stderr, "usage: fasttext print-word-vectors <model>\n\n  <model>      model filename\n\n")
		return fmt.Errorf("%w: print-word-vectors takes the model file", ErrUsage)
	}
	m, err := fasttext.Load(args[0])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(io.Stdout, 1<<16)
	sc := bufio.NewScanner(io.Stdin)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		word := sc.Text()
		w.WriteString(word)
		w.WriteByte(' ')
		writeVector(w, m.WordVector(word))
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	return w.Flush()
}

// writeVector prints v as fastText does: five significant digits, each
// value followed by a space.
func writeVector(w *bufio.Writer, v []float32) {
	var buf [32]byte
	for _, x := range v {
		w.Write(strconv.AppendFloat(buf[:0], float64(x), 'g', 5, 64))
		w.WriteByte(' ')
	}
}
