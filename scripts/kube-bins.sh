#!/usr/bin/env bash
# Builds the real control plane the test bed runs on, from Go modules, into a
# cache outside the repository:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (test/kubebins)
#   kubectl at the same release                              (test/kubectlbin)
#   etcd, etcdctl, etcdutl for each etcd release             (test/etcdbins/v*)
#   helm, for the chart's lint and install test               (test/helmbin)
# Each set lands in $CACHE/<name>-<version>-<hash of go.mod+go.sum>/, so a
# change of pinned version builds anew and anything already built is reused.
# Prints the directory of each set as NAME=DIR lines on stdout (the bed reads
# them); progress goes to stderr.
#
#   scripts/kube-bins.sh            build what is missing, print the paths
#   scripts/kube-bins.sh --print    print the paths only (fails if unbuilt)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH=/usr/local/go/bin:$PATH
export GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local
CACHE=${ETCDOP_CACHE:-$HOME/.cache/etcd-k8s-operator}
mode=${1:-build}

say() { printf 'kube-bins: %s\n' "$*" >&2; }

# key DIR → short hash of the module files, so a new pin gets a new directory
key() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-12; }

# build_set NAME VERSION MODDIR LDFLAGS PKG:OUT...
build_set() {
	local name=$1 version=$2 dir=$3 ldflags=$4
	shift 4
	local out="$CACHE/$name-$version-$(key "$dir")"
	echo "$name=$out"
	[ -f "$out/.complete" ] && return 0
	[ "$mode" = --print ] && { say "$name $version is not built; run scripts/kube-bins.sh"; return 1; }
	command -v go >/dev/null || { say "go not found (expected at /usr/local/go/bin)"; return 1; }
	mkdir -p "$out.tmp"
	say "building $name $version into $out (first time only; several minutes on 2 cores)"
	local t0=$SECONDS spec pkg bin
	(cd "$dir" && go mod download) >&2
	for spec in "$@"; do
		pkg=${spec%%:*} bin=${spec##*:}
		say "  go build $bin ($((SECONDS - t0)) s so far)"
		# -v lists each package as it compiles: the progress a cold build shows
		(cd "$dir" && go build -v -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/$bin" "$pkg") 2>&1 \
			| awk -v b="$bin" '{n++; if (n % 200 == 0) printf "kube-bins:   %s: %d packages compiled\n", b, n > "/dev/stderr"} /^#|: |cannot /{print > "/dev/stderr"}'
		[ -x "$out.tmp/$bin" ] || { say "build of $bin failed"; return 1; }
	done
	rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.complete"
	say "$name $version built in $((SECONDS - t0)) s ($(du -sh "$out" | cut -f1))"
}

# the pinned release, from go.mod's require line (inside a block or not)
kver=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print substr($2,2)} $2=="k8s.io/kubernetes" && $3 ~ /^v/ {print substr($3,2)}' test/kubebins/go.mod | head -1)
[ -n "$kver" ] || { say "no k8s.io/kubernetes version in test/kubebins/go.mod"; exit 1; }
kminor=${kver#*.}; kminor=${kminor%%.*}
kflags="-X k8s.io/component-base/version.gitVersion=v$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor -X k8s.io/component-base/version.gitTreeState=clean"
build_set kube "$kver" test/kubebins "$kflags" \
	./cmd/kube-apiserver:kube-apiserver ./cmd/kube-controller-manager:kube-controller-manager \
	./cmd/kube-scheduler:kube-scheduler

# kubectl at the same release (test/kubectlbin): the tests, the demo and the
# benchmarks put it first on PATH, since kubectl supports one minor version of
# skew and the machine's own may be far older (Debian's is 1.20)
build_set kubectl "$kver" test/kubectlbin "$kflags" .:kubectl

for d in test/etcdbins/v*; do
	v=${d##*/v}
	build_set "etcd" "$v" "$d" "" \
		go.etcd.io/etcd/server/v3:etcd go.etcd.io/etcd/etcdctl/v3:etcdctl go.etcd.io/etcd/etcdutl/v3:etcdutl
done

# The S3-compatible server the backup tests write to: SeaweedFS (Apache-2.0;
# MinIO's server is AGPL), its `weed` binary with `weed mini`/`weed server -s3`.
sver=$(awk '$1=="github.com/seaweedfs/seaweedfs" && $2 ~ /^v/ {print $2}' test/s3bins/go.mod | head -1)
[ -n "$sver" ] || { say "no seaweedfs version in test/s3bins/go.mod"; exit 1; }
build_set s3 "$sver" test/s3bins "" github.com/seaweedfs/seaweedfs/weed:weed

# helm (test/helmbin: upstream's command, pinned by the module's `tool` line),
# for charts/etcd-operator's lint and the install test. Last, because --print
# stops at the first set not yet built and the bed needs the lines above.
hver=$(awk '$1=="helm.sh/helm/v4" && $2 ~ /^v/ {print $2}' test/helmbin/go.mod | head -1)
[ -n "$hver" ] || { say "no helm.sh/helm/v4 version in test/helmbin/go.mod"; exit 1; }
build_set helm "$hver" test/helmbin "-X helm.sh/helm/v4/internal/version.version=$hver -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
	helm.sh/helm/v4/cmd/helm:helm
