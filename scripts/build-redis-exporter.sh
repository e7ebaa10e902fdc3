#!/usr/bin/env bash
# redis_exporter for the platform nobody here wrote (tests/adopt/redis_platform), built from its Go module at
# an exact version, as Toxiproxy is: tests/adopt/redis_platform/bin/redis_exporter (static, CGO off).
#
# Why v1.62.0 and `go build` inside the module cache: the Go module proxy this machine reaches refused
# `@latest`, v1.67.0 and v1.66.0 (403 "not available"); v1.62.0's source downloads, but `go install
# ...@v1.62.0` hits the same refusal on a dependency, while a build inside the downloaded module (its
# go.sum pinning every dependency) succeeds.
set -euo pipefail
VERSION=${REDIS_EXPORTER_VERSION:-v1.62.0}
MODULE=github.com/oliver006/redis_exporter
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/tests/adopt/redis_platform/bin/redis_exporter"
log() { echo "[redis_exporter] $*"; }

if [ -x "$out" ] && "$out" --version 2>&1 | grep -q "${VERSION#v}"; then
  log "$VERSION present in tests/adopt/redis_platform/bin"; exit 0
fi
command -v go >/dev/null 2>&1 || { log "no Go here: install Go 1.22 or later to build redis_exporter $VERSION"; exit 1; }
log "building redis_exporter $VERSION with go"
dir=$(go mod download -json "$MODULE@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
mkdir -p "$(dirname "$out")"
(cd "$dir" && CGO_ENABLED=0 go build -trimpath \
   -ldflags "-X main.BuildVersion=${VERSION#v} -X main.BuildCommitSha=module-$VERSION" -o "$out" .)
"$out" --version 2>&1 | grep -q "${VERSION#v}" || { log "built, but --version does not say ${VERSION#v}"; exit 1; }
log "built $out"
