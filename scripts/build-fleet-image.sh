#!/usr/bin/env bash
# Usage: scripts/build-fleet-image.sh [--force]
#
# Build go-buildhost/debian-ssh:12 for the Molecule `fleet` scenario and the
# fleet benchmark: go-buildhost/debian:12 plus openssh-server and a user
# `ansible` whose sudo asks for a password (the test password below), so runs
# connect over SSH as a non-root user and become root the way AWX does.
# The SSH key is injected when a container starts, never baked in.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${FLEET_IMAGE:-go-buildhost/debian-ssh:12}
# Test-only credential of throwaway containers; never used outside the tests.
BECOME_PASSWORD=${FLEET_BECOME_PASSWORD:-go-buildhost-test}

if [[ ${1:-} != --force ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "[build-fleet-image] $IMAGE: exists"
    exit 0
fi
"$ROOT/scripts/build-image.sh" 12
start=$(date +%s)
docker build -q -t "$IMAGE" --build-arg "PASSWORD=$BECOME_PASSWORD" - <<'DOCKERFILE' >/dev/null
FROM go-buildhost/debian:12
ARG PASSWORD
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && useradd --create-home --shell /bin/bash --groups sudo ansible \
 && echo "ansible:${PASSWORD}" | chpasswd \
 && install -d -m 0700 -o ansible -g ansible /home/ansible/.ssh \
 && systemctl enable ssh
CMD ["/sbin/init"]
DOCKERFILE
echo "[build-fleet-image] built $IMAGE in $(( $(date +%s) - start ))s"
