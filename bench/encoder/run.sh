#!/usr/bin/env bash
# Encoder benchmark: models/encoder's predictor and `winnow score` end to end on
# the Go backend against the same model in PyTorch on the CPU, on the same real
# texts, side by side in one run. The model is a BertForSequenceClassification of bert-base shape (12
# layers, hidden 768, 12 heads, one regression output, random weights) written
# by testdata/encoder/make_reference.py bench; the texts are the first N rows of
# the bundled FineWeb-Edu sample (data/fineweb-edu-llama3-sample/valid.jsonl.zst).
#
#   bench/encoder/run.sh [N] [RUNS] [PASSES]   (defaults: 32 texts, 2 runs, 2 timed passes a run;
#                                              the best pass counts)
#   WORK=/tmp/dir bench/encoder/run.sh     reuse a work directory (model, binaries)
#   THREADS=2 MAX_LENGTH=512 BATCH=32      threads of both sides, truncation, most texts per batch
#                                          (winnow also caps a batch at 8192 padded tokens)
#   PORTABLE_N=4                           texts for the Go backend without SIMD kernels (0: skip)
#
# Measured, each in its own process under /usr/bin/time (CPU and peak RSS of the
# whole process: loading, the untimed first pass that compiles, the timed passes),
# the runs interleaved:
#   torch-input    PyTorch, batches in input order, each padded to its longest text
#   torch-sorted   PyTorch, batches of texts sorted by length (the best case for padding)
#   go-simd        winnow, GOEXPERIMENT=simd build (AVX-512/AVX2 matrix kernels), length buckets
#   go-simd-fixed  the same, every text padded to MAX_LENGTH (one bucket)
#   go-simd-w2     the same with buckets, two batches at once (Options.Workers 2)
#   go-simd-avx2   the same with buckets, AVX-512 kernels disabled (GOMLX_SIMD_AVX512=0)
#   go-portable    winnow, default build (portable Go kernels), on the first PORTABLE_N texts
#   winnow-score   `winnow score` end to end (GOEXPERIMENT=simd build) on a one-shard corpus of
#                  the texts: its docs/s count the whole process (Beam on prism, reading,
#                  loading and hashing the model, compiling, tokenizing, scoring, writing)
# Tokenization is timed on winnow's side only (PyTorch's peer tokenizer is
# pure Python here; Hugging Face's Rust tokenizer would take ~1 ms a text).
#
# Needs Go, Debian's python3-torch and python3-numpy, zstd and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-32}
runs=${2:-2}
passes=${3:-2}
threads=${THREADS:-2}
max_length=${MAX_LENGTH:-512}
batch=${BATCH:-32}
portable_n=${PORTABLE_N:-4}
work=${WORK:-$(mktemp -d /tmp/winnow-bench-encoder.XXXX)}
mkdir -p "$work"
for tool in /usr/bin/time /usr/bin/python3 zstd; do
	command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done

model=$work/bert-base
[[ -s $model/model.safetensors ]] || /usr/bin/python3 testdata/encoder/make_reference.py bench "$model"
go build -o "$work/encoderbench" ./bench/encoder/encoderbench
GOEXPERIMENT=simd go build -o "$work/encoderbench-simd" ./bench/encoder/encoderbench
GOEXPERIMENT=simd go build -o "$work/winnow-simd" ./cmd/winnow

texts=$work/texts-$n.jsonl
"$work/encoderbench" texts -n "$n" -o "$texts" data/fineweb-edu-llama3-sample/valid.jsonl.zst
small=$work/texts-portable.jsonl
head -n "$portable_n" "$texts" >"$small"
corpus=$work/corpus-$n
mkdir -p "$corpus"
cp "$texts" "$corpus/docs.jsonl"

export GOMAXPROCS=$threads OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
results=$work/results.txt
: >"$results"
# measure NAME COMMAND...: one run under /usr/bin/time; records the timed
# pass the command prints ("score"/"torch-*" docs tokens seconds), the
# process's CPU seconds and peak RSS.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "time %e %U %S %M" "$@" >"$work/out.txt" 2>"$work/err.txt" || { cat "$work/err.txt"; exit 1; }
	local line cpu rss
	line=$(awk '$1=="score" || $1 ~ /^torch-/ {print $2, $3, $4}' "$work/out.txt")
	cpu=$(awk '$1=="time" {print $3 + $4}' "$work/err.txt")
	rss=$(awk '$1=="time" {print $5}' "$work/err.txt")
	echo "$name $line $cpu $rss" >>"$results"
	grep -h "check" "$work/err.txt" || true
}

# measure_cli NAME COMMAND...: one run of a whole command under /usr/bin/time;
# its docs/s count the process's wall-clock time.
measure_cli() {
	local name=$1
	shift
	/usr/bin/time -f "time %e %U %S %M" "$@" >"$work/out.txt" 2>"$work/err.txt" || { cat "$work/out.txt" "$work/err.txt"; exit 1; }
	awk -v name="$name" -v n="$n" '$1=="time" {print name, n, 0, $2, $3 + $4, $5}' "$work/err.txt" >>"$results"
}

go_flags=(score -m "$model" -max-length "$max_length" -batch "$batch" -repeat "$passes")
torch=(/usr/bin/python3 bench/encoder/torch_bench.py "$model" --threads "$threads" --batch "$batch" --max-length "$max_length" --repeat "$passes")
simd=$work/encoderbench-simd
for i in $(seq "$runs"); do
	measure torch-input "${torch[@]}" --order input "$texts"
	measure go-simd "$simd" "${go_flags[@]}" -o "$work/go.json" "$texts"
	measure torch-sorted "${torch[@]}" --order sorted --check "$work/go.json" "$texts"
	measure go-simd-fixed "$simd" "${go_flags[@]}" -buckets "$max_length" "$texts"
	measure go-simd-w2 "$simd" "${go_flags[@]}" -workers 2 "$texts"
	GOMLX_SIMD_AVX512=0 measure go-simd-avx2 "$simd" "${go_flags[@]}" "$texts"
	rm -rf "$work/scored"
	measure_cli winnow-score "$work/winnow-simd" score -i "$corpus" -o "$work/scored" -m "$model" --no-version-dir \
		--max-length "$max_length" --batch-size "$batch"
	if ((portable_n > 0)); then
		measure go-portable "$work/encoderbench" score -m "$model" -max-length "$max_length" -batch "$batch" "$small"
	fi
done

# The best run of each measurement, and its documents/s relative to PyTorch's
# best (sorted) run.
echo "texts: first $n of data/fineweb-edu-llama3-sample/valid.jsonl.zst (go-portable: first $portable_n, one pass), max length $max_length, batch $batch, $threads threads, best of $runs runs × $passes passes; work dir $work"
awk '
	{ if (!($1 in best) || $4 < best[$1]) { best[$1] = $4; docs[$1] = $2; tok[$1] = $3; cpu[$1] = $5; rss[$1] = $6 }
	  if ($1 == "go-simd") { tokens = $3 } # the same texts and truncation as winnow-score
	  if (!($1 in seen)) { order[++k] = $1; seen[$1] = 1 } }
	END {
		ref = docs["torch-sorted"] / best["torch-sorted"]
		printf "%-14s %6s %9s %10s %8s %10s %12s %8s\n", "run", "docs", "docs/s", "tokens/s", "pass s", "proc CPU s", "peak RSS MB", "vs torch"
		for (i = 1; i <= k; i++) {
			r = order[i]; d = docs[r] / best[r]
			if (tok[r] == 0) { tok[r] = tokens }
			printf "%-14s %6d %9.2f %10.0f %8.2f %10.1f %12.0f %8.2f\n", r, docs[r], d, tok[r] / best[r], best[r], cpu[r], rss[r] / 1024, d / ref
		}
	}' "$results"
