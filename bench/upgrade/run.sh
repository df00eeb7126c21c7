#!/usr/bin/env bash
# bench/upgrade/run.sh BUILD — a rolling upgrade's time per member and in all
# against the floor of a Pod made again, and the writer's longest gap
# (bench.py says how).
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
export EO_BUILD=$(cd "$BUILD" && pwd)
export PYTHONPATH=$ROOT/test${PYTHONPATH:+:$PYTHONPATH}
exec python3 bench/upgrade/bench.py
