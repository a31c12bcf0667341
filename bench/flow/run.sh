#!/usr/bin/env bash
# bench/flow/run.sh: the bundled flow's wall time per step and in total
# against the same work done by the commands one by one, and a second flow
# run with nothing changed. Run from the repository's root:
#   bench/flow/run.sh            (builds ./winnow first)
# It prints a table; numbers depend on the machine and its load.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o winnow ./cmd/winnow
work=$(mktemp -d /tmp/winnow-bench-flow.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# The flow, cold, then again with nothing changed.
t0=$(now)
./winnow run -q -w "$work/flow" >/dev/null
t1=$(now)
./winnow run -q -w "$work/flow" >/dev/null
t2=$(now)
flow=$(secs "$t0" "$t1"); again=$(secs "$t1" "$t2")

# The same steps as commands.
c="$work/cmds"
declare -A step
run() { local name=$1; shift; local s; s=$(now); "$@" >/dev/null 2>&1; step[$name]=$(secs "$s" "$(now)"); }
s0=$(now)
run label ./winnow transform -i data/fineweb-edu-llama3-sample -o "$c/label" \
  --text-transform '{text: (.text)}' --label-transform '{score: ((.scores.score) | (if . >= 3 then "pos" else "neg" end))}'
run split ./winnow reshard -i "$c/label" -o "$c/split" -n 4 --test-split 0.2 --seed 42
run fasttext-data-plsfix ./winnow to-fasttext -i "$c/split" -o "$c/ft" -n plsfix
run train-fasttext bash -c "./winnow train-fasttext -d $c/ft -o $c/model-ft --dimension 64 --epoch 25 --learning-rate 1 --word-ngrams 2 --min-count 1 --bucket 500000 --thread 1 --seed 42 --verbose 0 && ./winnow eval -d $c/split -m $c/model-ft"
run train-model2vec bash -c "./winnow train-model2vec -d $c/split -o $c/model-m2v --from-scratch --tokenizer data/tokenizers/bert-base-uncased/tokenizer.json --dim 32 --loss-class-weight balanced --max-epochs 10 --seed 42 && ./winnow eval -d $c/split -m $c/model-m2v"
run filter ./winnow filter -i data/fineweb-edu-llama3-sample -o "$c/filtered" -m "$c/model-ft" --keep-fraction 0.1
cmds=$(secs "$s0" "$(now)")

printf '%-22s %10s %10s\n' step "flow s" "commands s"
for name in label split fasttext-data-plsfix train-fasttext train-model2vec select filter; do
  f=$(jq -r --arg n "$name" '.steps[] | select(.name == $n) | .record.seconds // empty' "$work/flow/report.json")
  printf '%-22s %10.2f %10s\n' "$name" "${f:-0}" "${step[$name]:--}"
done
printf '%-22s %10.2f %10.2f\n' total "$flow" "$cmds"
printf '%-22s %10.2f\n' "second run (nothing changed)" "$again"
