#!/usr/bin/env bash
# bench/plugin/run.sh BUILD — `kubectl etcd status NAME` against
# `kubectl get etcdcluster NAME -o json` on the same test bed, side by side
# (alternating runs, medians and the 10th–90th percentile spread, the ratio
# per pair). BENCH_ROUNDS (40) sets the runs per command. Prints figures;
# never fails on speed, only when it cannot run. See bench/plugin/bench.py.
set -u
BUILD=${1:-${EO_BUILD:-build}}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "bench/plugin: build directory not found (make all)"; exit 1; }
for tool in kubectl python3; do
	command -v $tool >/dev/null || { echo "bench/plugin: $tool not found (scripts/install-deps.sh)"; exit 1; }
done
[ -x "$BUILD/kubectl-etcd" ] || { echo "bench/plugin: $BUILD/kubectl-etcd not built (make all)"; exit 1; }
exec python3 "$HERE/bench.py" "$BUILD"
