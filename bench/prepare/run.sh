#!/usr/bin/env bash
# Transform benchmark: `winnow transform` through Beam on prism vs. a plain
# Go loop (bench/prepare/plainloop) doing the same work, on the same
# ≥200 MB corpus of real text in .jsonl.zst shards, in one run. Between the
# two, winnow's shard engine without Beam (bench/prepare/engineloop) splits
# the difference into what the engine changes and what Beam adds; the plain
# loop with winnow's huge-page heap, and winnow without it, tell what the
# huge pages give.
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
# The pipelines, all doing the same work. winnow puts its heap on
# transparent huge pages where the kernel hands them out on request
# (internal/hugeheap); the plain loop runs both without and with that, and
# winnow once with it turned off, so that what the huge pages give is told
# apart from what Beam costs. The engine loop stands for winnow without
# Beam, so it takes the huge pages as winnow does.
names=(plain plainhuge engine beam4k beam)
run_one() {
  case $1 in
  plain) measure plain "$bin/plainloop" -i "$corpus" -o "$work/out" -text-transform "$text" -label-transform "$label" ;;
  plainhuge) measure plainhuge "$bin/plainloop" -huge-heap -i "$corpus" -o "$work/out" -text-transform "$text" -label-transform "$label" ;;
  engine) measure engine "$bin/engineloop" -huge-heap -i "$corpus" -o "$work/out" -text-transform "$text" -label-transform "$label" ;;
  beam4k) measure beam4k env GODEBUG=disablethp=1 "$bin/winnow" transform -i "$corpus" -o "$work/out" -t "$text" -l "$label" ;;
  beam) measure beam "$bin/winnow" transform -i "$corpus" -o "$work/out" -t "$text" -l "$label" ;;
  esac
}
# Each round runs the pipelines in another order (a fixed shuffle per
# round): a run faults in memory that the run before it freed faster than
# memory the kernel has had back for a while (huge pages most of all), so
# no pipeline may always follow the same one.
for i in $(seq "$runs"); do
  for k in $(for n in "${names[@]}"; do echo "$(echo "$i $n" | md5sum | cut -c1-8) $n"; done | sort | cut -d' ' -f2); do
    echo "$i $(run_one "$k")" >>"$results"
  done
done
echo
printf 'corpus: %d shards, %.1f MB uncompressed (%.1f MB .jsonl.zst), %s runs each, %d cores\n' \
  "$(ls "$corpus"/*.jsonl.zst | wc -l)" "$(echo "$in_bytes/1000000" | bc -l)" \
  "$(echo "$(cat "$corpus"/*.jsonl.zst | wc -c)/1000000" | bc -l)" "$runs" "$(nproc)"
awk -v bytes="$in_bytes" '
  { k = $2; n[k]++; wall[k]+=$3; cpu[k]+=$4+$5; faults[k]+=$7; if ($6>rss[k]) rss[k]=$6; if (!(k in best) || $3<best[k]) best[k]=$3 }
  END {
    printf "%-40s %8s %8s %11s %8s %12s %12s\n", "pipeline", "wall s", "best s", "cores busy", "MB/s", "peak RSS MB", "page faults"
    split("plain plainhuge engine beam4k beam", order, " ")
    name["plain"]="plain Go loop"; name["plainhuge"]="plain Go loop, huge-page heap"
    name["engine"]="shard engine, no Beam, huge-page heap"; name["beam4k"]="winnow transform, GODEBUG=disablethp=1"
    name["beam"]="winnow transform (prism)"
    for (i=1; i<=5; i++) { k=order[i]; w[k]=wall[k]/n[k]
      printf "%-40s %8.2f %8.2f %11.2f %8.1f %12.0f %12.0f\n", name[k], w[k], best[k], cpu[k]/wall[k], bytes/1e6/w[k], rss[k]/1024, faults[k]/n[k] }
    printf "\nwall-time ratio beam/plain (mean): %.3f\n", w["beam"]/w["plain"]
    printf "  without huge pages on either side: %.3f (winnow with disablethp=1 / plain loop)\n", w["beam4k"]/w["plain"]
    printf "  with huge pages on both sides: %.3f (winnow / plain loop with them)\n", w["beam"]/w["plainhuge"]
    printf "  engine/plain, both on huge pages: %.3f; beam/engine: %.3f\n", w["engine"]/w["plainhuge"], w["beam"]/w["engine"]
  }' "$results"
# The ratio within each round, whose runs are seconds apart, is less
# exposed to the machine's drift than the means.
awk '$2 == "plain" { p[$1] = $3 } $2 == "beam" { b[$1] = $3 } END { for (r in b) if (r in p) printf "%.4f\n", b[r] / p[r] }' "$results" | sort -n |
  awk '{ r[NR] = $1 } END { printf "wall-time ratio beam/plain per round: median %.3f, range %.3f-%.3f\n",
    (NR % 2) ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2, r[1], r[NR] }'
echo
"$bin/faultcost"
bench/machine.sh
