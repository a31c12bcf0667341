#!/usr/bin/env bash
# Side-by-side benchmark of winnow's native fastText and the C++ tool
# (Debian's fasttext 0.9.2), same data, same arguments, in one run.
#
#   bench/fasttext/run.sh            # from the repository root
#
# Environment: WINNOW_SHARED_DATA (default ../shared/data), THREADS (default
# all cores), WEB_MB (prediction corpus size, default 50), REPEAT (runs per
# prediction timing, the best counts, default 3), WORK (scratch
# directory, default a new temporary one; it needs ~10 GB for the models),
# FASTTEXT (the C++ binary, default fasttext). Needs /usr/bin/time and
# taskset. Prints Markdown tables, with the machine they were measured on
# (bench/machine.sh) before and after. Tools: cpp (the C++ tool), winnow
# (`winnow fasttext`) and slim (cmd/fasttext, the same code without the
# pipeline runtime, whose process memory is comparable with the C++ tool's).
# winnow picks its vector kernels from the CPU's features; to measure the
# AVX2 kernels on an AVX-512 machine, run with GODEBUG=cpu.avx512f=off.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${WINNOW_SHARED_DATA:-$ROOT/../shared/data}
THREADS=${THREADS:-$(nproc)}
WEB_MB=${WEB_MB:-50}
CPP=${FASTTEXT:-fasttext}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"

command -v "$CPP" >/dev/null || { echo "fastText C++ tool not found ($CPP)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required" >&2; exit 1; }

echo "building winnow and preparing data in $WORK" >&2
go build -o "$WORK/winnow" ./cmd/winnow
go build -o "$WORK/fasttext-go" ./cmd/fasttext
go run ./bench/fasttext/prepare -shared "$SHARED" -out "$WORK" -web-mb "$WEB_MB" >&2
WINNOW="$WORK/winnow fasttext"
# The same code as the standalone drop-in binary (no pipeline runtime).
SLIM="$WORK/fasttext-go"

# binary TOOL: the command line of a tool.
binary() {
	case $1 in
	cpp) echo "$CPP" ;;
	winnow) echo "$WINNOW" ;;
	slim) echo "$SLIM" ;;
	esac
}
COOK_TRAIN=$SHARED/fasttext/cooking/cooking_dataset_train.tsv
COOK_TEST=$SHARED/fasttext/cooking/cooking_dataset_test.tsv
LID=$SHARED/fasttext/lid.176.ftz

# measure OUT CMD...: runs CMD with stdout to OUT, sets WALL USER SYS RSS_MB.
measure() {
	local out=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" >"$out" 2>"$WORK/stderr.txt" || {
		cat "$WORK/stderr.txt" >&2
		return 1
	}
	read -r WALL USER SYS RSS <"$WORK/time.txt"
	RSS_MB=$((RSS / 1024))
}

# macro_f1 GOLD PRED: macro-averaged F1 of the first label of each line.
macro_f1() {
	paste -d' ' <(cut -d' ' -f1 "$1") <(cut -d' ' -f1 "$2") | awk '
		{ g[$1]++; p[$2]++; if ($1 == $2) tp[$1]++ }
		END { n = 0; s = 0
			for (c in g) { n++; pr = (p[c] ? tp[c] / p[c] : 0); rc = tp[c] / g[c]
				s += (pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0) }
			printf "%.4f", s / n }'
}

p_at_1() { awk -F'\t' '$1 == "P@1" { print $2 }' "$1"; }

# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

bench/machine.sh
echo
echo "| task | tool | wall s | user s | sys s | peak RSS MB | quality | C++ wall / wall |"
echo "|---|---|---:|---:|---:|---:|---|---:|"

# train NAME TRAIN TEST ARGS [KEEP]: trains each tool on TRAIN with ARGS and
# prints a row per tool with its quality on TEST (P@1 and macro-F1) and the
# C++ tool's wall time over its own. KEEP, when given, is where the C++
# tool's model is kept.
train() {
	local name=$1 input=$2 test=$3 args=$4 keep=${5:-} cppwall="" tool bin
	cut -d' ' -f2- "$test" >"$WORK/text.txt"
	for tool in cpp winnow slim; do
		bin=$(binary $tool)
		measure "$WORK/out.txt" $bin supervised -input "$input" -output "$WORK/model-$tool" $args
		$bin test "$WORK/model-$tool.bin" "$test" >"$WORK/test.txt"
		$bin predict "$WORK/model-$tool.bin" "$WORK/text.txt" >"$WORK/pred.txt"
		[ $tool = cpp ] && cppwall=$WALL
		echo "| $name | $tool | $WALL | $USER | $SYS | $RSS_MB | P@1 $(p_at_1 "$WORK/test.txt"), macro-F1 $(macro_f1 "$test" "$WORK/pred.txt") | $(ratio "$cppwall" "$WALL") |"
		if [ $tool = cpp ] && [ -n "$keep" ]; then
			mv "$WORK/model-cpp.bin" "$keep"
		fi
		rm -f "$WORK/model-$tool.bin" "$WORK/model-$tool.vec"
	done
}

# Training (a): the cooking tutorial settings (733 labels), with each loss.
A="-lr 0.5 -wordNgrams 2 -epoch 25 -thread $THREADS -verbose 0"
train "train (a) cooking \`$A\`" "$COOK_TRAIN" "$COOK_TEST" "$A"
train "train (a) cooking, -loss hs" "$COOK_TRAIN" "$COOK_TEST" "$A -loss hs"
train "train (a) cooking, -loss ns" "$COOK_TRAIN" "$COOK_TEST" "$A -loss ns"

# Training (b): bonepick's defaults on the legal annotations; the C++
# tool's model is the 2 GB model of the prediction benchmark below.
B="-dim 256 -lr 0.1 -wordNgrams 3 -minCount 5 -epoch 3 -bucket 2000000 -ws 5 -neg 5 -loss softmax -seed 42 -thread $THREADS -verbose 0"
train "train (b) legal, bonepick defaults" "$WORK/legal_train.txt" "$WORK/legal_test.txt" "$B" "$WORK/legal-cpp.bin"

# Prediction throughput on the web corpus, model loading excluded: each
# configuration is also timed on an empty input, and that time subtracted.
# Every time is the best of $REPEAT runs (loading a 2 GB model varies by a
# second or more from one run to the next).
REPEAT=${REPEAT:-3}
WEB=$WORK/web.txt
BYTES=$(stat -c %s "$WEB")
: >"$WORK/empty.txt"
split -n l/"$THREADS" -d "$WEB" "$WORK/web.part."
for i in $(seq 0 $((THREADS - 1))); do : >"$WORK/empty.part.$i"; done

# parallel BIN MODEL FILES...: one single-threaded process per file, each on
# its own core; prints the wall time.
parallel() {
	local bin=$1 model=$2
	shift 2
	local start end i=0
	start=$(date +%s.%N)
	for f in "$@"; do
		GOMAXPROCS=1 taskset -c $((i % $(nproc))) $bin predict-prob "$model" "$f" 1 >/dev/null &
		i=$((i + 1))
	done
	wait
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}

# best CMD...: the least of $REPEAT outputs of CMD (a number).
best() {
	local b="" t
	for _ in $(seq "$REPEAT"); do
		t=$("$@")
		b=$(awk -v a="$b" -v t="$t" 'BEGIN { print (a == "" || t < a) ? t : a }')
	done
	echo "$b"
}

# single_wall BIN MODEL FILE: the wall time of one single-threaded process
# on core 0 (peak RSS in $WORK/rss).
single_wall() {
	measure /dev/null env GOMAXPROCS=1 taskset -c 0 $1 predict-prob "$2" "$3" 1
	echo "$RSS_MB" >"$WORK/rss"
	echo "$WALL"
}

echo
echo "| predict | model | tool | single core MB/s | × C++ | $THREADS cores MB/s | × C++ | $THREADS cores / 1 | load s | peak RSS MB (one process) |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
# The bonepick-style model (b) trained by the C++ tool is read by both.
for model in "$LID" "$WORK/legal-cpp.bin"; do
	name=$(basename "$model")
	for tool in cpp winnow slim; do
		bin=$(binary $tool)
		load=$(best single_wall "$bin" "$model" "$WORK/empty.txt")
		wall=$(best single_wall "$bin" "$model" "$WEB")
		rss=$(cat "$WORK/rss")
		single=$(awk -v b="$BYTES" -v w="$wall" -v l="$load" 'BEGIN { printf "%.1f", b / 1048576 / (w - l) }')
		pload=$(best parallel "$bin" "$model" "$WORK"/empty.part.*)
		ptotal=$(best parallel "$bin" "$model" "$WORK"/web.part.*)
		multi=$(awk -v b="$BYTES" -v w="$ptotal" -v l="$pload" 'BEGIN { printf "%.1f", b / 1048576 / (w - l) }')
		if [ $tool = cpp ]; then
			cpp_single=$single cpp_multi=$multi
		fi
		echo "| predict-prob k=1 | $name | $tool | $single | $(ratio "$single" "$cpp_single") | $multi | $(ratio "$multi" "$cpp_multi") | $(ratio "$multi" "$single") | $load | $rss |"
	done
done
# The Go API: one goroutine, and one per core sharing the model.
echo
echo "Go API (go test -bench, MB/s; Parallel = $THREADS goroutines sharing one model):"
echo
echo '```'
for model in "$LID" "$WORK/legal-cpp.bin"; do
	for b in 'BenchmarkPredict$ -benchtime 2x' 'BenchmarkPredictParallel$ -benchtime 50000x'; do
		set -- $b
		FASTTEXT_BENCH_TEXT=$WEB FASTTEXT_BENCH_MODEL=$model GOMAXPROCS=$THREADS \
			go test -run '^$' -bench "$1" "$2" "$3" ./models/fasttext/ |
			awk -v m="$(basename "$model")" '/^Benchmark/ { print m ": " $0 }'
	done
done
echo '```'
echo
echo "corpus: $BYTES bytes of web text; threads: $THREADS; fastText C++ $(dpkg-query -W -f '${Version}' fasttext 2>/dev/null || echo unknown); winnow kernels: $(GOMAXPROCS=1 go test -run TestKernelSelection -v ./models/fasttext/ | awk '/in use/ { print $NF; exit }')"
bench/machine.sh
