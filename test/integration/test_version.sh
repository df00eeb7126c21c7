#!/bin/sh
# test_version.sh — every binary reports the one version of its tree: what
# `git describe --tags --always --dirty` says, worked out here on its own
# (not through scripts/version.sh) so a slip in either shows; and outside
# git the version is the clear 0.0.0-unknown. Needs a fresh `make` (make test
# builds just before running): a binary older than the last commit fails, on
# purpose — that is the stale version this test is for.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EO_BUILD:-$root/build}
cd "$root"
fail=0
if d=$(git describe --tags --always --dirty 2>/dev/null); then
	case $d in
	v[0-9]*) want=${d#v} ;;
	[0-9]*.*) want=$d ;;
	*) want=0.0.0-$d ;;
	esac
else
	want=0.0.0-unknown
fi
echo "git describe: ${d:-none} → expected version $want"
check() { # label, output
	got=$(printf '%s\n' "$2" | awk 'NR==1{print $NF}')
	if [ "$got" = "$want" ]; then echo "ok   $1: $2"; else echo "FAIL $1: \"$2\", want $want"; fail=1; fi
}
for b in kubectl-etcd etcd-webhook etcd-controller etcd-certs etcd-member-guard; do
	check "$b --version" "$("$build/$b" --version)"
done
check "kubectl-etcd version --client" "$("$build/kubectl-etcd" version --client | sed 's/ (commit .*//')"
check "make -s version" "$(make -s --no-print-directory version)"
# outside git (a tarball of the sources): no hash to show, and it says so
out=$(GIT_DIR=/nonexistent GIT_CEILING_DIRECTORIES=/ scripts/version.sh)
if [ "$out" = 0.0.0-unknown ]; then echo "ok   outside git: $out"; else echo "FAIL outside git: $out"; fail=1; fi
exit $fail
