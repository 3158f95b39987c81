#!/usr/bin/env bash
# Usage: scripts/build-vm-image.sh [--force]
#
# Build the Debian 12 VM image of the Molecule `vm` scenario into .cache/vm/:
# a debootstrapped root with the cloud kernel, systemd-networkd (DHCP on en*),
# openssh-server, python3, sudo, dbus, acl (getfacl for the tests) and GRUB's tools; a user `ansible` with passwordless
# sudo and the test key .cache/vm/id_ed25519; written with `mkfs.ext4 -d` into
# a sparse raw image. The kernel and initrd are copied out for QEMU's -kernel
# and -initrd. Skips the build when the image exists, unless --force.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${VM_CACHE:-$ROOT/.cache/vm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE=${VM_IMAGE_SIZE:-4G}
PACKAGES=linux-image-cloud-amd64,initramfs-tools,systemd,systemd-sysv,dbus,openssh-server,python3,sudo,ca-certificates,procps,iproute2,e2fsprogs,grub2-common,grub-pc-bin,acl
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

log() { printf '[build-vm-image] %s\n' "$*"; }

if [[ $FORCE == 0 && -f $OUT/image.raw && -f $OUT/vmlinuz && -f $OUT/initrd.img && -f $OUT/id_ed25519 ]]; then
    log "image exists: $OUT/image.raw"
    exit 0
fi

for tool in debootstrap mkfs.ext4 ssh-keygen qemu-system-x86_64 qemu-img; do
    command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [[ -n ${missing:-} ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing:$missing"
        tools=(debootstrap e2fsprogs openssh-client qemu-system-x86 qemu-utils)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tools[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tools[@]}" >/dev/null; }
    else
        echo "missing:$missing; install debootstrap e2fsprogs openssh-client qemu-system-x86 qemu-utils" >&2
        exit 1
    fi
fi

mkdir -p "$OUT"
work=$(mktemp -d /var/tmp/gbh-vm.XXXXXX)
cleanup() {
    awk -v d="$work" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
start=$(date +%s)

log "debootstrap bookworm into $root"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }

[[ -f $OUT/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C go-buildhost-vm-test -f "$OUT/id_ed25519"

echo gbh-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 gbh-vm\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 defaults 0 1\n' >"$root/etc/fstab"
: >"$root/etc/machine-id"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
SOURCES
mkdir -p "$root/etc/systemd/network" "$root/boot/grub"
printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/20-wired.network"
chroot "$root" systemctl enable systemd-networkd ssh >/dev/null 2>&1
chroot "$root" useradd --create-home --shell /bin/bash ansible
echo 'ansible ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/ansible"
chmod 0440 "$root/etc/sudoers.d/ansible"
install -d -m 0700 -o 1000 -g 1000 "$root/home/ansible/.ssh"
install -m 0600 -o 1000 -g 1000 "$OUT/id_ed25519.pub" "$root/home/ansible/.ssh/authorized_keys"
# GRUB's configuration as grub-pc installs it, so build_cgroups can set kernel parameters and run
# update-grub (QEMU boots the kernel directly; the generated grub.cfg shows what GRUB would boot).
[[ -f $root/etc/default/grub ]] || cp "$root/usr/share/grub/default/grub" "$root/etc/default/grub"
# Keep the console quiet and the boot short: no getty on tty1, serial only.
chroot "$root" systemctl mask getty@tty1.service >/dev/null 2>&1
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

cp "$(readlink -f "$root/vmlinuz")" "$work/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$work/initrd.img"

log "mkfs.ext4 -d (size $SIZE)"
rm -f "$work/image.raw"
truncate -s "$SIZE" "$work/image.raw"
mkfs.ext4 -q -L gbh-root -d "$root" "$work/image.raw"

for f in image.raw vmlinuz initrd.img; do mv -f "$work/$f" "$OUT/$f"; done
log "built $OUT/image.raw in $(( $(date +%s) - start ))s"
