#!/usr/bin/env bash
# test/fuzz/run.sh — build the libFuzzer target over the webhook's request
# decoder and the admission rules (clang, -fsanitize=fuzzer,address,undefined)
# and run it for a bounded time on the corpus kept in test/fuzz/corpus.
# Exits non-zero when the target crashes, leaks, or breaks a promise.
#   FUZZ_SECONDS (default 30)   how long to run
#   EO_BUILD                     where to build (default /tmp); the binary goes in $EO_BUILD/fuzz
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${FUZZ_SECONDS:-30}
OUT=${EO_BUILD:-/tmp}/fuzz
mkdir -p "$OUT"
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (scripts/install-deps.sh installs clang)"; exit 1; }

# Only the files the target needs: the decoder, the rules and what they use
# (GnuTLS for the patch's base64, as in the webhook).
SRCS="test/fuzz/fuzz_review.c webhook/review.c shared/base/eo.c shared/base/json.c shared/base/log.c
      shared/base/term.c shared/api/cluster.c shared/api/cluster_pod.c shared/policy/policy.c
      shared/policy/policy_mutate.c shared/policy/policy_spec.c shared/policy/policy_space.c
      shared/policy/policy_validate.c shared/base/jsonpatch.c"
# shellcheck disable=SC2046,SC2086
"$CC" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Ishared/base -Ishared/api -Ishared/policy \
	$(pkg-config --cflags json-c gnutls) $SRCS -o "$OUT/fuzz_review" \
	$(pkg-config --libs json-c gnutls) -lm

# New inputs go to a scratch directory: the tree's corpus is only read.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$OUT"
echo "fuzz: running fuzz_review for ${SECS}s on $(ls "$ROOT/test/fuzz/corpus" | wc -l) seed inputs"
"$OUT/fuzz_review" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-dict="$ROOT/test/fuzz/admission.dict" -print_final_stats=1 \
	"$WORK" "$ROOT/test/fuzz/corpus"
