#!/usr/bin/env bash
# refilter.sh runs one scheduled, incremental re-filtering of a growing
# corpus: `winnow filter --incremental` reads only the input shards that the
# model version has not filtered yet, adds their outputs to the version's
# output directory and leaves everything else untouched. A run that dies is
# simply run again: completed shards are skipped, the rest redone.
#
# Configuration (environment):
#   WINNOW_INPUT       corpus directory or glob (local, gs://, s3://)   required
#   WINNOW_OUTPUT      output root; the run writes OUTPUT/<model>-<sha12>/ required
#   WINNOW_MODEL       model directory or fastText .bin/.ftz             required
#   WINNOW_SELECTION   selection flags (default: --int-threshold 3); not
#                      --keep-fraction, which is global and cannot be incremental
#   WINNOW_REJECTED    directory for dropped rows (optional)
#   WINNOW_EXTRA_ARGS  more winnow flags, e.g. "--parallelism 16 -t body"
#   WINNOW             the winnow executable (default: winnow on PATH)
#   WINNOW_LOCK        lock file that keeps runs from overlapping
#                      (default /tmp/winnow-refilter.lock; flock(1) is used
#                      when installed)
set -euo pipefail

: "${WINNOW_INPUT:?set WINNOW_INPUT to the corpus to filter}"
: "${WINNOW_OUTPUT:?set WINNOW_OUTPUT to the output root}"
: "${WINNOW_MODEL:?set WINNOW_MODEL to the model directory or file}"
winnow=${WINNOW:-winnow}
lock=${WINNOW_LOCK:-/tmp/winnow-refilter.lock}

if command -v flock >/dev/null; then
	exec 9>"$lock"
	if ! flock -n 9; then
		echo "$(date -u +%FT%TZ) refilter: the previous run still holds $lock; skipping this one" >&2
		exit 0
	fi
fi

args=(filter --incremental -i "$WINNOW_INPUT" -o "$WINNOW_OUTPUT" -m "$WINNOW_MODEL")
read -r -a selection <<<"${WINNOW_SELECTION:---int-threshold 3}"
args+=("${selection[@]}")
if [[ -n "${WINNOW_REJECTED:-}" ]]; then
	args+=(--rejected-dir "$WINNOW_REJECTED")
fi
if [[ -n "${WINNOW_EXTRA_ARGS:-}" ]]; then
	read -r -a extra <<<"$WINNOW_EXTRA_ARGS"
	args+=("${extra[@]}")
fi

echo "$(date -u +%FT%TZ) refilter: $winnow ${args[*]}"
"$winnow" "${args[@]}"
echo "$(date -u +%FT%TZ) refilter: done"
