#!/usr/bin/env bash
# bench/tls/run.sh BUILD — write throughput and latency through the client
# Service with peer and client TLS against without (bench.py says how).
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
export EO_BUILD=$(cd "$BUILD" && pwd)
export PYTHONPATH=$ROOT/test${PYTHONPATH:+:$PYTHONPATH}
exec python3 bench/tls/bench.py
