#!/bin/sh
# The one place that knows Debian package names. Brings a fresh Debian
# bookworm machine (run as root) everything the build, the tests, the
# benchmarks and the demo need. Idempotent and quick when all is present:
# it asks dpkg first and only calls apt-get for what is missing.
set -eu

PACKAGES="
build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libssl-dev libyaml-dev libcmocka-dev
python3 util-linux procps iproute2 ca-certificates openssl curl
valgrind
umoci
git
"
# umoci: test/integration/test_image.py reads the image `make image` writes
# (scripts/image.py) with it, an OCI tool independent of the writer.
# git: the version of everything built is `git describe` (scripts/version.sh)
# and the image's timestamp the commit's; a machine that fetched the tree
# without git builds 0.0.0-unknown.
# Only the benchmarks need these (the Go peer webhook and the load generator).
BENCH_PACKAGES="golang-go wrk"

want="$PACKAGES"
[ "${1:-}" = "--bench" ] && want="$want $BENCH_PACKAGES"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

# kubectl: none from Debian (its 1.20 is far outside kubectl's one-minor skew
# from the 1.37 control plane); kube-bins.sh below builds kubectl 1.37.2, which
# the tests and the demo put first on PATH.

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages:$missing" >&2
		echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The real control plane and etcd 3.5/3.6/3.7, built from Go modules into a
# cache outside the repository (the first time only; progress on stderr).
"$(dirname "$0")/kube-bins.sh" >/dev/null
echo "install-deps: all present"
