#!/usr/bin/env bash
# Re-pin the dependencies on purpose: resolve the newest versions pyproject.toml and the platform's
# requirements allow, and write what was resolved to constraints.txt (the suite) and
# stack/platform-constraints.txt (the platform image). Review the diff, run `make test`, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e '.[platform,dev]'
{ sed -n '1,2p' constraints.txt; "$tmp/venv/bin/pip" freeze --exclude-editable; } > "$tmp/constraints.txt"
mv "$tmp/constraints.txt" constraints.txt

docker build -q --network host --secret "id=ca_bundle,src=${ALERTDRILL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" \
  --build-arg PIP_CONSTRAINTS= -f stack/platform.Dockerfile -t alertdrill/platform:lock stack >/dev/null
{ sed -n '1,2p' stack/platform-constraints.txt
  docker run --rm --network none --entrypoint /opt/venv/bin/pip alertdrill/platform:lock freeze; } > "$tmp/platform.txt"
mv "$tmp/platform.txt" stack/platform-constraints.txt
docker image rm -f alertdrill/platform:lock >/dev/null
git --no-pager diff --stat -- constraints.txt stack/platform-constraints.txt
