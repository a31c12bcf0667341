// Command head is the GoMLX side of the head-training speed benchmark
// (bench/head/run.sh): it prepares pooled features shared with the PyTorch
// side, or trains model2vec's default head on them with models/head.
//
//	go run ./bench/head -prepare -out DIR [-rows 20000] [-dim 256]
//	go run ./bench/head -train DIR [-epochs 5] [-batch 256] [-hidden 512]
//
// The features are hashed bag-of-words vectors (log(1+tf) of lowercase
// words hashed into dim buckets, L2-normalised) of the bundled FineWeb-Edu
// rows, labels binarized at score 3; the training rows repeat the 1,000
// texts of train.jsonl.zst up to -rows, the validation rows are the 1,000
// of valid.jsonl.zst. Files: train.f32 / valid.f32 (float32 little-endian,
// rows × dim), train.i32 / valid.i32 (int32 labels), meta.json.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/winnowlabs/winnow/internal/hashfeat"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
	"github.com/winnowlabs/winnow/models/head"
)

type meta struct {
	Dim       int `json:"dim"`
	TrainRows int `json:"train_rows"`
	ValidRows int `json:"valid_rows"`
}

func main() {
	prepare := flag.Bool("prepare", false, "write the features")
	out := flag.String("out", "", "directory the features are written to (-prepare)")
	data := flag.String("data", "data/fineweb-edu-llama3-sample", "FineWeb-Edu sample directory")
	rows := flag.Int("rows", 20000, "training rows")
	dim := flag.Int("dim", 256, "feature dimension")
	trainDir := flag.String("train", "", "directory of prepared features to train on")
	epochs := flag.Int("epochs", 5, "epochs")
	batch := flag.Int("batch", 256, "batch size")
	hidden := flag.Int("hidden", 512, "hidden width")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of training to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	switch {
	case *prepare:
		if err := writeFeatures(*data, *out, *rows, *dim); err != nil {
			log.Fatal(err)
		}
	case *trainDir != "":
		if err := train(*trainDir, *epochs, *batch, *hidden); err != nil {
			pprof.StopCPUProfile()
			log.Fatal(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// features reads a shard's hashed features and binary labels (score ≥ 3).
func features(path string, dim int) ([]float32, []int32, error) {
	x, scores, err := hashfeat.Read(context.Background(), path, dim)
	if err != nil {
		return nil, nil, err
	}
	y := make([]int32, len(scores))
	for i, s := range scores {
		if s >= 3 {
			y[i] = 1
		}
	}
	return x, y, nil
}

func writeFeatures(data, out string, rows, dim int) error {
	tx, ty, err := features(filepath.Join(data, "train.jsonl.zst"), dim)
	if err != nil {
		return err
	}
	vx, vy, err := features(filepath.Join(data, "valid.jsonl.zst"), dim)
	if err != nil {
		return err
	}
	var x []float32
	var y []int32
	for i := 0; len(y) < rows; i = (i + 1) % len(ty) {
		x = append(x, tx[i*dim:(i+1)*dim]...)
		y = append(y, ty[i])
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, v := range map[string]any{"train.f32": x, "train.i32": y, "valid.f32": vx, "valid.i32": vy} {
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			return err
		}
		if err := binary.Write(f, binary.LittleEndian, v); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	m, _ := json.Marshal(meta{Dim: dim, TrainRows: len(y), ValidRows: len(vy)})
	return os.WriteFile(filepath.Join(out, "meta.json"), m, 0o644)
}

func readFloats(path string, n int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(b), 4*n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

func readInts(path string, n int) ([]int, error) {
	f, err := readFloats(path, n) // same width
	if err != nil {
		return nil, err
	}
	v := make([]int, n)
	for i, x := range f {
		v[i] = int(int32(math.Float32bits(x)))
	}
	return v, nil
}

func train(dir string, epochs, batch, hidden int) error {
	start := time.Now()
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var tr, va head.Dataset
	if tr.X, err = readFloats(filepath.Join(dir, "train.f32"), m.TrainRows*m.Dim); err != nil {
		return err
	}
	if tr.Classes, err = readInts(filepath.Join(dir, "train.i32"), m.TrainRows); err != nil {
		return err
	}
	if va.X, err = readFloats(filepath.Join(dir, "valid.f32"), m.ValidRows*m.Dim); err != nil {
		return err
	}
	if va.Classes, err = readInts(filepath.Join(dir, "valid.i32"), m.ValidRows); err != nil {
		return err
	}
	backend, err := gomlxbackend.Open("go")
	if err != nil {
		return err
	}
	cfg := head.NewConfig(head.Classification, m.Dim, 2)
	cfg.Hidden = []int{hidden}
	loaded := time.Since(start)
	h, err := head.Train(context.Background(), backend, cfg, tr, va, head.Options{
		MaxEpochs: epochs, Patience: -1, BatchSize: batch, NoPlateau: true, Seed: 1,
		Progress: func(e head.Epoch) {
			log.Printf("epoch %d: train loss %.4f, valid loss %.4f, accuracy %.4f, %.0f rows/s", e.Epoch, e.TrainLoss, e.ValidLoss, e.Metric, e.RowsPerSecond)
		},
	})
	if err != nil {
		return err
	}
	last := h.Training.History[len(h.Training.History)-1]
	res, _ := json.Marshal(map[string]any{
		"tool": "gomlx", "threads": runtime.GOMAXPROCS(0), "load_s": loaded.Seconds(),
		"train_s": time.Since(start).Seconds() - loaded.Seconds(), "valid_accuracy": float64(last.Metric),
		"valid_loss": float64(last.ValidLoss),
	})
	fmt.Println(string(res))
	return nil
}
