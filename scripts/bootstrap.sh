#!/usr/bin/env bash
# Prepare a machine with no Docker engine and no registry to run the stack.
# Idempotent: every step checks first and says what it found; nothing already
# in place is touched. On a machine where `docker compose` already works and
# images can be pulled, it changes nothing (it never probes the network: the
# base image and Toxiproxy are made locally only where the tools for that are
# present, otherwise the Dockerfiles pull and download them).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
TOXIPROXY_VERSION=${TOXIPROXY_VERSION:-v2.9.0}
DOCKER_ROOT=${DOCKER_ROOT:-/var/lib/docker}
log() { printf '[bootstrap] %s\n' "$*"; }

# apt-get update once per run, only when something must be installed.
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_up() { docker info >/dev/null 2>&1; }

changed=0

# 1. Engine (Debian's docker.io; the client on PATH may be newer and talks API 1.41 to it).
if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io (engine)"
  apt_install docker.io; changed=1
else
  log "dockerd present: $(dockerd --version)"
fi

# 2. Tools the fast tests and the drills use on the host.
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
# The platform's own tests start throwaway Postgres and Redis servers on the host.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# The report's browser tests render it headless (tests/report/test_report_browser.py).
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing ${need[*]}"; apt_install "${need[@]}"; changed=1
elif [ ${#need[@]} -gt 0 ]; then
  log "no apt-get: ${need[*]} not installed (the rules tests use promtool/amtool from the stack images instead)"
else log "promtool, amtool, debootstrap, postgresql, redis-server, chromium present"; fi

# 3. Start the engine with no bridge networking (everything uses host networking).
if ! engine_up; then
  log "starting dockerd (no bridge, no iptables)"; changed=1
  # A daemon killed uncleanly leaves its pid file and sockets behind.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid /var/run/docker.sock
  fi
  for p in /var/run/docker/containerd/containerd.pid /run/containerd/containerd.pid; do
    if [ -f "$p" ] && ! kill -0 "$(cat "$p")" 2>/dev/null; then rm -f "$p"; fi
  done
  mkdir -p /var/log
  nohup dockerd --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
    --data-root "$DOCKER_ROOT" >/var/log/alertdrill-dockerd.log 2>&1 &
  echo $! >/var/run/alertdrill-dockerd.pid  # .ci/run stops the daemon it started
  for _ in $(seq 1 60); do engine_up && break; sleep 1; done
  engine_up || { log "dockerd did not come up; see /var/log/alertdrill-dockerd.log"; tail -n 20 /var/log/alertdrill-dockerd.log; exit 1; }
fi
log "engine: $(docker version --format '{{.Server.Version}}')"

# 4. Compose v2 and buildx plugins from Debian 13 (Debian 12 has only compose v1).
plugdir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
if ! docker compose version >/dev/null 2>&1 || ! docker buildx version >/dev/null 2>&1; then
  log "installing compose and buildx plugins from trixie's .debs"; changed=1
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  tmp=$(mktemp -d)
  echo "deb $mirror trixie main" >/etc/apt/sources.list.d/own.list
  trap 'rm -f /etc/apt/sources.list.d/own.list' EXIT
  apt-get update -qq
  (cd "$tmp" && apt-get download -qq docker-compose/trixie docker-buildx/trixie)
  rm -f /etc/apt/sources.list.d/own.list
  apt-get update -qq
  mkdir -p "$plugdir"
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/x"; done
  cp "$tmp"/x/usr/libexec/docker/cli-plugins/docker-compose "$tmp"/x/usr/libexec/docker/cli-plugins/docker-buildx "$plugdir/"
  rm -rf "$tmp"
fi
log "compose: $(docker compose version --short), buildx: $(docker buildx version | awk '{print $2}')"

# 5. Base image: pull where a registry answers, else debootstrap and import.
if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  log "base image debian:bookworm-slim present"
elif ! command -v debootstrap >/dev/null 2>&1 || [ ! -f /etc/apt/sources.list.d/debian.sources ]; then
  log "base image absent and no debootstrap here: the build will pull debian:bookworm-slim"
else
  changed=1
  log "no registry: building debian:bookworm-slim with debootstrap"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  root=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import - debian:bookworm-slim >/dev/null
  rm -rf "$root"
  log "imported debian:bookworm-slim"
fi

# 6. Toxiproxy binary for the toxiproxy image's build context (without it the Dockerfile downloads
#    the release binary, which needs the internet).
bin="$here/stack/toxiproxy/bin"
if [ -x "$bin/toxiproxy-server" ] && [ -x "$bin/toxiproxy-cli" ]; then
  log "toxiproxy binaries present in stack/toxiproxy/bin"
elif ! command -v go >/dev/null 2>&1; then
  log "no Go here: the toxiproxy image will download its release binary"
else
  changed=1
  log "building toxiproxy $TOXIPROXY_VERSION with go"
  mkdir -p "$bin"
  GOBIN="$bin" CGO_ENABLED=0 go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  GOBIN="$bin" CGO_ENABLED=0 go install "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mv "$bin/server" "$bin/toxiproxy-server"; mv "$bin/cli" "$bin/toxiproxy-cli"
fi

# 7. redis_exporter for the platform nobody here wrote (tests/adopt/redis_platform), from its Go module.
if command -v go >/dev/null 2>&1; then
  bash "$here/scripts/build-redis-exporter.sh" | sed 's/^/[bootstrap] /'
else
  log "no Go here: tests/adopt/test_redis_platform.py's drill will fail until scripts/build-redis-exporter.sh ran"
fi
if [ "$changed" = 0 ]; then log "everything was already in place: nothing changed"; else log "ready"; fi
