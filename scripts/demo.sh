#!/usr/bin/env bash
# Converge the embedded demo target, a local Debian 12 container, with site.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
name=go-buildhost-demo
image=go-buildhost/debian:12

if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)" != "true" ]; then
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
    "$image" /sbin/init >/dev/null
  for _ in $(seq 1 120); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.5
  done
  echo "Started $name from $image"
fi

.venv/bin/ansible-playbook site.yml --diff "$@"

echo
echo "== What the demo host has now"
docker exec "$name" sh -c 'echo "go version: $(go version)"; echo "link: /usr/local/go -> $(readlink /usr/local/go)"; echo "fact:"; cat /etc/ansible/facts.d/go_toolchain.fact'
echo
echo "Run 'make demo' again: the second run changes nothing. Remove the container with: docker rm -f $name"
