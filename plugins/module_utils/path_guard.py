# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse path variables that would point a role's writes, recursive repairs or removals at the system.

One set of rules for every role, run by the modules on the host before they change anything:

- every path is absolute and normal (no ``..``, no ``//``, no trailing ``/``);
- a directory the role owns (a cache, an install root, a metrics directory) is never ``/`` or a
  system tree (``/usr``, ``/usr/bin``, ``/etc``, ``/var/lib``, ``/home``, ...), nor a directory
  above one, nor an account's home directory or a directory above one;
- none of its parents is a symlink (the target could be anywhere), and it is not a symlink itself;
- an existing, non-empty directory must look like what the role would put there (a Go build
  cache, a module cache, installed toolchains, textfile metrics), unless the caller adopts it;
- a file the role writes never replaces a file that lacks the role's marker (and the error names the
  package that owns it, if one does).

Standard library only: the go-cache-health program runs without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re
import stat

MARKER = 'go-buildhost'

# Directories that are the system itself: never a cache, an install root or a metrics directory.
SYSTEM_TREES = frozenset((
    '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/lost+found',
    '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/snap', '/srv', '/sys', '/tmp', '/usr', '/var',
    '/usr/bin', '/usr/sbin', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/libx32', '/usr/libexec',
    '/usr/include', '/usr/share', '/usr/src', '/usr/games', '/usr/local', '/usr/local/bin', '/usr/local/sbin',
    '/usr/local/lib', '/usr/local/libexec', '/usr/local/share', '/usr/local/include', '/usr/local/src',
    '/usr/local/etc', '/usr/local/games', '/usr/local/man',
    '/var/cache', '/var/lib', '/var/log', '/var/spool', '/var/tmp', '/var/mail', '/var/opt', '/var/backups',
    '/var/local', '/var/run', '/var/lock', '/var/www', '/var/lib/dpkg', '/var/lib/apt', '/var/cache/apt',
    '/var/lib/systemd', '/var/lib/prometheus',
    '/etc/systemd', '/etc/systemd/system', '/etc/default', '/etc/ssl', '/etc/pam.d', '/etc/security',
    '/etc/sudoers.d', '/etc/profile.d', '/etc/sysctl.d', '/etc/cron.d', '/etc/apt', '/etc/ansible',
    '/etc/ansible/facts.d', '/etc/prometheus', '/usr/lib/systemd', '/lib/systemd',
))

# Trees whose every subdirectory belongs to the system: a cache, repaired recursively, never lives below
# them, whatever the opt-in says (group-writable files there would let a member change what root runs).
SYSTEM_PREFIXES = ('/usr', '/etc', '/boot', '/proc', '/sys', '/dev', '/run', '/bin', '/sbin', '/lib', '/lib32',
                   '/lib64', '/libx32', '/root', '/var/lib/dpkg', '/var/lib/apt', '/var/lib/systemd')

_VERSION_DIR = re.compile(r'^(go)?[0-9]+[.][0-9]+([.][0-9]+)?((beta|rc)[0-9]+)?$')
_HEX2 = re.compile(r'^[0-9a-f]{2}$')
_OWN_TEMP = ('.tmp-go-buildhost-', '.go-buildhost')


class Refused(Exception):
    """A path that must not be used; the message names the variable and what to do."""


def homes():
    """Every account's home directory (but /, /nonexistent and the like)."""
    found = set()
    for entry in pwd.getpwall():
        home = os.path.normpath(entry.pw_dir or '/')
        if home != '/' and os.path.isdir(home):
            found.add(home)
    return found


def syntax_error(path, var):
    """Why path is not an absolute, normal path, or None."""
    if not isinstance(path, str) or not path.startswith('/'):
        return '%s must be an absolute path, got %r.' % (var, path)
    if path != '/' and (path != os.path.normpath(path) or path.endswith('/')):
        return ('%s must be a normal absolute path (no "..", "." or "//", no trailing "/"), got %r; '
                'did you mean %r?' % (var, path, os.path.normpath(path)))
    return None


def _is_above(path, other):
    return other == path or other.startswith(path.rstrip('/') + '/')


def system_tree(path, accounts=None):
    """The system tree or home directory that path is, or contains, or None."""
    for tree in sorted(SYSTEM_TREES):
        if _is_above(path, tree):
            return tree
    for home in sorted(accounts if accounts is not None else homes()):
        if _is_above(path, home):
            return home
    return None


def symlinked_parent(path, allowed=()):
    """The first directory above path that is a symlink (not in allowed), or None."""
    parent = os.path.dirname(path)
    chain = []
    while parent not in ('/', ''):
        chain.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(chain):
        if directory in allowed:
            continue
        if os.path.islink(directory):
            return directory
    return None


def looks_like(kind, path, entries):
    """Whether a non-empty directory holds what a role of this kind would put there."""
    names = [e for e in entries if not e.startswith(_OWN_TEMP)]
    names = [n for n in names if n != 'lost+found']  # a dedicated filesystem's root
    if kind == 'build_cache':  # fuzz: go test -fuzz's corpus; remote: the go_cache role's GOCACHEPROG tier
        return all(_HEX2.match(n) or n in ('README', 'trim.txt', 'testexpire.txt', 'fuzz', 'remote') for n in names)
    if kind == 'mod_cache':
        return os.path.isdir(os.path.join(path, 'cache', 'download')) and all(
            n == 'cache' or '.' in n or n == 'sumdb' for n in names)
    if kind == 'install_root':
        return all(_VERSION_DIR.match(n) or n == 'bin' for n in names)  # bin: go_toolchain's launcher
    if kind == 'cache_store':  # go_cache_server's: nginx's files, and its temporary PUT bodies
        return all(n in ('ac', 'cas', '.tmp') for n in names)
    return False


def check_dir(path, var, kind, *, adopt=False, adopt_var=None, accounts=None, owned=None):
    """Refuse a directory the role creates, owns or repairs recursively; return what exists.

    kind: build_cache, mod_cache, install_root, metrics_dir (what looks_like() expects in it).
    owned(st) may tell that an existing directory is already the role's (e.g. the cache group and
    setgid), which skips the content check. Returns True when the directory exists.
    """
    error = syntax_error(path, var)
    if error:
        raise Refused(error)
    tree = system_tree(path, accounts)
    if tree == path:
        raise Refused('%s is %s, a system directory%s: the role would take it over. Choose a directory '
                      'of its own, such as %s.' % (
                          var, path, ' (an account\'s home)' if tree not in SYSTEM_TREES else '',
                          _example(kind)))
    below = [p for p in SYSTEM_PREFIXES if _is_above(p, path)] \
        if kind in ('build_cache', 'mod_cache', 'cache_store') else []
    if below:
        raise Refused('%s is %s, inside %s, which belongs to the system: a shared cache there would make system '
                      'files writable by its group. Choose a directory such as %s.' % (
                          var, path, below[0], _example(kind)))
    if tree:
        raise Refused('%s is %s, which holds %s: the role would take over a system directory. Choose a '
                      'directory of its own, such as %s.' % (var, path, tree, _example(kind)))
    link = symlinked_parent(path)
    if link:
        raise Refused('%s is %s, below the symlink %s (-> %s): the role would follow it wherever it points. '
                      'Give the real path.' % (var, path, link, os.readlink(link)))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise Refused('%s is %s, a symlink to %s: give the real directory instead.' % (var, path, os.readlink(path)))
    if not stat.S_ISDIR(st.st_mode):
        raise Refused('%s is %s, which exists and is not a directory. Move it away or choose another path.'
                      % (var, path))
    # The role writes one file into a metrics directory and never walks it: other exporters' files may stay.
    if adopt or kind == 'metrics_dir' or (owned is not None and owned(st)):
        return True
    entries = os.listdir(path)
    if entries and not looks_like(kind, path, entries):
        shown = ', '.join(sorted(entries)[:5]) + (', ...' if len(entries) > 5 else '')
        opt_in = (', or set %s: true to let the role take it over%s' % (
            adopt_var, ' (its content gets the cache\'s group and permissions)' if kind.endswith('_cache') else ''))\
            if adopt_var else ''
        raise Refused('%s is %s, an existing directory that does not look like %s (it holds %s). Choose an '
                      'empty or new directory%s.' % (var, path, _WHAT[kind], shown, opt_in))
    return True


_WHAT = {'build_cache': 'a Go build cache', 'mod_cache': 'a Go module cache', 'cache_store': 'a fleet cache store',
         'install_root': 'installed Go toolchains', 'metrics_dir': 'a directory of textfile metrics (*.prom)'}
_EXAMPLES = {'build_cache': '/var/cache/go/build', 'mod_cache': '/var/cache/go/mod',
             'install_root': '/usr/local/lib/go', 'metrics_dir': '/var/lib/prometheus/node-exporter',
             'cache_store': '/var/cache/go-cache-server'}


def _example(kind):
    return _EXAMPLES.get(kind, '/var/lib/<name>')


def check_file(path, var, *, package_owner=None, marker=MARKER, accounts=None):
    """Refuse a file path that would replace a file the roles did not write.

    package_owner(path) returns the package (dpkg) that owns path, or None. marker is the line (or a
    tuple of lines, e.g. with an earlier release's) that the role's own file carries. Returns True when
    the file exists (and is the role's).
    """
    error = syntax_error(path, var)
    if error:
        raise Refused(error)
    if path in SYSTEM_TREES or system_tree(path, accounts) == path:
        raise Refused('%s is %s, a system directory, not a file path. Give the path of a file of the role\'s '
                      'own.' % (var, path))
    link = symlinked_parent(path)
    if link:
        raise Refused('%s is %s, below the symlink %s (-> %s): give the real path.'
                      % (var, path, link, os.readlink(link)))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise Refused('%s is %s, which exists and is not a regular file. Move it away or choose another path.'
                      % (var, path))
    if has_marker(path, marker):
        return True  # the roles wrote it (a package's file never carries the marker): no dpkg call on a no-op
    owner = package_owner(path) if package_owner else None
    if owner:
        raise Refused('%s is %s, a file of the installed package %s: the role never replaces it. Choose another '
                      'path.' % (var, path, owner))
    raise Refused('%s is %s, an existing file that the role did not write (it has no "%s" line): the role '
                  'never replaces it. Move it away, or choose another path.'
                  % (var, path, marker if isinstance(marker, str) else marker[0]))


def has_marker(path, marker=MARKER, head=4096):
    """Whether the start of path holds marker (or one of the markers in a tuple)."""
    markers = (marker,) if isinstance(marker, str) else tuple(marker)
    try:
        with open(path, 'rb') as handle:
            start = handle.read(head)
    except OSError:
        return False
    return any(m.encode() in start for m in markers)


def dpkg_owner(run_command, dpkg_query):
    """A package_owner() for check_file: run_command(argv) -> (rc, out, err), as AnsibleModule's."""
    def owner(path):
        if not dpkg_query:
            return None
        candidates = [path]
        real = os.path.realpath(os.path.dirname(path))
        if real != os.path.dirname(path):
            candidates.append(os.path.join(real, os.path.basename(path)))  # merged /usr: /bin/x is /usr/bin/x
        alias = path[len('/usr'):]  # /usr/bin/x -> /bin/x
        if path.startswith('/usr/') and os.path.islink('/' + alias.split('/')[1]):
            candidates.append(alias)  # dpkg may list /usr/bin/x as /bin/x on a merged-/usr host
        for candidate in candidates:
            rc, out, _err = run_command([dpkg_query, '--search', '--', candidate])
            if rc == 0:
                for line in out.splitlines():
                    packages, _sep, owned_path = line.partition(': ')
                    if owned_path.strip() == candidate and not packages.startswith('diversion by'):
                        return packages.strip()
        return None
    return owner
