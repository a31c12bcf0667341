#!/usr/bin/env bash
# Train-stage quality: fastText, Model2Vec (--from-scratch, bert-base-uncased's
# tokenizer) and contrastive ranking trained on the same train split and
# evaluated by `winnow eval` on the same test split, per dataset:
#
#   edu    the bundled FineWeb-Edu rows (2,000; Llama-3 scores 0-5), binarized
#          at score >= 3 (8% positive);
#   legal  ../shared/data's FineWeb legal annotations (6,500 rows, about 2,800
#          distinct pages: one row per text is kept), binarized at score >= 3.
#
# Every dataset is pooled, shuffled and re-split 70/10/20 (train/valid/test,
# seed 42). fastText gets to-fasttext's ultrafine normalization with the same
# tokenizer and bonepick-style arguments for small data; Model2Vec and the
# contrastive ranker get the potion normalizer. The contrastive ranker ranks
# the from-scratch Model2Vec model's pooled embeddings by the 0-5 score; its
# decision threshold is the best F1 on the valid split. Then the frozen and
# fine-tuned modes are compared on one base model: the Model2Vec table trained
# from scratch on the *other* dataset.
#
#   bench/train/run.sh [edu|legal|all]          (default all; legal needs ../shared/data)
#   WORK=/tmp/dir bench/train/run.sh            keep the work directory
#
# Prints one table row per model: test macro-F1, positive-class F1, ROC AUC,
# training seconds and peak RSS of training (from /usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
which=${1:-all}
work=${WORK:-$(mktemp -d /tmp/winnow-bench-train.XXXX)}
mkdir -p "$work"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)"; exit 1; }
command -v jq >/dev/null || { echo "needs jq"; exit 1; }
go build -o "$work/winnow" ./cmd/winnow
W=$work/winnow
tok=data/tokenizers/bert-base-uncased/tokenizer.json
shared=${WINNOW_SHARED_DATA:-../shared/data}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; flags: $(grep -m1 -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "date: $(date -u +%F), go: $(go version | cut -d' ' -f3)"

# prepare NAME INPUT: pool, (dedupe by id), re-split, binarize.
prepare() {
	local name=$1 input=$2 d=$work/$1
	[[ -e $d/bin/_manifest.json ]] && return
	mkdir -p "$d"
	"$W" import -i "$input" -o "$d/imported" --test-split 0.2 >/dev/null
	# One row per text (the legal set has re-annotated pages), in a fixed order.
	mkdir -p "$d/unique"
	for f in $(find "$d/imported" -name '*.jsonl.zst' | sort); do zstd -dcq "$f"; done |
		jq -c -s 'unique_by(.text) | .[]' | zstd -q -o "$d/unique/rows.jsonl.zst"
	"$W" reshard -i "$d/unique" -o "$d/split" -n 4 --test-split 0.2 --valid-split 0.1 --seed 42 >/dev/null
	"$W" transform -i "$d/split" -o "$d/bin" \
		--label-transform "{score: $3, label: (if $3 >= 3 then \"pos\" else \"neg\" end)}" >/dev/null
	"$W" to-fasttext -i "$d/bin" -o "$d/ft" -l label -n ultrafine --tokenizer "$tok" >/dev/null
}

# timed LOG CMD...: runs CMD, appends "seconds peak_kb" to LOG.
timed() {
	local log=$1
	shift
	/usr/bin/time -f '%e %M' -o "$log.time" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
}

row() { # row DATASET MODEL MODEL_DIR RESULTS_JSON TIMEFILE
	local res=$4
	read -r secs kb <"$5"
	jq -r --arg ds "$1" --arg m "$2" --arg s "$secs" --arg mb "$((kb / 1024))" '
		.splits[] | select(.split == "test") |
		[$ds, $m, (.report.macro_avg.f1 | . * 1000 | round / 1000),
		 ((.report.classes[] | select(.label == "pos") | .f1) | . * 1000 | round / 1000),
		 ((.report.auc // .ranking.auc // 0) | . * 1000 | round / 1000), $s, $mb] | @tsv' "$res"
}

evaluate() { # evaluate NAME MODEL_DIR LABEL [extra flags]: prints the results file
	local d=$work/$1 m=$2 l=$3
	shift 3
	"$W" eval -d "$d/bin" -m "$m" -l "$l" "$@" 2>/dev/null | sed -n 's/^results saved to //p'
}

run() { # run NAME BASE_FOR_FROZEN
	local name=$1 d=$work/$1
	timed "$d/ft.log" "$W" train-fasttext -d "$d/ft" -o "$d/m-ft" --dimension 64 --epoch 25 --learning-rate 0.5 \
		--word-ngrams 2 --min-count 1 --bucket 200000 --thread 1 --verbose 0
	row "$name" "fastText (dim 64, 25 epochs, 1 thread)" "$d/m-ft" "$(evaluate "$name" "$d/m-ft" label)" "$d/ft.log.time"

	timed "$d/m2v.log" "$W" train-model2vec -d "$d/bin" -l label -n potion --from-scratch --tokenizer "$tok" --dim 64 \
		--loss-class-weight balanced --max-epochs 30 -o "$d/m-m2v"
	row "$name" "Model2Vec from scratch (dim 64)" "$d/m-m2v" "$(evaluate "$name" "$d/m-m2v" label)" "$d/m2v.log.time"

	timed "$d/rank.log" "$W" train-contrastive -d "$d/bin" -l score -n potion -m "$d/m-m2v/embeddings" \
		--n-clusters 20 --max-epochs 30 -o "$d/m-rank"
	row "$name" "contrastive (on the Model2Vec table)" "$d/m-rank" "$(evaluate "$name" "$d/m-rank" score --positive-from 3)" "$d/rank.log.time"

	[[ -z $2 ]] || base_modes "$name" "$2"
}

base_modes() { # base_modes NAME BASE: the frozen and fine-tuned modes on one base model
	local name=$1 d=$work/$1
	timed "$d/frozen.log" "$W" train-model2vec -d "$d/bin" -l label -n potion -m "$2" \
		--loss-class-weight balanced --max-epochs 30 -o "$d/m-frozen"
	row "$name" "Model2Vec frozen, base: the other set's table" "$d/m-frozen" "$(evaluate "$name" "$d/m-frozen" label)" "$d/frozen.log.time"
	timed "$d/tuned.log" "$W" train-model2vec -d "$d/bin" -l label -n potion -m "$2" --finetune-embeddings \
		--loss-class-weight balanced --max-epochs 30 -o "$d/m-tuned"
	row "$name" "Model2Vec fine-tuned, same base" "$d/m-tuned" "$(evaluate "$name" "$d/m-tuned" label)" "$d/tuned.log.time"
}

sets=()
if [[ $which == edu || $which == all ]]; then
	prepare edu data/fineweb-edu-llama3-sample .scores.score
	sets+=(edu)
fi
if [[ $which == legal || $which == all ]]; then
	if [[ -d $shared/fineweb-legal-annotations/parquet ]]; then
		prepare legal "$shared/fineweb-legal-annotations/parquet" .score
		sets+=(legal)
	else
		echo "skipping legal: $shared/fineweb-legal-annotations/parquet is absent"
	fi
fi

printf '\n%s\t%s\t%s\t%s\t%s\t%s\t%s\n' dataset model "test macro-F1" "test pos F1" "test AUC" "train s" "train peak MB"
for s in "${sets[@]}"; do
	other=""
	for o in "${sets[@]}"; do
		[[ $o != "$s" && -d $work/$o/m-m2v/embeddings ]] && other=$work/$o/m-m2v/embeddings
	done
	run "$s" "$other"
done
# The first set had no other set's table yet: run its base-model comparison now.
if [[ ${#sets[@]} -gt 1 ]]; then
	base_modes "${sets[0]}" "$work/${sets[1]}/m-m2v/embeddings"
fi
echo "work directory: $work"
