#!/usr/bin/env bash
# Make sure promtool (Debian's prometheus package) is on the controller: the go_cache alert rules
# are checked with `promtool check rules` and unit-tested with `promtool test rules`.
set -euo pipefail
if command -v promtool >/dev/null; then
    exit 0
fi
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "[ensure-promtool] installing Debian's prometheus package for promtool"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # Only promtool is wanted here: never leave a Prometheus server running on the controller.
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    exit 0
fi
echo "promtool is missing: install Debian's prometheus package (apt-get install prometheus)" >&2
exit 1
