#!/usr/bin/env bash
# Usage: scripts/build-vm-image.sh [--force] [12|24.04 ...]
#
# Build the VM images of the Molecule `vm` scenario, each a debootstrapped root
# with its distribution's own kernel, systemd-networkd (DHCP on en*),
# openssh-server, python3, sudo, dbus and acl (getfacl for the tests); a user
# `ansible` with passwordless sudo and the test key .cache/vm/id_ed25519;
# written with `mkfs.ext4 -d` into a sparse raw image. The kernel and initrd are
# copied out beside it for QEMU's -kernel and -initrd. Without a release
# argument both are built; an existing image is kept unless --force.
#
#   12     Debian 12 (bookworm), .cache/vm/: the cloud kernel, and GRUB's tools
#          (the hybrid VM's build_cgroups_enable_unified runs update-grub).
#   24.04  Ubuntu 24.04 (noble), .cache/vm/ubuntu-24.04/: linux-image-virtual
#          (the generic kernel without linux-modules-extra), pure cgroup v2 as
#          Ubuntu boots it; main and universe with the -updates and -security
#          pockets, from the archive and keyring of scripts/ubuntu-archive.sh.
#
# Environment: VM_CACHE (default .cache/vm), DEBIAN_MIRROR, UBUNTU_MIRROR,
# VM_IMAGE_SIZE (default 4G).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# ubuntu_mirror, ubuntu_keyring, write_ubuntu_sources, UBUNTU_DEBOOTSTRAP_SCRIPT.
# shellcheck source=scripts/ubuntu-archive.sh
. "$ROOT/scripts/ubuntu-archive.sh"
CACHE=${VM_CACHE:-$ROOT/.cache/vm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE=${VM_IMAGE_SIZE:-4G}
COMMON_PACKAGES=initramfs-tools,systemd,systemd-sysv,dbus,openssh-server,python3,sudo,ca-certificates,procps,iproute2,e2fsprogs,acl
DEBIAN_PACKAGES=$COMMON_PACKAGES,linux-image-cloud-amd64,grub2-common,grub-pc-bin
UBUNTU_PACKAGES=$COMMON_PACKAGES,linux-image-virtual,ubuntu-keyring

log() { printf '[build-vm-image] %s\n' "$*"; }
die() { printf '[build-vm-image] error: %s\n' "$*" >&2; exit 1; }

force=0
releases=()
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        12 | 24.04) releases+=("$arg") ;;
        *) die "unknown argument '$arg' (use --force, 12 or 24.04)" ;;
    esac
done
((${#releases[@]})) || releases=(12 24.04)

out_dir() {
    case $1 in
        12) echo "$CACHE" ;;
        24.04) echo "$CACHE/ubuntu-24.04" ;;
    esac
}

require_tools() {
    local tool missing=""
    for tool in debootstrap mkfs.ext4 ssh-keygen qemu-system-x86_64 qemu-img curl dpkg-deb; do
        command -v "$tool" >/dev/null || missing="$missing $tool"
    done
    [[ -n $missing ]] || return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing:$missing"
        local tools=(debootstrap e2fsprogs openssh-client qemu-system-x86 qemu-utils curl)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tools[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tools[@]}" >/dev/null; }
    else
        die "missing:$missing; install debootstrap e2fsprogs openssh-client qemu-system-x86 qemu-utils curl"
    fi
}

work=""
cleanup() {
    [[ -n $work ]] || return 0
    awk -v d="$work" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$work"
    work=""
}
trap cleanup EXIT

build() {
    local release=$1 out suite mirror packages hostname root start
    local -a options=() script=()
    out=$(out_dir "$release")
    if [[ $force == 0 && -f $out/image.raw && -f $out/vmlinuz && -f $out/initrd.img && -f $CACHE/id_ed25519 ]]; then
        log "image exists: $out/image.raw"
        return 0
    fi
    require_tools
    case $release in
        12)
            suite=bookworm mirror=$DEBIAN_MIRROR packages=$DEBIAN_PACKAGES hostname=gbh-vm
            ;;
        24.04)
            suite=noble packages=$UBUNTU_PACKAGES hostname=gbh-vm-ubuntu2404
            mirror=$(ubuntu_mirror "$suite")
            # Debian 12's debootstrap has no link for noble: its script for every Ubuntu suite.
            options=("--components=main,universe" --keyring="$(ubuntu_keyring "$mirror")")
            script=("$UBUNTU_DEBOOTSTRAP_SCRIPT")
            ;;
    esac

    mkdir -p "$out"
    work=$(mktemp -d /var/tmp/gbh-vm.XXXXXX)
    root=$work/root
    start=$(date +%s)

    log "$release: debootstrap $suite into $root"
    debootstrap --variant=minbase "${options[@]}" --include="$packages" "$suite" "$root" "$mirror" "${script[@]}" \
        >"$work/debootstrap.log" 2>&1 </dev/null ||
        { tail -20 "$work/debootstrap.log" >&2; [[ -f $root/debootstrap/debootstrap.log ]] &&
              tail -20 "$root/debootstrap/debootstrap.log" >&2; exit 1; }

    [[ -f $CACHE/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C go-buildhost-vm-test -f "$CACHE/id_ed25519"

    echo "$hostname" >"$root/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$hostname" >"$root/etc/hosts"
    printf '/dev/vda / ext4 defaults 0 1\n' >"$root/etc/fstab"
    : >"$root/etc/machine-id"
    if [[ $release == 24.04 ]]; then
        write_ubuntu_sources "$root" "$suite" "$mirror"
    else
        cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
SOURCES
    fi
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/20-wired.network"
    chroot "$root" systemctl enable systemd-networkd >/dev/null 2>&1
    # Debian starts sshd as a service; Ubuntu 24.04 through ssh.socket, which its package enables.
    [[ $release == 24.04 ]] || chroot "$root" systemctl enable ssh >/dev/null 2>&1
    chroot "$root" useradd --create-home --shell /bin/bash ansible
    echo 'ansible ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/ansible"
    chmod 0440 "$root/etc/sudoers.d/ansible"
    install -d -m 0700 "$root/home/ansible/.ssh"
    install -m 0600 "$CACHE/id_ed25519.pub" "$root/home/ansible/.ssh/authorized_keys"
    chroot "$root" chown -R ansible:ansible /home/ansible/.ssh
    if [[ $release == 12 ]]; then
        # GRUB's configuration as grub-pc installs it, so build_cgroups can set kernel parameters and run
        # update-grub (QEMU boots the kernel directly; the generated grub.cfg shows what GRUB would boot).
        mkdir -p "$root/boot/grub"
        [[ -f $root/etc/default/grub ]] || cp "$root/usr/share/grub/default/grub" "$root/etc/default/grub"
    fi
    # Keep the console quiet and the boot short: no getty on tty1, serial only.
    chroot "$root" systemctl mask getty@tty1.service >/dev/null 2>&1
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

    # The one kernel the image's package installed, whatever its links are called.
    local kernels=("$root"/boot/vmlinuz-*)
    if ((${#kernels[@]} != 1)) || [[ ! -f ${kernels[0]} ]]; then
        die "$release: expected one kernel in /boot, found: ${kernels[*]}"
    fi
    local version=${kernels[0]#"$root"/boot/vmlinuz-}
    [[ -f $root/boot/initrd.img-$version ]] || die "$release: no initrd for $version"
    cp "${kernels[0]}" "$work/vmlinuz"
    cp "$root/boot/initrd.img-$version" "$work/initrd.img"
    chmod 0644 "$work/vmlinuz" "$work/initrd.img"

    log "$release: mkfs.ext4 -d (size $SIZE), kernel $version"
    truncate -s "$SIZE" "$work/image.raw"
    mkfs.ext4 -q -L gbh-root -d "$root" "$work/image.raw"

    for f in image.raw vmlinuz initrd.img; do mv -f "$work/$f" "$out/$f"; done
    cleanup
    log "$release: built $out/image.raw in $(($(date +%s) - start))s"
}

mkdir -p "$CACHE"
for release in "${releases[@]}"; do
    build "$release"
done
