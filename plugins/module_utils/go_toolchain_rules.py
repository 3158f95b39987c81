# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go_toolchain settings' rules, each in one place, worded with the role's variable names.

Called by the go_toolchain module on the host (before it changes anything) and, through the
go_toolchain_errors filter (plugins/filter/go_toolchain.py), by the go_toolchain role's check on the
controller. Pure function: no I/O. What needs the host (system trees, symlinks, what a directory
holds) stays in path_guard.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_version import is_exact, is_request

GOARCHES = ('amd64', 'arm64', 'armv6l', '386', 'ppc64le', 's390x')
_SHA256_ANY_CASE_RE = re.compile(r'[0-9a-fA-F]{64}')


def _text(value):
    return '' if value is None else str(value)


def _as_int(value):
    """A whole number as Jinja's int filter reads it (garbage is 0), so a role and a module agree."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def toolchain_errors(settings, pinned=None):
    """Every invalid setting, in the role's words; an empty list when all are valid.

    settings (every key optional; a key left out is not checked):
      go_toolchain_install_root, go_toolchain_link: absolute paths;
      go_toolchain_bin_dirs: a list of absolute paths;
      go_toolchain_version: "latest", a minor such as "1.27" or an exact version such as "1.27.3";
      go_toolchain_sha256: "" (take the checksum from the release index) or the archive's sha256;
      go_toolchain_keep_versions: at least 1;
      goarch, ansible_architecture: the Go architecture of the host ("" when unknown) and the machine
        name it came from.
    pinned: whether a checksum pins one archive (then go_toolchain_sha256 must be 64 hex digits and
      go_toolchain_version exact). By default, whenever go_toolchain_sha256 is not empty; the module,
      which always installs one verified archive, passes True.
    """
    errors = []
    for name in ('go_toolchain_install_root', 'go_toolchain_link'):
        if name in settings and not _text(settings[name]).startswith('/'):
            errors.append('%s must be an absolute path, got "%s".' % (name, _text(settings[name])))
    if 'go_toolchain_bin_dirs' in settings:
        relative = [_text(d) for d in settings['go_toolchain_bin_dirs'] or [] if not _text(d).startswith('/')]
        if relative:
            errors.append('go_toolchain_bin_dirs entries must be absolute paths, got: %s' % ', '.join(relative))
    version = _text(settings.get('go_toolchain_version'))
    if 'go_toolchain_version' in settings and not is_request(version):
        errors.append('go_toolchain_version "%s" is not a Go version: use "latest", a minor such as "1.27" or an '
                      'exact version such as "1.27.3".' % version)
    if 'goarch' in settings and _text(settings['goarch']) == '':
        errors.append('This host\'s architecture (ansible_architecture) "%s" has no official Go archive; set '
                      'go_toolchain_arch to one of %s if you know the mapping.'
                      % (_text(settings.get('ansible_architecture')) or 'unknown', ', '.join(GOARCHES)))
    sha256 = _text(settings.get('go_toolchain_sha256'))
    if pinned is None:
        pinned = sha256 != ''
    if pinned:
        if not _SHA256_ANY_CASE_RE.fullmatch(sha256):
            errors.append('go_toolchain_sha256 must be 64 hex digits.')
        if 'go_toolchain_version' in settings and not is_exact(version):
            errors.append('go_toolchain_sha256 pins one archive, so go_toolchain_version must be an exact version '
                          'such as "1.27.3", not "%s".' % version)
    if 'go_toolchain_keep_versions' in settings and _as_int(settings['go_toolchain_keep_versions']) < 1:
        errors.append('go_toolchain_keep_versions must be at least 1.')
    return errors
