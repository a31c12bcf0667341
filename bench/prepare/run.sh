#!/usr/bin/env bash
# Transform benchmark: `winnow transform` through Beam on prism vs. a plain
# Go loop (bench/prepare/plainloop) doing the same work, on the same
# ≥200 MB corpus of real text in .jsonl.zst shards, in one run. Between the
# two, winnow's shard engine without Beam (bench/prepare/engineloop) splits
# the difference into what the engine changes and what Beam adds.
#
#   bench/prepare/run.sh [SIZE_MB] [RUNS]     (defaults: 240, 3)
#   COLD_BUILD=1 bench/prepare/run.sh          also times a cold build of cmd/winnow
#
# Ends with the machine the figures come from (bench/machine.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-240}
runs=${2:-3}
work=${WORK:-$(mktemp -d /tmp/winnow-bench-prepare.XXXX)}
bin=$work/bin
mkdir -p "$bin"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)"; exit 1; }

if [[ "${COLD_BUILD:-0}" == 1 ]]; then
  cache=$(mktemp -d)
  start=$(date +%s.%N)
  GOCACHE=$cache go build -o "$bin/winnow-cold" ./cmd/winnow
  end=$(date +%s.%N)
  printf 'cold build of cmd/winnow: %.0f s (empty GOCACHE, modules already downloaded)\n' "$(echo "$end - $start" | bc)"
  rm -rf "$cache"
fi
go build -o "$bin/winnow" ./cmd/winnow
go build -o "$bin/plainloop" ./bench/prepare/plainloop
go build -o "$bin/engineloop" ./bench/prepare/engineloop
go build -o "$bin/faultcost" ./bench/prepare/faultcost
go build -o "$bin/gencorpus" ./bench/prepare/gencorpus
printf 'binary size of cmd/winnow: %.1f MiB\n' "$(echo "$(stat -c %s "$bin/winnow") / 1048576" | bc -l)"

sources=(data/fineweb-edu-llama3-sample/train.jsonl.zst data/fineweb-edu-llama3-sample/valid.jsonl.zst)
for f in ../shared/data/web-text/*.jsonl; do [[ -e $f ]] && sources+=("$f"); done
corpus=$work/corpus
[[ -d $corpus ]] || "$bin/gencorpus" -o "$corpus" -size $((size_mb << 20)) -shards 24 "${sources[@]}"
in_bytes=$(for f in "$corpus"/*.jsonl.zst; do zstd -dc "$f"; done | wc -c)

text='{text: .text, id: .id}'
label='{score: (if (.scores.score // 0) < 3 then "neg" else "pos" end)}'

measure() { # name command...
  local name=$1; shift
  local log=$work/time.log
  rm -rf "$work/out"
  # Each run starts with the previous run's output written back, so that
  # its writeback does not take CPU from this one.
  sync
  /usr/bin/time -v "$@" >/dev/null 2>"$log"
  local wall user sys rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  user=$(grep "User time" "$log" | awk '{print $NF}')
  sys=$(grep "System time" "$log" | awk '{print $NF}')
  rss=$(grep "Maximum resident" "$log" | awk '{print $NF}')
  faults=$(grep "Minor (reclaiming a frame) page faults" "$log" | awk '{print $NF}')
  echo "$name $wall $user $sys $rss $faults"
}

results=$work/results.txt
: >"$results"
for i in $(seq "$runs"); do
  measure plain "$bin/plainloop" -i "$corpus" -o "$work/out" -text-transform "$text" -label-transform "$label" >>"$results"
  measure engine "$bin/engineloop" -i "$corpus" -o "$work/out" -text-transform "$text" -label-transform "$label" >>"$results"
  measure beam "$bin/winnow" transform -i "$corpus" -o "$work/out" -t "$text" -l "$label" >>"$results"
done

echo
printf 'corpus: %d shards, %.1f MB uncompressed (%.1f MB .jsonl.zst), %s runs each, %d cores\n' \
  "$(ls "$corpus"/*.jsonl.zst | wc -l)" "$(echo "$in_bytes/1000000" | bc -l)" \
  "$(echo "$(cat "$corpus"/*.jsonl.zst | wc -c)/1000000" | bc -l)" "$runs" "$(nproc)"
awk -v bytes="$in_bytes" '
  { n[$1]++; wall[$1]+=$2; cpu[$1]+=$3+$4; faults[$1]+=$6; if ($5>rss[$1]) rss[$1]=$5; if (!($1 in best) || $2<best[$1]) best[$1]=$2 }
  END {
    printf "%-28s %10s %10s %12s %10s %12s %12s\n", "pipeline", "wall s", "best s", "cores busy", "MB/s", "peak RSS MB", "page faults"
    split("plain engine beam", order, " ")
    name["plain"]="plain Go loop"; name["engine"]="shard engine, no Beam"; name["beam"]="winnow transform (prism)"
    for (i=1; i<=3; i++) { k=order[i]; w=wall[k]/n[k]
      printf "%-28s %10.2f %10.2f %12.2f %10.1f %12.0f %12.0f\n", name[k], w, best[k], cpu[k]/wall[k], bytes/1e6/w, rss[k]/1024, faults[k]/n[k] }
    printf "\nwall-time ratio beam/plain (mean): %.3f (engine/plain %.3f, beam/engine %.3f)\n",
      (wall["beam"]/n["beam"])/(wall["plain"]/n["plain"]), (wall["engine"]/n["engine"])/(wall["plain"]/n["plain"]),
      (wall["beam"]/n["beam"])/(wall["engine"]/n["engine"])
  }' "$results"
# Runs alternate plain, engine, beam: the ratio within each round, whose
# runs are seconds apart, is less exposed to the machine's drift than the
# means.
awk '$1 == "plain" { p = $2 } $1 == "beam" { printf "%.4f\n", $2 / p }' "$results" | sort -n |
  awk '{ r[NR] = $1 } END { printf "wall-time ratio beam/plain per pair: median %.3f, range %.3f-%.3f\n",
    (NR % 2) ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2, r[1], r[NR] }'
echo
"$bin/faultcost"
bench/machine.sh
