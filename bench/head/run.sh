#!/usr/bin/env bash
# Side-by-side benchmark of head training: models/head on GoMLX's Go
# backend against PyTorch 1.13 on the CPU (Debian's python3-torch), the
# same MLP (d → 512 → 2, Adam, cross-entropy) on the same pooled features,
# with the same epochs, batch size and threads, in one run.
#
#   bench/head/run.sh                 # from the repository root
#
# Environment: THREADS (default all cores; GOMAXPROCS for Go,
# torch.set_num_threads for PyTorch), ROWS (training rows, default 20000),
# DIM (default 256), EPOCHS (default 5), BATCH (default 256), REPEAT (runs
# of each tool, alternating; the best wall time counts, default 2), SIMD=1
# to also time a GOEXPERIMENT=simd build (AVX2 kernels of the Go backend;
# rebuilds everything), WORK (scratch directory, default a new temporary
# one), PYTHON (default /usr/bin/python3). Needs /usr/bin/time. Prints a
# Markdown table.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
THREADS=${THREADS:-$(nproc)}
ROWS=${ROWS:-20000}
DIM=${DIM:-256}
EPOCHS=${EPOCHS:-5}
BATCH=${BATCH:-256}
REPEAT=${REPEAT:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required" >&2; exit 1; }
"$PYTHON" -c 'import torch, numpy' || { echo "$PYTHON lacks torch or numpy (Debian: python3-torch)" >&2; exit 1; }

echo "building and preparing features in $WORK" >&2
go build -o "$WORK/head-go" ./bench/head
if [ "${SIMD:-0}" = 1 ]; then
	GOEXPERIMENT=simd go build -o "$WORK/head-go-simd" ./bench/head
fi
"$WORK/head-go" -prepare -out "$WORK/features" -rows "$ROWS" -dim "$DIM" >&2

# measure NAME CMD...: runs CMD; keeps, from the run with the shortest
# training time, the training time (measured inside the process, after
# loading the data), the process's wall and user CPU time, its peak RSS and
# the final validation accuracy.
declare -A TRAIN WALL USER RSS ACC
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %M" -o "$WORK/time.txt" "$@" >"$WORK/out.json" 2>"$WORK/stderr.txt" || {
		cat "$WORK/stderr.txt" >&2
		return 1
	}
	local wall user rss train acc
	read -r wall user rss <"$WORK/time.txt"
	read -r train acc < <("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f %.4f" % (r["train_s"], r["valid_accuracy"]))' "$WORK/out.json")
	echo "$name: train ${train}s, process ${wall}s wall ${user}s user, $((rss / 1024)) MB" >&2
	if [ -z "${TRAIN[$name]:-}" ] || awk "BEGIN{exit !($train < ${TRAIN[$name]})}"; then
		TRAIN[$name]=$train
		WALL[$name]=$wall
		USER[$name]=$user
		RSS[$name]=$((rss / 1024))
		ACC[$name]=$acc
	fi
}

TOOLS=(pytorch gomlx)
[ "${SIMD:-0}" = 1 ] && TOOLS+=(gomlx-simd)
for _ in $(seq "$REPEAT"); do
	for tool in "${TOOLS[@]}"; do
		case $tool in
		pytorch) measure pytorch "$PYTHON" bench/head/torch_head.py "$WORK/features" "$EPOCHS" "$BATCH" 512 "$THREADS" ;;
		gomlx) measure gomlx env GOMAXPROCS="$THREADS" "$WORK/head-go" -train "$WORK/features" -epochs "$EPOCHS" -batch "$BATCH" ;;
		gomlx-simd) measure gomlx-simd env GOMAXPROCS="$THREADS" "$WORK/head-go-simd" -train "$WORK/features" -epochs "$EPOCHS" -batch "$BATCH" ;;
		esac
	done
done

echo
echo "head training: $ROWS rows × $EPOCHS epochs, d=$DIM → 512 → 2, batch $BATCH, $THREADS threads, validation (1,000 rows) every epoch; best of $REPEAT by training time"
echo
echo "| tool | train s | train rows/s | train ÷ PyTorch | process wall s | process user s | peak RSS MB | valid accuracy |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for tool in "${TOOLS[@]}"; do
	awk -v t="$tool" -v tr="${TRAIN[$tool]}" -v p="${TRAIN[pytorch]}" -v w="${WALL[$tool]}" -v u="${USER[$tool]}" \
		-v r="${RSS[$tool]}" -v a="${ACC[$tool]}" -v n="$((ROWS * EPOCHS))" \
		'BEGIN { printf "| %s | %.2f | %.0f | %.2f | %.2f | %.2f | %d | %s |\n", t, tr, n / tr, tr / p, w, u, r, a }'
done
