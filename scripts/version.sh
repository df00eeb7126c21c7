#!/bin/sh
# scripts/version.sh — the one version of this tree, for the binaries, the
# image tag, the install bundle and the krew manifest (Makefile: VERSION).
#
#   tag v0.2.0 on HEAD               0.2.0
#   3 commits past v0.2.0, edited    0.2.0-3-g5a07b36-dirty
#   no tag at all                    0.0.0-5a07b36(-dirty)
#   not a git checkout / no git      0.0.0-unknown
#
# It is `git describe --tags --always --dirty` with the tag's leading "v"
# dropped; an untagged commit becomes a semver pre-release of 0.0.0, because
# krew's spec.version and image tags want semver, and a bare hash is not.
cd "$(dirname "$0")/.." || exit 1
d=$(git describe --tags --always --dirty 2>/dev/null) || d=
case $d in
"")        echo 0.0.0-unknown ;;
v[0-9]*)   echo "${d#v}" ;;
[0-9]*.*)  echo "$d" ;;
*)         echo "0.0.0-$d" ;;
esac
