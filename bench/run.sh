#!/usr/bin/env bash
# bench/run.sh BUILD — every benchmark of the project, one after the other.
# Benchmarks print figures and ratios; they never pass or fail on speed (the
# machines are shared and noisy). A part that is missing or that fails is
# reported and the rest still run; the exit status says whether all ran.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
export EO_BUILD=$(cd "$BUILD" && pwd)
# kubectl at the control plane's release, first on PATH
KUBECTL_DIR=$(scripts/kube-bins.sh --print 2>/dev/null | awk -F= '$1=="kubectl" {print $2}')
[ -n "$KUBECTL_DIR" ] && export PATH=$KUBECTL_DIR:$PATH
rc=0
for part in webhook controller plugin backup tls upgrade; do
	script=bench/$part/run.sh
	echo "==== bench: $part"
	if [ ! -x "$script" ]; then
		echo "bench/$part: not present in this version"
		rc=1
		continue
	fi
	"$script" "$EO_BUILD" || { echo "bench/$part: exited $?"; rc=1; }
	echo
done
exit $rc
