#!/usr/bin/env bash
# bench/controller/run.sh BUILD — the controller's benchmark (see bench.py):
# per-step time and write unavailability while scaling 1 → 5 with ~50 MB in
# etcd, learner first (this controller) against voter first (the old order)
# in the same run, and the controller's RSS managing 50 clusters.
# Figures only; never fails on speed. BENCH_DATA_MB, BENCH_TOP and
# BENCH_CLUSTERS shrink it for a quick look.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export EO_BUILD=$(cd "$BUILD" && pwd)
for b in etcd-controller; do
	[ -x "$EO_BUILD/$b" ] || { echo "bench/controller: $EO_BUILD/$b is not built (make all)"; exit 1; }
done
exec python3 "$ROOT/bench/controller/bench.py"
