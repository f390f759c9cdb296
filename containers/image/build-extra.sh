#!/usr/bin/env bash
# Builds a team-style image for the tests and docs/own-image.md:
# loadcheck/apache2:bookworm plus Debian's libapache2-mod-xsendfile,
# downloaded with apt-get on this host (Debian's packages are the one
# source reachable here). Does nothing when the image already exists.
#
#   containers/image/build-extra.sh [TAG]   default TAG: loadcheck/apache2-xsendfile:bookworm
set -euo pipefail
tag=${1:-loadcheck/apache2-xsendfile:bookworm}
base=${LOADCHECK_BASE_IMAGE:-loadcheck/apache2:bookworm}
pkg=libapache2-mod-xsendfile
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "build-extra.sh: $tag already exists"
  exit 0
fi
if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "build-extra.sh: the base image $base is missing: run make image first" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/loadcheck-extra.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cp "$(dirname "$0")/extra-module/Dockerfile" "$dir/"
if ! (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1); then
  apt-get update -q >/dev/null
  (cd "$dir" && apt-get download -q "$pkg" >/dev/null)
fi
docker build -q --build-arg BASE="$base" -t "$tag" "$dir" >/dev/null 2>"$dir/build.err" || { cat "$dir/build.err" >&2; exit 1; }
echo "build-extra.sh: built $tag ($base + $(basename "$dir"/*.deb))"
