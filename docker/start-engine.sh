#!/usr/bin/env bash
# Start Debian's Docker engine (docker.io) for the tests, without systemd, iptables or a
# registry, and print the DOCKER_HOST to use. Usage: export DOCKER_HOST=$(docker/start-engine.sh)
set -euo pipefail
DIR=${FORGE_DOCKER_DIR:-/tmp/forge-dockerd}
SOCK="unix://$DIR/docker.sock"
mkdir -p "$DIR"
if ! DOCKER_HOST=$SOCK docker version >/dev/null 2>&1; then
  nohup dockerd -H "$SOCK" --data-root "$DIR/data" --exec-root "$DIR/exec" \
    --pidfile "$DIR/dockerd.pid" --iptables=false --storage-driver overlay2 \
    >"$DIR/dockerd.log" 2>&1 &
  for _ in $(seq 60); do
    DOCKER_HOST=$SOCK docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
DOCKER_HOST=$SOCK docker version >/dev/null || { tail -20 "$DIR/dockerd.log" >&2; exit 1; }
echo "$SOCK"
