#!/usr/bin/env bash
# Usage: scripts/build-image.sh [--force] [--verify|--no-verify] [12|13|22.04|24.04 ...]
#
# Build the test images of every supported platform with debootstrap + docker
# import: go-buildhost/debian:12 (bookworm), go-buildhost/debian:13 (trixie),
# go-buildhost/ubuntu:22.04 (jammy) and go-buildhost/ubuntu:24.04 (noble). Each
# is a minbase root with systemd as PID 1, python3 and sudo for Ansible, cron
# (a real Debian or Ubuntu host has it: its priority is important), and the apt
# sources a real host of that release has (Ubuntu: main and universe, with the
# -updates and -security pockets). Without a release argument all four are
# built. An existing image is kept unless --force is given or it was built from
# another recipe (its io.go-buildhost.recipe label: the package list). Every
# image built is booted once to prove systemd reaches "running".
#
# Ubuntu's archive is the default mirror of debootstrap's own Ubuntu suite
# script, and its signatures are checked with Ubuntu's archive keyring: taken
# from the ubuntu-keyring package of that archive (Debian's archive does not
# carry it) and checked against the sha256 sums pinned in scripts/ubuntu-archive.sh, which
# scripts/build-vm-image.sh shares.
#
#   --force      rebuild even if the image exists
#   --verify     also boot-test images that already exist
#   --no-verify  skip the boot test
#
# Environment:
#   IMAGE_PREFIX    image repository prefix (default go-buildhost): <prefix>/debian, <prefix>/ubuntu
#   UBUNTU_MIRROR   Ubuntu mirror (default: the one debootstrap's Ubuntu script names)
#   DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   SECURITY_MIRROR security mirror (default http://deb.debian.org/debian-security)
#   BUILD_TMPDIR    parent of the temporary root (default /var/tmp)
set -euo pipefail

IMAGE_PREFIX=${IMAGE_PREFIX:-go-buildhost}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BUILD_TMPDIR=${BUILD_TMPDIR:-/var/tmp}
PACKAGES=systemd,systemd-sysv,dbus,python3,sudo,ca-certificates,procps,cron
RUN_FLAGS=(
    --cap-add SYS_ADMIN
    --security-opt seccomp=unconfined
    --tmpfs /run
    --tmpfs /run/lock
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw
    --cgroupns host
)
BOOT_TIMEOUT=90

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# ubuntu_mirror, ubuntu_keyring, write_ubuntu_sources and the pinned keyring sums.
# shellcheck source=scripts/ubuntu-archive.sh
. "$SCRIPT_DIR/ubuntu-archive.sh"
ROOTFS=""
CONTAINER=""
DEBOOTSTRAP_PID=""

log() { printf '[build-image] %s\n' "$*"; }
warn() { printf '[build-image] error: %s\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

suite_for() {
    case $1 in
        12 | bookworm) echo bookworm ;;
        13 | trixie) echo trixie ;;
        22.04 | jammy) echo jammy ;;
        24.04 | noble) echo noble ;;
        *) return 1 ;;
    esac
}

release_for() {
    case $1 in
        bookworm) echo 12 ;;
        trixie) echo 13 ;;
        jammy) echo 22.04 ;;
        noble) echo 24.04 ;;
    esac
}

distro_for() {
    case $1 in
        jammy | noble) echo ubuntu ;;
        *) echo debian ;;
    esac
}

unmount_below() {
    local dir=$1 mnt
    [[ -n $dir && -d $dir ]] || return 0
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts |
        sort -r | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}

stop_debootstrap() {
    local pid=$DEBOOTSTRAP_PID
    [[ -n $pid ]] || return 0
    DEBOOTSTRAP_PID=""
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for _ in {1..50}; do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.5
}

cleanup() {
    stop_debootstrap
    if [[ -n $CONTAINER ]]; then
        docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
        CONTAINER=""
    fi
    if [[ -n $ROOTFS ]]; then
        unmount_below "$ROOTFS"
        rm -rf --one-file-system "$ROOTFS" "$ROOTFS.log"
        ROOTFS=""
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_tools() {
    local missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    ((${#missing[@]} == 0)) && return 0
    if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
        die "missing ${missing[*]}: install with apt-get install ${missing[*]} (as root)"
    fi
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# The recipe an image is built from, recorded in its io.go-buildhost.recipe label: an image of an
# older recipe (a package added, say) is rebuilt.
recipe_for() {
    local packages=$PACKAGES
    [[ $(distro_for "$1") == ubuntu ]] && packages=$PACKAGES,ubuntu-keyring
    echo "$packages"
}

image_current() {
    [[ $(docker image inspect -f '{{ index .Config.Labels "io.go-buildhost.recipe" }}' "$1" 2>/dev/null) == "$(recipe_for "$2")" ]]
}

write_sources() {
    local root=$1 suite=$2 keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [[ -e $root/usr/share/keyrings/debian-archive-keyring.pgp ]] &&
        keyring=/usr/share/keyrings/debian-archive-keyring.pgp
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: $keyring

Types: deb
URIs: $SECURITY_MIRROR
Suites: $suite-security
Components: main
Signed-By: $keyring
EOF
}

slim_rootfs() {
    local root=$1
    find "$root/var/lib/apt/lists" "$root/var/cache/apt" ! -type d ! -name lock -delete
    find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$root/usr/share/man" "$root/usr/share/info" -mindepth 1 ! -type d -delete 2>/dev/null || true
    find "$root/usr/share/locale" -mindepth 1 ! -type d ! -name locale.alias -delete
    find "$root/usr/share/locale" -mindepth 1 -type d -empty -delete
    find "$root/var/log" -type f -delete
    find "$root/var/cache/debconf" "$root/var/lib/dpkg" -maxdepth 1 -name '*-old' -delete
    find "$root/tmp" "$root/var/tmp" -mindepth 1 -delete
}

customize_rootfs() {
    local root=$1 suite=$2 mirror=$3
    if [[ $(distro_for "$suite") == ubuntu ]]; then
        write_ubuntu_sources "$root" "$suite" "$mirror"
    else
        write_sources "$root" "$suite"
    fi
    slim_rootfs "$root"
    : >"$root/etc/machine-id"
    mkdir -p "$root/var/lib/dbus"
    ln -sfn /etc/machine-id "$root/var/lib/dbus/machine-id"
    : >"$root/etc/hostname"
    : >"$root/etc/resolv.conf"
}

build_image() {
    local suite=$1 image=$2 t0 t mirror=$DEBIAN_MIRROR packages=$PACKAGES
    local -a options=(--components=main) script=()
    t0=$(now)
    if [[ $(distro_for "$suite") == ubuntu ]]; then
        mirror=$(ubuntu_mirror "$suite")
        options=(--components=main,universe --keyring="$(ubuntu_keyring "$mirror")")
        script=("$UBUNTU_DEBOOTSTRAP_SCRIPT")
    fi
    packages=$(recipe_for "$suite")
    ROOTFS=$(mktemp -d "$BUILD_TMPDIR/go-buildhost-$suite.XXXXXX")
    local logfile=$ROOTFS.log
    log "$image: debootstrap $suite (minbase) into $ROOTFS"
    t=$(now)
    setsid debootstrap --variant=minbase "${options[@]}" --include="$packages" \
        "$suite" "$ROOTFS" "$mirror" "${script[@]}" >"$logfile" 2>&1 </dev/null &
    DEBOOTSTRAP_PID=$!
    if ! wait "$DEBOOTSTRAP_PID"; then
        DEBOOTSTRAP_PID=""
        tail -n 20 "$logfile" >&2
        [[ -f $ROOTFS/debootstrap/debootstrap.log ]] && tail -n 20 "$ROOTFS/debootstrap/debootstrap.log" >&2
        rm -f "$logfile"
        die "debootstrap $suite failed"
    fi
    DEBOOTSTRAP_PID=""
    rm -f "$logfile"
    log "$image: debootstrap done in $(elapsed "$t")"

    t=$(now)
    customize_rootfs "$ROOTFS" "$suite" "$mirror"
    log "$image: customized and slimmed in $(elapsed "$t")"

    t=$(now)
    tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$ROOTFS" -c . |
        docker import \
            --change 'CMD ["/sbin/init"]' \
            --change 'ENV container=docker' \
            --change "LABEL org.opencontainers.image.title=go-buildhost-$(distro_for "$suite")-$(release_for "$suite")" \
            --change "LABEL org.opencontainers.image.version=$suite" \
            --change "LABEL io.go-buildhost.recipe=$packages" \
            --message "debootstrap --variant=minbase $suite + $packages" \
            - "$image" >/dev/null
    log "$image: docker import done in $(elapsed "$t")"
    cleanup
    log "$image: built in $(elapsed "$t0"), size $(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=si)"
}

wait_for_systemd() {
    local container=$1 deadline=$((SECONDS + BOOT_TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state=$(timeout "$BOOT_TIMEOUT" docker exec "$container" \
            systemctl is-system-running --wait 2>/dev/null) || true
        case $state in
            running | degraded | maintenance | stopping) break ;;
        esac
        [[ $(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null) == true ]] || break
        sleep 0.5
    done
    echo "$state"
}

verify_image() {
    local image=$1 t state python
    t=$(now)
    CONTAINER=$(docker run -d "${RUN_FLAGS[@]}" "$image") || { warn "$image: docker run failed"; return 1; }
    state=$(wait_for_systemd "$CONTAINER")
    case $state in
        running) ;;
        degraded)
            log "$image: systemd is degraded; failed units:"
            docker exec "$CONTAINER" systemctl --failed --no-legend --no-pager || true
            ;;
        *)
            docker logs "$CONTAINER" 2>&1 | tail -n 20 >&2 || true
            warn "$image: systemd did not boot (state '${state:-none}')"
            return 1
            ;;
    esac
    python=$(docker exec "$CONTAINER" python3 --version) || { warn "$image: python3 not usable"; return 1; }
    docker exec "$CONTAINER" sudo -n true || { warn "$image: sudo not usable"; return 1; }
    [[ $(docker exec "$CONTAINER" cat /proc/1/comm) == systemd ]] || { warn "$image: PID 1 is not systemd"; return 1; }
    log "$image: verified in $(elapsed "$t"): systemd $state, $python"
    docker rm -f "$CONTAINER" >/dev/null
    CONTAINER=""
}

main() {
    local force=0 verify=auto arg suite image old_id t0
    local -a suites=()
    for arg in "$@"; do
        case $arg in
            --force) force=1 ;;
            --verify) verify=always ;;
            --no-verify) verify=never ;;
            -h | --help) usage 0 ;;
            -*) printf 'unknown option: %s\n' "$arg" >&2; usage 2 >&2 ;;
            *) suite=$(suite_for "$arg") || die "unknown release '$arg' (use 12, 13, 22.04 or 24.04)"
               suites+=("$suite") ;;
        esac
    done
    ((${#suites[@]})) || suites=(bookworm trixie jammy noble)

    t0=$(now)
    "$SCRIPT_DIR/ensure-docker.sh" >/dev/null
    for suite in "${suites[@]}"; do
        image=$IMAGE_PREFIX/$(distro_for "$suite"):$(release_for "$suite")
        if ((force == 0)) && image_current "$image" "$suite"; then
            log "$image: exists, skipping build (use --force to rebuild)"
            if [[ $verify == always ]] && ! verify_image "$image"; then
                die "$image failed verification; rebuild it with --force"
            fi
            continue
        fi
        ((EUID == 0)) || die "building $image needs root (debootstrap)"
        require_tools
        old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || old_id=""
        build_image "$suite" "$image"
        if [[ $verify != never ]] && ! verify_image "$image"; then
            cleanup
            docker image rm "$image" >/dev/null 2>&1 || true
            if [[ -n $old_id ]]; then
                docker tag "$old_id" "$image"
                die "$image: the new build failed verification; kept the previous image"
            fi
            die "$image failed verification and was removed"
        fi
        if [[ -n $old_id && $old_id != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
            docker image rm "$old_id" >/dev/null 2>&1 || true
        fi
    done
    log "done in $(elapsed "$t0")"
}

main "$@"
