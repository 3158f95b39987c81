# shellcheck shell=bash
# Ubuntu's archive for the image builders: sourced by scripts/build-image.sh (container images) and
# scripts/build-vm-image.sh (the Molecule `vm` scenario's Ubuntu VM).
#
# The archive is the default mirror of debootstrap's own Ubuntu suite script (gutsy, its script for
# every Ubuntu suite, those it has no link for included), so this project never names it; its
# signatures are checked with Ubuntu's archive keyring, taken from the ubuntu-keyring package of that
# archive (Debian's archive does not carry it) and checked against the sha256 sums pinned below.
#
# Environment:
#   UBUNTU_MIRROR  Ubuntu mirror (default: the one debootstrap's Ubuntu script names)
#
# The caller may define die(); without one, an error is printed and the shell exits.

# ubuntu-keyring 2023.11.28.1 (Ubuntu 24.04's): the package, and the archive keyring inside it.
UBUNTU_KEYRING_DEB=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb
UBUNTU_KEYRING_DEB_SHA256=36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8
UBUNTU_KEYRING_SHA256=80a36b0a6de2f69f49d2df75ef473ccde121e9e190b9ea01d20a4f63778d5c31
DEBOOTSTRAP_SCRIPTS=${DEBOOTSTRAP_SCRIPTS:-/usr/share/debootstrap/scripts}
# debootstrap's script for every Ubuntu suite: its 4th positional argument, for suites it has no link for.
UBUNTU_DEBOOTSTRAP_SCRIPT=$DEBOOTSTRAP_SCRIPTS/gutsy
UBUNTU_KEYRING_CACHE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/keyrings

ubuntu_archive_die() {
    if declare -F die >/dev/null; then
        die "$@"
    fi
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The mirror debootstrap's Ubuntu suite script names for this architecture and suite; UBUNTU_MIRROR
# overrides it.
ubuntu_mirror() {
    if [[ -n ${UBUNTU_MIRROR:-} ]]; then
        echo "$UBUNTU_MIRROR"
        return
    fi
    local mirror
    # shellcheck disable=SC2016
    mirror=$(ARCH=$(dpkg --print-architecture) SUITE=$1 bash -c '
        default_mirror() { echo "$1"; }
        mirror_style() { :; }; download_style() { :; }; finddebs_style() { :; }
        variants() { :; }; keyring() { :; }; force_md5() { :; }
        . "$0" 2>/dev/null' "$UBUNTU_DEBOOTSTRAP_SCRIPT" | head -n 1)
    [[ -n $mirror ]] || ubuntu_archive_die "no default mirror in $UBUNTU_DEBOOTSTRAP_SCRIPT: set UBUNTU_MIRROR"
    echo "$mirror"
}

# Ubuntu's archive keyring, fetched once from the archive and checked against the pinned sums; prints
# its path (.cache/keyrings/ubuntu-archive-keyring.gpg).
ubuntu_keyring() {
    local mirror=$1 cache=$UBUNTU_KEYRING_CACHE tmp keyring
    keyring=$cache/ubuntu-archive-keyring.gpg
    if [[ -f $keyring ]] && echo "$UBUNTU_KEYRING_SHA256  $keyring" | sha256sum -c --status; then
        echo "$keyring"
        return
    fi
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/tmp.XXXXXX")
    curl -fsSL --retry 3 -o "$tmp/keyring.deb" "$mirror/$UBUNTU_KEYRING_DEB" ||
        { rm -rf "$tmp"; ubuntu_archive_die "could not download $mirror/$UBUNTU_KEYRING_DEB"; }
    echo "$UBUNTU_KEYRING_DEB_SHA256  $tmp/keyring.deb" | sha256sum -c --status ||
        { rm -rf "$tmp"; ubuntu_archive_die "$UBUNTU_KEYRING_DEB: its sha256 is not the pinned $UBUNTU_KEYRING_DEB_SHA256"; }
    dpkg-deb -x "$tmp/keyring.deb" "$tmp/root"
    echo "$UBUNTU_KEYRING_SHA256  $tmp/root/usr/share/keyrings/ubuntu-archive-keyring.gpg" | sha256sum -c --status ||
        { rm -rf "$tmp"; ubuntu_archive_die "ubuntu-archive-keyring.gpg: its sha256 is not the pinned $UBUNTU_KEYRING_SHA256"; }
    mv "$tmp/root/usr/share/keyrings/ubuntu-archive-keyring.gpg" "$keyring"
    rm -rf "$tmp"
    echo "$keyring"
}

# apt's sources as a real host of that release has them (deb822): main and universe, with the
# -updates and -security pockets.
write_ubuntu_sources() {
    local root=$1 suite=$2 mirror=$3
    rm -f "$root/etc/apt/sources.list"
    mkdir -p "$root/etc/apt/sources.list.d"
    cat >"$root/etc/apt/sources.list.d/ubuntu.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates $suite-security
Components: main universe
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
EOF
}
