#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_toolchain
short_description: Install Go toolchains side by side and switch between them atomically
description:
  - Reads, compares and, if needed, writes the whole toolchain state in one call.
  - Each version lives in I(install_root)/I(version). A new version is downloaded or taken from
    I(archive), its sha256 verified, extracted into a temporary directory on the same filesystem,
    checked by running its own C(bin/go version), and only then renamed into place.
  - I(link) is switched by renaming a new symlink over the old one, so there is never a moment
    without a working C(go) behind it. C(gofmt) in I(bin_dirs) points at I(link); C(go) points at a
    small launcher, I(install_root)/bin/go, which runs I(link)/bin/go and, for accounts that can write the
    shared caches listed in C(/etc/go-buildhost/shared-caches.env) (the go_cache role writes it), sets
    GOCACHE and GOMODCACHE to them, and GOCACHEPROG to the fleet cache helper listed there when the
    shared build cache was set and the active toolchain is Go 1.24 or later. Everyone else keeps Go's own
    per-user caches.
  - Before anything changes, refuses paths that could hurt the system (C(module_utils/path_guard.py));
    I(install_root) and I(link) as system trees, account homes or below a symlink; an I(install_root) that
    holds something else than toolchains (unless I(adopt_install_root)); a C(go) or C(gofmt) in I(bin_dirs)
    that this module did not create stops the run, except a distribution package's (such as
    C(/usr/bin/go) of C(golang-go)), which is left alone with a warning naming the package.
  - Entries named C(.tmp-go-buildhost-*) left by an interrupted run are removed first.
  - Versions beyond I(keep_versions) are removed, never the active one.
  - Writes a local fact file with the active version, GOROOT and the installed versions.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  state:
    description: C(present) installs and activates I(version); C(absent) removes everything this module installed.
    type: str
    choices: [present, absent]
    default: present
  version:
    description: Exact Go version to activate, without the C(go) prefix, e.g. C(1.27.3). Required with I(state=present).
    type: str
  sha256:
    description: Expected sha256 of the archive. Required with I(state=present); there is no way to skip the check.
    type: str
  url:
    description:
      - Where to download the archive (C(http://), C(https://) or C(file://)).
      - Used only when the version is not installed and I(archive) does not exist.
    type: str
  archive:
    description: Path on the host of an archive copied there beforehand. Deleted once it has been used.
    type: path
  goarch:
    description: The GOARCH the archive is built for; C(go version) of the new tree must report it.
    type: str
    default: amd64
  install_root:
    description: Absolute directory holding one subdirectory per installed version.
    type: path
    default: /usr/local/lib/go
  link:
    description: Absolute path of the symlink that names the active GOROOT.
    type: path
    default: /usr/local/go
  bin_dirs:
    description:
      - Directories that get C(go) and C(gofmt) symlinks (to the launcher and through I(link)).
      - C(/usr/bin) is on the default PATH of cron jobs, C(/usr/local/bin) on that of shells, services and sudo.
    type: list
    elements: path
    default: [/usr/local/bin, /usr/bin]
  adopt_install_root:
    description: Accept an existing I(install_root) that holds other things than installed toolchains.
    type: bool
    default: false
  keep_versions:
    description: How many versions to keep installed, the active one included.
    type: int
    default: 2
  fact_path:
    description: Local fact file to write; an empty string writes none.
    type: str
    default: /etc/ansible/facts.d/go_toolchain.fact
  timeout:
    description: Seconds to wait for the download to start.
    type: int
    default: 60
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports what would change, including C(archive_needed), without downloading anything.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Shows the link target, the installed versions and the command links before and after.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure Go 1.27.3 is installed and active
  go_buildhost.buildhost.go_toolchain:
    version: 1.27.3
    sha256: "{{ go_release.files.amd64.sha256 }}"
    url: "{{ go_release.files.amd64.url }}"

- name: Remove every toolchain this module installed
  go_buildhost.buildhost.go_toolchain:
    state: absent
'''

RETURN = r'''
skipped_commands:
  description: Commands in I(bin_dirs) left alone because an installed package (dpkg) owns them (see the warning).
  returned: with I(state=present)
  type: list
  elements: str
version:
  description: The active version after the run (C(null) after I(state=absent)).
  returned: always
  type: str
  sample: 1.27.3
previous_version:
  description: The version the link pointed at before the run, if any.
  returned: always
  type: str
  sample: 1.26.6
goroot:
  description: The active GOROOT, the version's own directory.
  returned: always
  type: str
  sample: /usr/local/lib/go/1.27.3
installed_versions:
  description: Versions installed after the run, oldest first.
  returned: always
  type: list
  elements: str
removed_versions:
  description: Versions removed by this run.
  returned: always
  type: list
  elements: str
goarch:
  description: The GOARCH the run installed or checked for.
  returned: always
  type: str
  sample: amd64
archive_needed:
  description: Whether the version had to be (or, in check mode, would have to be) installed from an archive.
  returned: always
  type: bool
actions:
  description: What the run did, or would do in check mode, one line per step.
  returned: always
  type: list
  elements: str
'''

import errno
import hashlib
import os
import shlex
import shutil
import tempfile

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import (
    Refused, check_dir, dpkg_owner, has_marker, symlinked_parent, system_tree,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import (
    TMP_PREFIX, fsync_dir, list_temporaries, remove_tree, replace_symlink, sweep)
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_version import is_release, parse_release
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_toolchain_rules import toolchain_errors
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import LocalFact
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet

COMMANDS = ('go', 'gofmt')
CHUNK = 1024 * 1024
SHARED_CACHES = '/etc/go-buildhost/shared-caches.env'
LAUNCHER_MARKER = 'go-buildhost (go_toolchain)'
LAUNCHER = '''#!/bin/sh
# go-buildhost (go_toolchain): the go command of the active toolchain, %(go)s.
# A member of the group named in %(conf)s (written by the go_cache role) whose
# process has that group and can write the shared Go caches listed there uses them; every other
# account, root included, keeps Go's own per-user caches, so that no default ever leaves an account
# unable to build, and nothing a member writes into a shared cache is ever run by root.
# GOCACHE or GOMODCACHE set by the caller win. The fleet cache helper listed there (GOCACHEPROG)
# goes only with the shared build cache this launcher handed out (its local tier lives in it), and
# only to a Go that speaks the protocol (1.24 and later); a caller's GOCACHEPROG, even empty, wins.
if [ -r %(conf)s ] && [ "$(id -u)" != 0 ]; then
    go_buildhost_group= go_buildhost_prog= go_buildhost_shared=
    while IFS='=' read -r go_buildhost_key go_buildhost_value || [ -n "$go_buildhost_key" ]; do
        case $go_buildhost_key in
            GROUP) go_buildhost_group=$go_buildhost_value ;;
            GOCACHEPROG) go_buildhost_prog=$go_buildhost_value ;;
            GOCACHE|GOMODCACHE)
                case " $(id -Gn 2>/dev/null) " in *" $go_buildhost_group "*) ;; *) continue ;; esac
                [ -n "$go_buildhost_group" ] && [ -d "$go_buildhost_value" ] && [ -w "$go_buildhost_value" ] &&
                    [ -x "$go_buildhost_value" ] || continue
                if [ "$go_buildhost_key" = GOCACHE ]; then
                    [ -n "${GOCACHE:-}" ] || { GOCACHE=$go_buildhost_value; export GOCACHE; go_buildhost_shared=1; }
                else
                    [ -n "${GOMODCACHE:-}" ] || { GOMODCACHE=$go_buildhost_value; export GOMODCACHE; }
                fi ;;
        esac
    done < %(conf)s
    if [ -n "$go_buildhost_prog" ] && [ -n "$go_buildhost_shared" ] && [ -z "${GOCACHEPROG+set}" ] &&
            [ -r %(version)s ]; then
        go_buildhost_version=
        read -r go_buildhost_version 2>/dev/null < %(version)s || true
        case $go_buildhost_version in
            go1.2[4-9]*|go1.[3-9][0-9]*|go1.[1-9][0-9][0-9]*|go[2-9]*)
                GOCACHEPROG=$go_buildhost_prog; export GOCACHEPROG ;;
        esac
    fi
    unset go_buildhost_group go_buildhost_key go_buildhost_value go_buildhost_prog go_buildhost_shared \
        go_buildhost_version
fi
exec %(go)s "$@"
'''


class Toolchain(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.root = params['install_root']
        self.link = params['link']
        self.bin_dirs = params['bin_dirs']
        self.fact_path = params['fact_path']
        self.launcher = os.path.join(self.root, 'bin', 'go')
        self.skipped = []
        self.actions = []
        self.removed = []

    def launcher_text(self):
        return LAUNCHER % dict(go=shlex.quote(os.path.join(self.link, 'bin', 'go')), conf=shlex.quote(SHARED_CACHES),
                               version=shlex.quote(os.path.join(self.link, 'VERSION')))

    def launcher_ours(self):
        """Whether install_root/bin/go is missing or the launcher this module wrote (never someone's go)."""
        if not os.path.lexists(self.launcher):
            return True
        return os.path.isfile(self.launcher) and not os.path.islink(self.launcher) and \
            has_marker(self.launcher, LAUNCHER_MARKER)

    def fail_launcher(self):
        self.module.fail_json(
            msg='%s exists and is not the go launcher this role writes (it has no "%s" line): a Go installed '
                'by hand in go_toolchain_install_root? Move it away, or choose another go_toolchain_install_root; '
                'nothing was changed.' % (self.launcher, LAUNCHER_MARKER))

    def want_link(self, command):
        return self.launcher if command == 'go' else os.path.join(self.link, 'bin', command)

    # ---- reading -------------------------------------------------------
    def installed(self):
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        found = [n for n in names if is_release(n) and not n.startswith('go')
                 and os.path.isfile(os.path.join(self.root, n, 'bin', 'go'))]
        return sorted(found, key=parse_release)

    def link_target(self):
        if os.path.islink(self.link):
            return os.readlink(self.link)
        if os.path.lexists(self.link):
            self.module.fail_json(
                msg='%s (go_toolchain_link) exists and is not a symlink: a Go install not made by this role? '
                    'Move it away (for example mv %s %s.manual) and run again; nothing was changed.'
                    % (self.link, self.link, self.link))
        return None

    def active_version(self, target):
        if target and os.path.dirname(target.rstrip('/')) == self.root.rstrip('/'):
            name = os.path.basename(target.rstrip('/'))
            if is_release(name):
                return name
        return None

    def temporaries(self, keep):
        places = [self.root, os.path.dirname(self.link)] + list(self.bin_dirs)
        found = []
        for place in dict.fromkeys(places):
            found.extend(list_temporaries(place, keep=keep))
        return found

    def bin_link_state(self):
        """Return the bin links that must be (re)made; fail on ones we do not own."""
        todo = []
        for directory in self.bin_dirs:
            for command in COMMANDS:
                path = os.path.join(directory, command)
                want = self.want_link(command)
                if os.path.islink(path):
                    have = os.readlink(path)
                    if have == want:
                        continue
                    if not (have.startswith(self.link + '/') or have.startswith(self.root + '/')):
                        self.unmanaged(path, 'a symlink to %s' % have)
                        continue
                elif os.path.lexists(path):
                    self.unmanaged(path, 'a file')
                    continue
                todo.append((path, want))
        return todo

    def unmanaged(self, path, what):
        """A go or gofmt this module did not create: a package's is left alone with a warning, any other stops."""
        owner = dpkg_owner(self.module.run_command, self.module.get_bin_path('dpkg-query'))(path)
        if owner:
            self.skipped.append(path)
            self.module.warn(
                '%s belongs to the installed package %s, and go_toolchain never replaces a package\'s file: it is left '
                'as it is, so whatever finds %s first (cron jobs, with PATH=/usr/bin:/bin) runs the package\'s Go, '
                'not this one. Remove the package (apt-get remove %s) to use this role\'s Go there, or take %s out '
                'of go_toolchain_bin_dirs to silence this warning.'
                % (path, owner, path, owner, os.path.dirname(path)))
            return
        self.module.fail_json(
            msg='%s is %s that go_toolchain did not create (a distribution golang package?). Remove it, '
                'or take %s out of go_toolchain_bin_dirs; nothing was changed.'
                % (path, what, os.path.dirname(path)))

    def fact_data(self, version, installed):
        return {
            'active_version': version,
            'goroot': os.path.join(self.root, version) if version else None,
            'link': self.link,
            'install_root': self.root,
            'installed_versions': installed,
        }

    # ---- writing -------------------------------------------------------
    def fetch(self, url, dest, timeout):
        if url.startswith('file://'):
            opened = open(url[len('file://'):], 'rb')  # noqa: SIM115 - closed by the with below
        else:
            from ansible.module_utils.urls import open_url  # noqa: PLC0415 - heavy; a no-op run never needs it
            opened = open_url(url, timeout=timeout, http_agent='go-buildhost')
        digest = hashlib.sha256()
        with opened as source, open(dest, 'wb') as out:
            for chunk in iter(lambda: source.read(CHUNK), b''):
                digest.update(chunk)
                out.write(chunk)
        return digest.hexdigest()

    def extract(self, archive, version, sha256, goarch, url):
        params = self.module.params
        digest = None
        workdir = tempfile.mkdtemp(prefix=TMP_PREFIX + 'extract-%s-' % version, dir=self.root)
        try:
            if archive is None:
                archive = os.path.join(workdir, 'go.tar.gz')
                try:
                    digest = self.fetch(url, archive, params['timeout'])
                except Exception as exc:
                    self.fail('Cannot download %s (go_toolchain_mirror): %s. Check go_toolchain_mirror and the '
                              "host's network, or set go_toolchain_download_on_controller: true."
                              % (url, to_native(exc)))
            else:
                digest = sha256_file(archive)
            if digest != sha256:
                self.fail('Checksum mismatch for %s: expected sha256 %s (from the release index or '
                          'go_toolchain_sha256) but the file has %s. It is corrupted or truncated. Delete any '
                          'cached copy on the controller and run again; nothing was changed.'
                          % (url or archive, sha256, digest))
            self.actions.append('verified sha256 %s' % sha256)
            tar = self.module.get_bin_path('tar', required=True)
            tree = os.path.join(workdir, 'tree')
            os.mkdir(tree, 0o755)
            rc, _out, err = self.module.run_command(
                [tar, '-xzf', archive, '-C', tree, '--no-same-owner', '--no-same-permissions'],
                environ_update={'LC_ALL': 'C'})
            if rc != 0:
                self.fail('Extracting %s into %s (go_toolchain_install_root) failed: %s. Free space or inodes '
                          'on that filesystem, or choose another go_toolchain_install_root; the active '
                          'toolchain was not touched.' % (url or archive, self.root, err.strip()))
            top = sorted(os.listdir(tree))
            if top != ['go'] or not os.path.isdir(os.path.join(tree, 'go')):
                self.fail('%s is not an official Go archive: its top directory must be go/, found %s. '
                          'Check go_toolchain_mirror or go_toolchain_archive_src; nothing was changed.'
                          % (url or archive, ', '.join(top) or 'nothing'))
            self.check_go(os.path.join(tree, 'go'), version, goarch)
            os.rename(os.path.join(tree, 'go'), os.path.join(self.root, version))
            fsync_dir(self.root)
            self.actions.append('installed %s into %s' % (version, os.path.join(self.root, version)))
        finally:
            if os.path.isdir(workdir):
                shutil.rmtree(workdir, ignore_errors=True)
            if params['archive'] and os.path.exists(params['archive']):
                os.unlink(params['archive'])

    def check_go(self, goroot, version, goarch):
        go = os.path.join(goroot, 'bin', 'go')
        rc, out, err = self.module.run_command(
            [go, 'version'], cwd=goroot,
            environ_update={'GOTOOLCHAIN': 'local', 'GOROOT': goroot, 'GOENV': 'off', 'GOFLAGS': ''})
        expected = 'go version go%s linux/%s' % (version, goarch)
        if rc != 0 or out.strip() != expected:
            self.fail('The extracted toolchain does not run as expected: "%s version" printed %r (rc=%d, %s), '
                      'expected %r. Check go_toolchain_version and go_toolchain_arch; nothing was changed.'
                      % (go, out.strip(), rc, err.strip(), expected))

    def fail(self, msg):
        self.module.fail_json(msg=msg, actions=self.actions)

    def prune(self, installed, active, keep):
        others = [v for v in reversed(installed) if v != active]
        doomed = others[max(keep - 1, 0):]
        return sorted(doomed, key=parse_release)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def describe(link, target, installed, bin_links):
    lines = ['%s -> %s' % (link, target or '(none)'),
             'installed: %s' % (', '.join(installed) or '(none)')]
    lines.extend('%s -> %s' % pair for pair in bin_links)
    return '\n'.join(lines) + '\n'


def current_bin_links(bin_dirs):
    pairs = []
    for directory in bin_dirs:
        for command in COMMANDS:
            path = os.path.join(directory, command)
            if os.path.islink(path):
                pairs.append((path, os.readlink(path)))
    return pairs


def validate(module):
    """Refuse, with every problem listed at once, settings the role's check refuses too (go_toolchain_rules)."""
    params = module.params
    settings = {
        'go_toolchain_install_root': params['install_root'] or '',
        'go_toolchain_link': params['link'] or '',
        'go_toolchain_bin_dirs': params['bin_dirs'],
        'go_toolchain_keep_versions': params['keep_versions'],
    }
    present = params['state'] == 'present'
    if present:
        # One archive, verified against its checksum: the version must be exact, the sha256 well formed.
        settings.update(go_toolchain_version=params['version'] or '', go_toolchain_sha256=params['sha256'] or '')
    errors = toolchain_errors(settings, pinned=present)
    if errors:
        module.fail_json(msg=' '.join(errors) + ' Nothing was changed.', refused=errors)
    if present:
        params['sha256'] = params['sha256'].lower()
        params['install_root'] = params['install_root'].rstrip('/') or '/'
        params['link'] = params['link'].rstrip('/')


def guard(module):
    """Refuse, before anything changes, paths that would point the module at the system."""
    params = module.params
    errors = []
    try:
        # Removal takes away only the toolchains it installed: other content may stay.
        check_dir(params['install_root'], 'go_toolchain_install_root', 'install_root',
                  adopt=params['adopt_install_root'] or params['state'] == 'absent',
                  adopt_var='go_toolchain_adopt_install_root')
    except Refused as exc:
        errors.append(str(exc))
    link = params['link']
    tree = system_tree(link)
    if tree:
        errors.append('go_toolchain_link is %s, %s: the role replaces it with a symlink. Use a path of its '
                      'own, such as /usr/local/go.' % (link, 'a system directory' if tree == link else
                                                       'which holds %s' % tree))
    elif symlinked_parent(link):
        errors.append('go_toolchain_link is %s, below the symlink %s: give the real path.'
                      % (link, symlinked_parent(link)))
    for directory in params['bin_dirs']:
        if os.path.normpath(directory) != directory.rstrip('/') or directory != directory.rstrip('/') or \
                directory == '/':
            errors.append('go_toolchain_bin_dirs entries must be normal absolute directories, got %r.' % directory)
        elif os.path.islink(directory) or symlinked_parent(directory):
            errors.append('go_toolchain_bin_dirs lists %s, which is or is below a symlink (%s): give the real '
                          'directory (for example /usr/bin rather than /bin).' % (
                              directory, directory if os.path.islink(directory) else symlinked_parent(directory)))
    if errors:
        module.fail_json(msg=' '.join(errors) + ' Nothing was changed.', refused=errors)


def present(module, tc):
    params = module.params
    version = params['version']
    target = tc.link_target()
    previous = tc.active_version(target)
    installed = tc.installed()
    want_target = os.path.join(tc.root, version)
    leftovers = tc.temporaries(keep=[params['archive']] if params['archive'] else [])
    if not tc.launcher_ours():
        tc.fail_launcher()
    bin_todo = tc.bin_link_state()
    # The launcher is the one file it writes (the rest are trees and links): the managed-file engine.
    launcher_files = FileSet()
    launcher_changed = launcher_files.want(tc.launcher, tc.launcher_text(), mode=0o755).changed
    need_install = version not in installed
    after_installed = sorted(set(installed) | {version}, key=parse_release)
    doomed = tc.prune(after_installed, version, params['keep_versions'])
    final_installed = [v for v in after_installed if v not in doomed]
    fact = LocalFact(tc.fact_path)
    fact_data = tc.fact_data(version, final_installed)
    fact_changed = fact.needs_write(fact_data)

    if leftovers:
        tc.actions.append('remove leftovers of an interrupted run: %s' % ', '.join(leftovers))
    if need_install:
        tc.actions.append('install %s into %s' % (version, want_target))
    if target != want_target:
        tc.actions.append('switch %s from %s to %s' % (tc.link, target or '(none)', want_target))
    if launcher_changed:
        tc.actions.append('write the go launcher %s' % tc.launcher)
    tc.actions.extend('link %s -> %s' % pair for pair in bin_todo)
    tc.actions.extend('remove %s' % os.path.join(tc.root, v) for v in doomed)
    if fact_changed:
        tc.actions.append('write %s' % tc.fact_path)

    changed = bool(tc.actions)
    result = dict(changed=changed, version=version, previous_version=previous, goroot=want_target,
                  installed_versions=final_installed, removed_versions=doomed,
                  archive_needed=need_install, goarch=params['goarch'], skipped_commands=tc.skipped)
    if module._diff and changed:
        wanted_links = sorted({(p, tc.want_link(os.path.basename(p)))
                               for p, _target in current_bin_links(tc.bin_dirs)} | set(bin_todo))
        result['diff'] = dict(
            before_header='go toolchain', after_header='go toolchain',
            before=describe(tc.link, target, installed, current_bin_links(tc.bin_dirs)),
            after=describe(tc.link, want_target, final_installed, wanted_links))
    if not changed or module.check_mode:
        module.exit_json(actions=tc.actions, **result)

    if not params['url'] and not (params['archive'] and os.path.exists(params['archive'])) and need_install:
        tc.fail('Go %s must be installed but no archive was given: set go_toolchain_mirror, '
                'go_toolchain_download_on_controller or go_toolchain_archive_src.' % version)

    try:
        sweep(leftovers)
        if need_install:
            if not os.path.isdir(tc.root):
                os.makedirs(tc.root, 0o755)
            archive = params['archive'] if params['archive'] and os.path.exists(params['archive']) else None
            tc.extract(archive, version, params['sha256'], params['goarch'], None if archive else params['url'])
        else:
            tc.check_go(want_target, version, params['goarch'])
        if target != want_target:
            parent = os.path.dirname(tc.link)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            replace_symlink(tc.link, want_target)
        if launcher_changed:
            launcher_files.apply()
        for path, want in bin_todo:
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o755)
            replace_symlink(path, want)
        for old in doomed:
            remove_tree(os.path.join(tc.root, old))
        if fact_changed:
            fact.write(fact_data)
    except (IOError, OSError) as exc:
        hint = ''
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            hint = ' Free space on the filesystem of go_toolchain_install_root (%s).' % tc.root
        tc.fail('Changing the toolchain failed: %s.%s The previously active toolchain is still active '
                'unless the switch itself was reported.' % (to_native(exc), hint))
    module.exit_json(actions=tc.actions, **result)


def absent(module, tc):
    target = tc.link_target()
    installed = tc.installed()
    ours = []
    for directory in tc.bin_dirs:
        for command in COMMANDS:
            path = os.path.join(directory, command)
            if os.path.islink(path):
                have = os.readlink(path)
                if have.startswith(tc.link + '/') or have.startswith(tc.root + '/'):
                    ours.append(path)
    link_ours = target is not None and (target.startswith(tc.root + '/') or target == tc.root)
    leftovers = tc.temporaries(keep=[])
    fact = LocalFact(tc.fact_path)
    fact_exists = fact.exists
    root_exists = os.path.isdir(tc.root)
    launcher_exists = os.path.lexists(tc.launcher) and tc.launcher_ours()
    tc.actions.extend('remove %s' % p for p in ours)
    if link_ours:
        tc.actions.append('remove %s' % tc.link)
    if launcher_exists:
        tc.actions.append('remove %s' % tc.launcher)
    tc.actions.extend('remove %s' % os.path.join(tc.root, v) for v in installed)
    tc.actions.extend('remove %s' % p for p in leftovers)
    if fact_exists:
        tc.actions.append('remove %s' % tc.fact_path)
    changed = bool(tc.actions)
    result = dict(changed=changed, version=None, previous_version=tc.active_version(target), goroot=None,
                  installed_versions=[], removed_versions=installed, archive_needed=False,
                  goarch=module.params['goarch'], actions=tc.actions)
    if module._diff and changed:
        result['diff'] = dict(before_header='go toolchain', after_header='go toolchain',
                              before=describe(tc.link, target, installed, current_bin_links(tc.bin_dirs)),
                              after=describe(tc.link, None, [], []))
    if not changed or module.check_mode:
        module.exit_json(**result)
    for path in ours:
        os.unlink(path)
    if link_ours:
        os.unlink(tc.link)
    sweep(leftovers)
    for version in installed:
        remove_tree(os.path.join(tc.root, version))
    if launcher_exists:
        os.unlink(tc.launcher)
        if not os.listdir(os.path.dirname(tc.launcher)):
            os.rmdir(os.path.dirname(tc.launcher))
    if root_exists and not os.listdir(tc.root):
        os.rmdir(tc.root)
    if fact_exists:
        fact.remove()
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            version=dict(type='str'),
            sha256=dict(type='str', no_log=False),
            url=dict(type='str'),
            archive=dict(type='path'),
            goarch=dict(type='str', default='amd64'),
            install_root=dict(type='path', default='/usr/local/lib/go'),
            link=dict(type='path', default='/usr/local/go'),
            bin_dirs=dict(type='list', elements='path', default=['/usr/local/bin', '/usr/bin']),
            adopt_install_root=dict(type='bool', default=False),
            keep_versions=dict(type='int', default=2),
            fact_path=dict(type='str', default='/etc/ansible/facts.d/go_toolchain.fact'),
            timeout=dict(type='int', default=60),
            **lock_argument_spec(),
        ),
        required_if=[('state', 'present', ('version', 'sha256'))],
        supports_check_mode=True,
    )
    validate(module)
    guard(module)
    tc = Toolchain(module)
    with host_lock(module, 'go_toolchain state=%s version=%s' % (module.params['state'], module.params['version'])):
        if module.params['state'] == 'present':
            present(module, tc)
        else:
            absent(module, tc)


if __name__ == '__main__':
    main()
