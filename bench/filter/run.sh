#!/usr/bin/env bash
# Filter benchmark: `winnow score` and `winnow filter` end to end on 2 cores
# (prism, --parallelism 2) against, on the same texts in the same run,
#   - Debian's fastText CLI (`fasttext predict-prob`, single-threaded C++),
#   - the classifier alone (models.Classifier on texts held in memory, 2 goroutines),
#   - the floor: decompression, JSON validation and locating the text (2 goroutines),
# for two fastText models trained here on the bundled FineWeb-Edu sample
# (binary: score >= 3 is pos): dim 100 / wordNgrams 2, and bonepick's
# dim 256 / wordNgrams 3 / 2M buckets. The corpus repeats real documents
# (the bundled FineWeb-Edu sample and ../shared/data's web-text and legal
# pages) into .jsonl.zst shards; peak memory is also taken over half of it.
#
#   bench/filter/run.sh [SIZE_MB] [RUNS]       (defaults: 240, 1; the best run counts)
#   WORK=/tmp/dir bench/filter/run.sh          reuse a work directory (corpus, models)
#
# Needs Go, zstd, Debian's fasttext and /usr/bin/time (Debian package time).
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-240}
runs=${2:-1}
work=${WORK:-$(mktemp -d /tmp/winnow-bench-filter.XXXX)}
bin=$work/bin
mkdir -p "$bin"
for tool in /usr/bin/time fasttext zstd; do
	command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done

go build -o "$bin/winnow" ./cmd/winnow
go build -o "$bin/filterbench" ./bench/filter/filterbench
go build -o "$bin/gencorpus" ./bench/prepare/gencorpus

shared=${WINNOW_SHARED_DATA:-../shared/data}
sources=(data/fineweb-edu-llama3-sample/train.jsonl.zst data/fineweb-edu-llama3-sample/valid.jsonl.zst)
for f in "$shared"/web-text/*.jsonl "$shared"/fineweb-legal-annotations/parquet/*.parquet; do
	[[ -e $f ]] && sources+=("$f")
done
corpus=$work/corpus
if [[ ! -d $corpus ]]; then
	"$bin/gencorpus" -o "$corpus" -size $((size_mb << 20)) -shards 24 "${sources[@]}"
fi
half=$work/half
if [[ ! -d $half ]]; then
	mkdir -p "$half"
	for f in $(ls "$corpus"/*.jsonl.zst | head -12); do ln -s "$f" "$half/"; done
fi
texts=$work/texts.txt
[[ -s $texts ]] || "$bin/filterbench" texts -o "$texts" "$corpus"/*.jsonl.zst

train=$work/train.txt
[[ -s $train ]] || "$bin/filterbench" trainset -o "$train" data/fineweb-edu-llama3-sample/*.jsonl.zst
if [[ ! -s $work/ft100.bin ]]; then
	"$bin/winnow" fasttext supervised -input "$train" -output "$work/ft100" -dim 100 -wordNgrams 2 -epoch 5 -thread 2 -verbose 0
fi
if [[ ! -s $work/ft256.bin ]]; then
	"$bin/winnow" fasttext supervised -input "$train" -output "$work/ft256" -dim 256 -wordNgrams 3 -bucket 2000000 \
		-minCount 5 -epoch 3 -thread 2 -verbose 0
fi

results=$work/results.txt
: >"$results"
# measure NAME MODEL COMMAND...: one run under /usr/bin/time -v; records
# wall seconds and peak RSS, plus the classify/load lines filterbench prints.
measure() {
	local name=$1 model=$2
	shift 2
	rm -rf "$work/out"
	/usr/bin/time -v "$@" >"$work/stdout" 2>"$work/time.log"
	local wall cpu rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2, t, ":"); s=0; for (i=1; i<=n; i++) s=s*60+t[i]; print s}' "$work/time.log")
	cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ {s+=$2} END {print s}' "$work/time.log")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.log")
	echo "$name $model wall $wall $rss $cpu" >>"$results"
	awk -v n="$name" -v m="$model" '$1=="classify" || $1=="load" {print n, m, $1, $4, 0}' "$work/stdout" >>"$results"
}

for i in $(seq "$runs"); do
	measure floor - "$bin/filterbench" floor -workers 2 "$corpus"/*.jsonl.zst
	for model in ft100 ft256; do
		m=$work/$model.bin
		measure fasttext-cli "$model" fasttext predict-prob "$m" "$texts" 1
		measure classifier "$model" "$bin/filterbench" classify -m "$m" -workers 2 "$texts"
		measure score "$model" "$bin/winnow" score -i "$corpus" -o "$work/out" -m "$m" --parallelism 2
		measure filter "$model" "$bin/winnow" filter -i "$corpus" -o "$work/out" -m "$m" --parallelism 2 --threshold 0.5 --rejected-dir "$work/out-rejected"
		measure fraction "$model" "$bin/winnow" filter -i "$corpus" -o "$work/out" -m "$m" --parallelism 2 --keep-fraction 0.1
		measure score-half "$model" "$bin/winnow" score -i "$half" -o "$work/out" -m "$m" --parallelism 2
		rm -rf "$work/out-rejected"
	done
done

docs=$(wc -l <"$texts")
text_bytes=$(stat -c %s "$texts")
json_bytes=$(for f in "$corpus"/*.jsonl.zst; do zstd -dc "$f"; done | wc -c)
zst_bytes=$(cat "$corpus"/*.jsonl.zst | wc -c)
echo
printf 'corpus: %d shards, %d documents, %.1f MB of JSON (%.1f MB .jsonl.zst), %.1f MB of text; %d cores; best of %d runs\n' \
	"$(ls "$corpus"/*.jsonl.zst | wc -l)" "$docs" "$(echo "$json_bytes/1000000" | bc -l)" \
	"$(echo "$zst_bytes/1000000" | bc -l)" "$(echo "$text_bytes/1000000" | bc -l)" "$(nproc)" "$runs"
awk -v docs="$docs" -v text="$text_bytes" '
	function best(k, v) { if (!(k in b) || v < b[k]) b[k] = v }
	$3 == "wall" { k = $1 " " $2; if (!(k in b) || $4 < b[k]) cpu[k] = $6; best(k, $4); if ($5 > rss[k]) rss[k] = $5 }
	$3 == "classify" { best("classify-compute " $2, $4) }
	$3 == "load" { best("load " $2, $4) }
	function row(label, k, secs) {
		printf "%-44s %9.2f %8s %10.0f %10.1f %8s\n", label, secs, (k in cpu) ? sprintf("%.2f", cpu[k]) : "-", docs/secs, text/1e6/secs, (k in rss) ? sprintf("%.0f", rss[k]/1024) : "-"
	}
	END {
		printf "%-44s %9s %8s %10s %10s %8s\n", "measurement (2 cores unless noted)", "wall s", "cpu s", "docs/s", "text MB/s", "RSS MB"
		row("floor: decompress + validate + find text", "floor -", b["floor -"])
		for (mi = 1; mi <= 2; mi++) {
			m = (mi == 1) ? "ft100" : "ft256"
			printf "-- %s (%s)\n", m, (m == "ft100") ? "dim 100, wordNgrams 2, 2M buckets" : "dim 256, wordNgrams 3, 2M buckets"
			row("fasttext predict-prob (C++, 1 thread)", "fasttext-cli " m, b["fasttext-cli " m])
			row("classifier alone, incl. model load", "classifier " m, b["classifier " m])
			row("classifier alone, compute only", "x", b["classify-compute " m])
			row("winnow score, end to end", "score " m, b["score " m])
			row("winnow filter --threshold 0.5 --rejected-dir", "filter " m, b["filter " m])
			row("winnow filter --keep-fraction 0.1", "fraction " m, b["fraction " m])
			row("winnow score over half the corpus", "score-half " m, b["score-half " m])
			printf "   model load %.2f s; score vs fastText CLI: %.2fx; score over classifier alone (with load): %+.1f%%\n",
				b["load " m], b["fasttext-cli " m] / b["score " m], 100 * (b["score " m] / b["classifier " m] - 1)
		}
	}' "$results"
echo "(raw measurements: $results)"
