#!/usr/bin/env bash
# Usage: scripts/ensure-docker.sh
#
# Make sure a Docker engine answers `docker info`. As root on Debian/Ubuntu,
# install docker.io when dockerd is missing and start the daemon (systemd when
# it is PID 1, otherwise dockerd in the background). Otherwise print what to do
# and exit 1.
#
# Environment:
#   DOCKERD_LOG             dockerd log file (default /var/log/dockerd-go-buildhost.log)
#   DOCKERD_WAIT            seconds to wait for the daemon (default 60)
#   DOCKER_STORAGE_DRIVER   force a storage driver (default: dockerd's choice, vfs as fallback)
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd-go-buildhost.log}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}
DOCKER_STORAGE_DRIVER=${DOCKER_STORAGE_DRIVER:-}
PIDFILE=/var/run/docker.pid

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

report_ok() {
    local version driver
    version=$(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?')
    driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo '?')
    printf 'docker engine ready: server %s, storage driver %s\n' "$version" "$driver"
}

is_debian_like() {
    [[ -r /etc/os-release ]] || return 1
    local id id_like
    # shellcheck disable=SC1091
    id=$(. /etc/os-release && echo "${ID:-}")
    # shellcheck disable=SC1091
    id_like=$(. /etc/os-release && echo "${ID_LIKE:-}")
    [[ $id == debian || $id == ubuntu || " $id_like " == *" debian "* ]]
}

manual_instructions() {
    cat >&2 <<'EOF'
ensure-docker: no reachable Docker engine, and it cannot be set up automatically
(this needs root on Debian or Ubuntu). Do one of these, then re-run:

  * Debian/Ubuntu:   sudo apt-get install -y docker.io
                     sudo systemctl enable --now docker   # or: sudo dockerd &
  * other systems:   install Docker Engine from your distribution and start it
  * permission only: sudo usermod -aG docker "$USER" and log in again,
                     or run this toolkit as root

Check with: docker info
EOF
    exit 1
}

wait_for_engine() {
    local pid=${1:-} deadline=$((SECONDS + DOCKERD_WAIT))
    while ((SECONDS < deadline)); do
        engine_up && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 1
    done
    return 1
}

dockerd_pid() {
    local pid
    [[ -r $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 1
    echo "$pid"
}

install_docker() {
    log "dockerd not found, installing docker.io with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends docker.io >/dev/null
}

start_dockerd_background() {
    local driver=$1 pid
    local -a args=()
    [[ -n $driver ]] && args+=(--storage-driver "$driver")
    if [[ -e $PIDFILE ]] && ! dockerd_pid >/dev/null; then
        rm -f "$PIDFILE"
    fi
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    printf '\n=== %s dockerd %s\n' "$(date -u +%FT%TZ)" "${args[*]}" >>"$DOCKERD_LOG"
    setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
    if wait_for_engine "$pid"; then
        return 0
    fi
    if kill -0 "$pid" 2>/dev/null; then
        log "dockerd (pid $pid) did not answer within ${DOCKERD_WAIT}s; see $DOCKERD_LOG"
        return 2
    fi
    return 1
}

start_engine() {
    local pid rc
    if pid=$(dockerd_pid); then
        log "dockerd (pid $pid) is running but not answering yet, waiting"
        wait_for_engine "$pid" && return 0
        die "dockerd (pid $pid) does not answer; see $DOCKERD_LOG or stop it and re-run"
    fi
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl start docker.service || die "systemctl start docker failed; see: journalctl -u docker"
        wait_for_engine && return 0
        die "docker.service started but docker info still fails"
    fi
    rc=0
    start_dockerd_background "$DOCKER_STORAGE_DRIVER" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && exit 1
    if [[ -z $DOCKER_STORAGE_DRIVER ]]; then
        log "dockerd exited at start; retrying with --storage-driver vfs"
        rc=0
        start_dockerd_background vfs || rc=$?
        ((rc == 0)) && return 0
    fi
    log "dockerd failed to start; last lines of $DOCKERD_LOG:"
    tail -n 15 "$DOCKERD_LOG" >&2 || true
    exit 1
}

main() {
    if engine_up; then
        report_ok
        return 0
    fi
    if ((EUID != 0)) || ! is_debian_like; then
        manual_instructions
    fi
    command -v dockerd >/dev/null 2>&1 || install_docker
    command -v docker >/dev/null 2>&1 || die "docker client missing after install"
    start_engine
    report_ok
}

main "$@"
