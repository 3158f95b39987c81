#!/usr/bin/env bash
# Usage: scripts/build-fleet-image.sh [--force] [12|13|22.04|24.04 ...]
#
# Build the SSH images of the Molecule `fleet` scenario and the fleet benchmark:
# go-buildhost/<distribution>-ssh:<release> (debian-ssh:12 when no release is
# given) is go-buildhost/<distribution>:<release> (scripts/build-image.sh) plus
# openssh-server and a user `ansible` whose sudo asks for a password (the test
# password below), so runs connect over SSH as a non-root user and become root
# the way AWX does. The SSH key is injected when a container starts, never
# baked in. An image is rebuilt when its base image changed (its
# io.go-buildhost.base label records the base's ID).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Test-only credential of throwaway containers; never used outside the tests.
BECOME_PASSWORD=${FLEET_BECOME_PASSWORD:-go-buildhost-test}

force=0
releases=()
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        12 | 13) releases+=("debian:$arg") ;;
        22.04 | 24.04) releases+=("ubuntu:$arg") ;;
        *) echo "unknown argument '$arg' (use --force, 12, 13, 22.04 or 24.04)" >&2; exit 2 ;;
    esac
done
((${#releases[@]})) || releases=(debian:12)

for base in "${releases[@]}"; do
    image=go-buildhost/${base%%:*}-ssh:${base#*:}
    "$ROOT/scripts/build-image.sh" "${base#*:}" >/dev/null
    base_id=$(docker image inspect -f '{{.Id}}' "go-buildhost/$base")
    if ((force == 0)) && [[ $(docker image inspect -f '{{ index .Config.Labels "io.go-buildhost.base" }}' "$image" 2>/dev/null) == "$base_id" ]]; then
        echo "[build-fleet-image] $image: exists"
        continue
    fi
    start=$(date +%s)
    docker build -q -t "$image" --label "io.go-buildhost.base=$base_id" --build-arg "BASE=go-buildhost/$base" \
        --build-arg "PASSWORD=$BECOME_PASSWORD" - <<'DOCKERFILE' >/dev/null
ARG BASE
FROM ${BASE}
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
    echo "[build-fleet-image] built $image in $(($(date +%s) - start))s"
done
