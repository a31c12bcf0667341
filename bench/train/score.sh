#!/usr/bin/env bash
# Scoring speed of the train stage's model kinds in `winnow score`, side by
# side in one run on the same corpus: a Model2Vec classifier (trained from
# scratch over bert-base-uncased's tokenizer, dim 256 like potion-base: the
# scoring cost depends on the tokenizer and the dimension, not on the weights)
# against a fastText classifier (dim 100, wordNgrams 2), both trained here on
# the bundled FineWeb-Edu rows binarized at score >= 3. Each model scores the
# corpus with --parallelism 1 and 2; the table gives wall and CPU seconds,
# MB/s of text (per core: on one worker, and per CPU-second), and peak RSS;
# the training runs' time and peak RSS come first.
#
#   bench/train/score.sh [SIZE_MB] [RUNS]    (defaults: 120, 1; the best run counts)
#   WORK=/tmp/dir bench/train/score.sh       reuse a work directory (corpus, models)
#
# Needs Go, zstd, jq and /usr/bin/time (Debian package time); the corpus
# repeats real documents from the bundled sample and, when present,
# ../shared/data's web-text and legal pages.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-120}
runs=${2:-1}
work=${WORK:-$(mktemp -d /tmp/winnow-bench-score.XXXX)}
bin=$work/bin
mkdir -p "$bin"
for tool in /usr/bin/time zstd jq; do
	command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done
bench/machine.sh 2>/dev/null || true

go build -o "$bin/winnow" ./cmd/winnow
go build -o "$bin/filterbench" ./bench/filter/filterbench
go build -o "$bin/gencorpus" ./bench/prepare/gencorpus
W=$bin/winnow

shared=${WINNOW_SHARED_DATA:-../shared/data}
sources=(data/fineweb-edu-llama3-sample/train.jsonl.zst data/fineweb-edu-llama3-sample/valid.jsonl.zst)
for f in "$shared"/web-text/*.jsonl "$shared"/fineweb-legal-annotations/parquet/*.parquet; do
	[[ -e $f ]] && sources+=("$f")
done
corpus=$work/corpus
[[ -d $corpus ]] || "$bin/gencorpus" -o "$corpus" -size $((size_mb << 20)) -shards 8 "${sources[@]}"
texts=$work/texts.txt
[[ -s $texts ]] || "$bin/filterbench" texts -o "$texts" "$corpus"/*.jsonl.zst

results=$work/results.txt
: >"$results"
# measure NAME COMMAND...: one run under /usr/bin/time -v, recording
# "NAME wall cpu rss_kb".
measure() {
	local name=$1
	shift
	/usr/bin/time -v "$@" >"$work/stdout" 2>"$work/time.log" || { cat "$work/stdout" "$work/time.log"; exit 1; }
	awk -v n="$name" -F': ' '
		/Elapsed \(wall clock\)/ { k = split($2, t, ":"); for (i = 1; i <= k; i++) w = w * 60 + t[i] }
		/(User|System) time \(seconds\)/ { c += $2 }
		/Maximum resident set size/ { r = $2 }
		END { print n, w, c, r }' "$work/time.log" >>"$results"
}

# Training data: the bundled rows, binarized.
ds=$work/edu
if [[ ! -e $ds/_manifest.json ]]; then
	"$W" import -i data/fineweb-edu-llama3-sample -o "$work/imported" --test-split 0.1 >/dev/null
	"$W" transform -i "$work/imported" -o "$ds" \
		--label-transform '{label: (if .scores.score >= 3 then "pos" else "neg" end)}' >/dev/null
fi
train=$work/train.txt
[[ -s $train ]] || "$bin/filterbench" trainset -o "$train" data/fineweb-edu-llama3-sample/*.jsonl.zst
rm -rf "$work/ft100.bin" "$work/m2v" "$work/m2v.features"
measure "train fastText" "$W" fasttext supervised -input "$train" -output "$work/ft100" -dim 100 -wordNgrams 2 -epoch 5 -thread 2 -verbose 0
measure "train Model2Vec" "$W" train-model2vec -d "$ds" -l label -n potion --from-scratch \
	--tokenizer data/tokenizers/bert-base-uncased/tokenizer.json --dim 256 --max-epochs 3 -o "$work/m2v"

for i in $(seq "$runs"); do
	for p in 1 2; do
		rm -rf "$work/out"
		measure "score fastText p$p" "$W" score -i "$corpus" -o "$work/out" -m "$work/ft100.bin" --parallelism "$p"
		rm -rf "$work/out"
		measure "score Model2Vec p$p" "$W" score -i "$corpus" -o "$work/out" -m "$work/m2v" --parallelism "$p"
	done
done

text_bytes=$(stat -c %s "$texts")
echo
printf 'corpus: %d shards, %d documents, %.1f MB of text; %d cores; best of %d runs\n' \
	"$(ls "$corpus"/*.jsonl.zst | wc -l)" "$(wc -l <"$texts")" "$(echo "$text_bytes/1000000" | bc -l)" "$(nproc)" "$runs"
awk -v text="$text_bytes" '
	{ n = $1; for (i = 2; i < NF - 2; i++) n = n " " $i; w = $(NF-2); c = $(NF-1); r = $NF
	  if (!(n in wall) || w < wall[n]) { wall[n] = w; cpu[n] = c }
	  if (r > rss[n]) rss[n] = r
	  if (!(n in seen)) { seen[n] = 1; order[++k] = n } }
	END {
		printf "%-24s %8s %8s %12s %14s %8s\n", "measurement", "wall s", "cpu s", "text MB/s", "MB/s per cpu-s", "RSS MB"
		for (i = 1; i <= k; i++) {
			n = order[i]
			if (n ~ /^train/) printf "%-24s %8.2f %8.2f %12s %14s %8.0f\n", n, wall[n], cpu[n], "-", "-", rss[n] / 1024
			else printf "%-24s %8.2f %8.2f %12.1f %14.1f %8.0f\n", n, wall[n], cpu[n], text / 1e6 / wall[n], text / 1e6 / cpu[n], rss[n] / 1024
		}
	}' "$results"
echo "(raw measurements: $results)"
