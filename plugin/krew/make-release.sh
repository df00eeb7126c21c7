#!/bin/sh
# plugin/krew/make-release.sh BUILD [BASE_URL] — the krew release of kubectl etcd:
#   BUILD/krew/kubectl-etcd_linux_amd64.tar.gz   kubectl-etcd, kubectl_complete-etcd, README.md
#   BUILD/krew/etcd.yaml                         etcd.yaml.template, version, URL and sha256 filled
# (DIST=dir puts them elsewhere).
# BASE_URL is where the archive will be published (default: the project's
# GitHub releases); the manifest's uri is BASE_URL/v<version>/<archive>.
# Try it locally before publishing:
#   kubectl krew install --manifest=BUILD/krew/etcd.yaml \
#     --archive=BUILD/krew/kubectl-etcd_linux_amd64.tar.gz
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${EO_BUILD:-$root/build}}
base=${2:-https://github.com/etcd-k8s-operator/etcd-operator/releases/download}
dist=${DIST:-$build/krew}
[ -x "$build/kubectl-etcd" ] || { echo "make-release: $build/kubectl-etcd not built (make)" >&2; exit 1; }
# the version the binary itself reports (EO_VERSION, from git via the Makefile)
version=$("$build/kubectl-etcd" --version | awk 'NR==1 {print $2}')
[ -n "$version" ] || { echo "make-release: $build/kubectl-etcd version --version printed no version" >&2; exit 1; }
archive=kubectl-etcd_linux_amd64.tar.gz
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$build/kubectl-etcd" "$here/../kubectl_complete-etcd" "$stage/"
cat >"$stage/README.md" <<TXT
kubectl etcd $version — the command line of etcd-k8s-operator.
Run \`kubectl etcd --help\`. Documentation: docs/plugin.md in the repository.
TXT
mkdir -p "$dist"
# Reproducible: fixed owner, mode and time, sorted names.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	-cf - kubectl-etcd kubectl_complete-etcd README.md | gzip -n >"$dist/$archive"
sum=$(sha256sum "$dist/$archive" | cut -d' ' -f1)
uri="$base/v$version/$archive"
# The template's opening comment is about the template: leave it out.
sed -e '1,/^apiVersion/{/^#/d}' -e "s|@VERSION@|$version|g" -e "s|@URI@|$uri|g" \
	-e "s|@SHA256@|$sum|g" "$here/etcd.yaml.template" >"$dist/etcd.yaml"
if grep -q '@[A-Z0-9]*@' "$dist/etcd.yaml"; then
	echo "make-release: unfilled token left in $dist/etcd.yaml" >&2
	exit 1
fi
echo "$dist/$archive  sha256 $sum"
echo "$dist/etcd.yaml  (uri $uri)"
