#!/usr/bin/env bash
# Prints the machine a benchmark ran on, for the record beside its figures:
# the CPU model, cores, the vector extensions winnow's kernels choose from
# (and the CPU's whole flags line), memory, kernel, transparent huge pages,
# GODEBUG (cpu.avx512f=off and the like select lesser kernels) and the load
# average at the time it runs. Run by the bench/*/run.sh scripts.
set -euo pipefail
model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
family=$(awk -F': ' '/^cpu family/ { f = $2 } /^model\t/ { m = $2 } /^stepping/ { s = $2; exit } END { printf "family %s model %s stepping %s", f, m, s }' /proc/cpuinfo)
flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | tr -s ' ' | sed 's/^ //')
simd=""
for f in sse4_2 avx avx2 fma avx512f avx512bw avx512vl; do
	[[ " $flags " == *" $f "* ]] && simd="$simd $f"
done
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
echo "machine: $model ($family), $(nproc) cores, $mem, $(uname -m), Linux $(uname -r)"
echo "vector extensions:${simd:- none} (GODEBUG=${GODEBUG:-})"
echo "transparent huge pages: $thp; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu flags: $flags"
