// Command fasttext is winnow's native fastText as a standalone drop-in for
// the archived C++ command line: the same commands, arguments, output and
// model files as `winnow fasttext`, in a small binary without the pipeline
// runtime (so its memory is the model's, not Beam's).
//
//	go build -o fasttext ./cmd/fasttext
//	fasttext supervised -input train.txt -output model -epoch 25 -wordNgrams 2
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/winnowlabs/winnow/internal/hugeheap"
	"github.com/winnowlabs/winnow/models/fasttext/ftcli"
)

func main() {
	hugeheap.Reserve(hugeheap.DefaultSize()) // as winnow does
	err := ftcli.Main(context.Background(), os.Args[1:], ftcli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err == nil {
		return
	}
	if !errors.Is(err, ftcli.ErrUsage) {
		fmt.Fprintln(os.Stderr, "fasttext:", err)
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(1)
}
