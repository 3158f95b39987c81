# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel settings (sysctl) names, values, sysctl.d files and containers.

Used by the sysctl_profile module, and by the sysctl_tuning role's check through the
sysctl_tuning_errors filter (plugins/filter/sysctl_tuning.py). Everything that touches
/proc/sys or the sysctl.d directories takes the root or the directory list as an argument,
so the unit tests run against a fake tree in a temporary directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

# systemd-sysctl's directories, in its order of precedence for files of the same name.
SYSCTL_DIRS = ('/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d')

# Settings the kernel keeps per network or IPC namespace: a container may set its own.
# The same list Docker accepts for `docker run --sysctl`. Everything else (vm.*, fs.*,
# most of kernel.*) is host-wide and must be set on the host, never from a container.
NAMESPACED_PREFIXES = ('net.', 'fs.mqueue.')
NAMESPACED_KEYS = ('kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall',
                   'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced')

# Strings YAML 1.1 reads as booleans; a kernel setting never wants one.
BOOLEAN_WORDS = ('on', 'off', 'yes', 'no', 'true', 'false', 'y', 'n')

_INT_RE = re.compile(r'^[+-]?[0-9]+$')
# A drop-in's name: systemd-sysctl reads only *.conf files, and a name never starts with a dot or a dash.
_FILE_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.@+-]*[.]conf')
# Debian 12's link to /etc/sysctl.conf in /etc/sysctl.d: a drop-in of that name would replace it.
DEBIAN_SYSCTL_CONF_LINK = '99-sysctl.conf'
_KEY_CHARS_RE = re.compile(r'^[A-Za-z0-9_.:@+/-]+$')

ERRNO_NAMES = {errno.EINVAL: 'EINVAL', errno.EPERM: 'EPERM', errno.EACCES: 'EACCES', errno.EROFS: 'EROFS',
               errno.ENOENT: 'ENOENT', errno.EBUSY: 'EBUSY', errno.ERANGE: 'ERANGE'}


class SysctlError(ValueError):
    """A key or value that cannot be used; the message says why."""


def normalize_key(key):
    """Return (dotted name, path below /proc/sys) for a key in dotted or slash form.

    systemd-sysctl's rule: if the first separator is a slash, the name is a path and
    dots stay (net/ipv4/conf/eth0.100/rp_filter); if it is a dot, dots and slashes are
    swapped (net.ipv4.conf.eth0/100.rp_filter names the same file).
    """
    if not isinstance(key, str):
        raise SysctlError('the key %r is not a string' % (key,))
    if key == '':
        raise SysctlError('a key is empty')
    if any(char.isspace() for char in key):
        raise SysctlError('the key %r contains whitespace; write it as dotted (vm.swappiness) or slash '
                          '(vm/swappiness) notation without spaces' % key)
    if not _KEY_CHARS_RE.match(key):
        raise SysctlError('the key %r contains characters a kernel setting never has (globs, "=", quotes); '
                          'name one setting in dotted or slash notation' % key)
    first = min((i for i in (key.find('.'), key.find('/')) if i >= 0), default=-1)
    if first < 0:
        raise SysctlError('the key %r names no setting: a setting has at least two parts, such as '
                          'vm.swappiness' % key)
    path = key if key[first] == '/' else key.translate(str.maketrans('./', '/.'))
    parts = path.split('/')
    if any(part in ('', '.', '..') for part in parts) or parts[0].startswith('-'):
        raise SysctlError('the key %r is malformed (empty part, "..", or a leading "-")' % key)
    return path.translate(str.maketrans('/.', './')), path


def is_namespaced(dotted):
    return dotted.startswith(NAMESPACED_PREFIXES) or dotted in NAMESPACED_KEYS


def tokens(value):
    return value.split()


def values_equal(left, right):
    """Compare two values the way the kernel prints them (whitespace-separated fields)."""
    if left is None or right is None:
        return left is right
    return tokens(left) == tokens(right)


def is_int_value(value):
    fields = tokens(value)
    return bool(fields) and all(_INT_RE.match(field) for field in fields)


def format_value(value, live):
    """Return the value as the file and the kernel get it, checked against the live value.

    live is what the kernel prints for the key now: where it prints integers, the value
    must be the same number of decimal integers (multi-value keys such as
    net.ipv4.ip_local_port_range take all their fields, as "32768 60999" or a list).
    """
    if isinstance(value, bool):
        raise SysctlError('%s is a boolean, but kernel settings take numbers or strings: YAML reads on, off, '
                          'yes, no, true and false as booleans. Write 1 or 0' % value)
    if isinstance(value, float):
        raise SysctlError('%r is a fraction; kernel settings take integers' % value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise SysctlError('the list is empty')
        for item in value:
            if isinstance(item, (bool, float, list, tuple, dict)) or item is None:
                raise SysctlError('the list %r may hold only integers or words' % (list(value),))
        text = ' '.join(str(item) for item in value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise SysctlError('%r is a %s; give a number or a string' % (value, type(value).__name__))
    if text == '':
        raise SysctlError('the value is empty')
    if '\n' in text or '\r' in text:
        raise SysctlError('the value spans several lines')
    if text.lower() in BOOLEAN_WORDS:
        raise SysctlError('"%s" is a boolean word; kernel settings take numbers: write 1 or 0' % text)
    fields = tokens(text)
    if live is not None and is_int_value(live):
        expected = len(tokens(live))
        bad = [field for field in fields if not _INT_RE.match(field)]
        if bad:
            raise SysctlError('"%s" is not %s: the kernel expects %s (it holds "%s" now)'
                              % (text, 'an integer' if expected == 1 else 'a list of integers',
                                 'a decimal integer' if expected == 1 else '%d decimal integers' % expected,
                                 ' '.join(tokens(live))))
        if len(fields) != expected:
            raise SysctlError('"%s" has %d field%s, but the kernel holds %d ("%s"): give all of them, '
                              'separated by spaces' % (text, len(fields), '' if len(fields) == 1 else 's',
                                                       expected, ' '.join(tokens(live))))
        # Decimal and canonical: the kernel would read "010" as octal.
        fields = [str(int(field)) for field in fields]
    return ' '.join(fields)


def read_live(proc_root, path):
    """The value the kernel reports for path (below proc_root), whitespace-normalised."""
    with open(os.path.join(proc_root, path), 'rb') as handle:
        return ' '.join(tokens(handle.read().decode('utf-8', 'replace')))


def is_writable(full_path):
    """Whether this process may open the file for writing (a read-only mount says no)."""
    return os.access(full_path, os.W_OK)


def write_live(full_path, value):
    """Write one value the way `sysctl -w` does; OSError carries the kernel's errno."""
    fd = os.open(full_path, os.O_WRONLY)
    try:
        os.write(fd, (value + '\n').encode('utf-8'))
    finally:
        os.close(fd)


def describe_errno(exc):
    code = getattr(exc, 'errno', None)
    name = ERRNO_NAMES.get(code) or (errno.errorcode.get(code, 'errno %s' % code))
    return '%s: %s' % (name, os.strerror(code) if code else exc)


def parse_conf(text):
    """[(path below /proc/sys, value, line number)] of a sysctl.d file.

    Comments (# or ;), blank lines, exclusions ("-key" without "=") and globs are
    skipped: systemd never lets a glob override a key that some file names exactly.
    """
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in '#;' or '=' not in line:
            continue
        key, _sep, value = line.partition('=')
        key = key.strip()
        if key.startswith('-'):
            key = key[1:]
        if any(char in key for char in '*?['):
            continue
        try:
            _dotted, path = normalize_key(key)
        except SysctlError:
            continue
        found.append((path, value.strip(), number))
    return found


def read_conf(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


def ordered_files(dirs):
    """{file name: path} for every *.conf, the first directory winning a name, in systemd's order."""
    chosen = {}
    for directory in dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith('.conf'):
                chosen.setdefault(name, os.path.join(directory, name))
    return [(name, chosen[name]) for name in sorted(chosen)]


def overriding_files(dirs, own_path, wanted):
    """Keys of ours that another file sets to another value, with precedence at boot.

    wanted maps paths below /proc/sys to our values. Returns {path: [{'path',
    'line', 'value'}]} for each key that a file sorted after own_path sets to a
    different value, and for every key when a file of the same name in a
    directory of higher precedence hides own_path altogether.
    """
    own_dir, own_name = os.path.split(own_path)
    dirs = list(dirs)
    higher = dirs[:dirs.index(own_dir)] if own_dir in dirs else []
    hiding = next((os.path.join(d, own_name) for d in higher if os.path.lexists(os.path.join(d, own_name))), None)
    found = {}
    for name, path in ordered_files(dirs):
        if path == hiding:
            for key_path in sorted(wanted):
                found.setdefault(key_path, []).append(
                    {'path': path, 'line': 0, 'value': '(hides %s: systemd-sysctl reads this file instead)' % own_path})
            continue
        if name <= own_name:
            continue
        text = read_conf(path)
        if text is None:
            continue
        for key_path, value, number in parse_conf(text):
            if key_path in wanted and not values_equal(value, wanted[key_path]):
                found.setdefault(key_path, []).append({'path': path, 'line': number, 'value': value})
    return found


def detect_container(proc_root='/proc/sys', run_command=None, root='/'):
    """(True, evidence) when running inside a container, else (False, None).

    Cheap checks first: the marker files of Podman and Docker, the file systemd
    writes as PID 1 in a container, PID 1's environment; then run_command (which
    runs systemd-detect-virt --container and returns what it found, or None); last
    a read-only /proc/sys, which every runtime gives an unprivileged container.
    """
    for marker in ('run/.containerenv', '.dockerenv'):
        if os.path.exists(os.path.join(root, marker)):
            return True, '/%s exists' % marker
    text = read_conf(os.path.join(root, 'run/systemd/container'))
    if text and text.strip():
        return True, '/run/systemd/container says %s' % text.strip()
    try:
        with open(os.path.join(root, 'proc/1/environ'), 'rb') as handle:
            for entry in handle.read().split(b'\0'):
                if entry.startswith(b'container=') and len(entry) > len(b'container='):
                    return True, 'PID 1 has %s in its environment' % entry.decode('utf-8', 'replace')
    except (IOError, OSError):
        pass
    if run_command is not None:
        detected = run_command()
        if detected:
            return True, 'systemd-detect-virt --container says %s' % detected
    try:
        if os.statvfs(proc_root).f_flag & os.ST_RDONLY:
            return True, '%s is mounted read-only' % proc_root
    except OSError:
        pass
    return False, None


# ---- the role's settings -------------------------------------------------------------

def file_name_errors(name, var='sysctl_tuning_file_name'):
    """Why name cannot be the drop-in's file name in /etc/sysctl.d (an empty list when it can)."""
    name = '' if name is None else str(name)
    errors = []
    if not _FILE_NAME_RE.fullmatch(name):
        errors.append('%s must be a file name ending in .conf, such as "60-go-buildhost.conf" (systemd-sysctl reads '
                      'only *.conf files), got "%s".' % (var, name))
    if name == DEBIAN_SYSCTL_CONF_LINK:
        errors.append('%s must not be 99-sysctl.conf: on Debian 12 that is the link to /etc/sysctl.conf.' % var)
    return errors


def settings_errors(settings):
    """Every invalid sysctl_tuning setting that needs no host, in the role's words; [] when all are valid.

    settings: sysctl_tuning_file_name, sysctl_tuning_profiling (a bool), sysctl_tuning_profiling_packages.
    The keys and values of the kernel settings need the host's /proc/sys: the module checks those.
    """
    errors = file_name_errors(settings.get('sysctl_tuning_file_name'))
    if settings.get('sysctl_tuning_profiling') and not settings.get('sysctl_tuning_profiling_packages'):
        errors.append('sysctl_tuning_profiling is true but sysctl_tuning_profiling_packages is empty: list perf and '
                      'bpftrace (linux-perf, bpftrace), or set sysctl_tuning_profiling: false.')
    return errors
