# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""POSIX ACLs, the permission rules of a shared Go cache, and a race-safe tree walk.

Shared by the go_cache_perms module (which repairs) and by the go-cache-health
program (which measures, audits and cleans up). The go_cache role installs a
copy of this file next to that program, so it must stay standard library
only: the health check needs no Ansible at run time.

ACLs are read and written as the kernel's binary xattrs
(system.posix_acl_access and system.posix_acl_default, see
include/uapi/linux/posix_acl_xattr.h): a little-endian u32 version (2), then
one (u16 tag, u16 perm, u32 id) record per entry, sorted by tag and id. No
getfacl/setfacl process per file, which is what keeps a walk over 100,000
files fast.

Races: cache members can write into every directory the walk visits, so
they can swap a directory for a symlink at any moment. The walk descends
only through directory file descriptors opened with O_NOFOLLOW and checked
against the lstat it decided on, and every change goes through a file
descriptor opened the same way, never through a path. A swapped entry is
skipped, never followed out of the tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import grp
import os
import pwd
import stat
import struct

ACCESS = 'system.posix_acl_access'
DEFAULT = 'system.posix_acl_default'

USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
UNDEFINED_ID = 0xFFFFFFFF
ACL_VERSION = 2
_HEADER = struct.Struct('<I')
_ENTRY = struct.Struct('<HHI')
_TAG_TEXT = {USER_OBJ: 'u:', USER: 'u:', GROUP_OBJ: 'g:', GROUP: 'g:', MASK: 'm:', OTHER: 'o:'}

R, W, X = 4, 2, 1

# Every problem the audit knows, in report order.
PROBLEMS = (
    'wrong_owner',           # the cache directory itself is not owned by the configured owner (root)
    'wrong_mode',            # the cache directory itself is not exactly 2770
    'wrong_group',           # an entry's group is not the cache group
    'no_setgid',             # a directory without setgid: new entries would get their creator's group
    'not_group_writable',    # the group permission bits (the ACL mask) lack w where members must write
    'missing_default_acl',   # a directory whose default ACL is missing or differs from g:<group>:rwX
    'world_writable',        # o+w anywhere
    'member_cannot_write',   # a member's effective permissions (ACL entries and mask) lack w (or rwx on dirs)
    'member_cannot_read',    # module cache files: a member's effective permissions lack r
)

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, 'O_CLOEXEC', 0)
_FD_DIR = '/proc/self/fd' if os.path.isdir('/proc/self/fd') else None
_NO_ACL = (errno.ENODATA, errno.EOPNOTSUPP, getattr(errno, 'ENOTSUP', errno.EOPNOTSUPP))


class AuditError(Exception):
    """Something the caller must report: the cache cannot be read or repaired."""


# ---- ACL encoding ----------------------------------------------------------

def parse_acl(blob):
    """The entries of a binary ACL xattr as a tuple of (tag, perm, id), ids UNDEFINED_ID for *_OBJ/MASK/OTHER."""
    if len(blob) < _HEADER.size or (len(blob) - _HEADER.size) % _ENTRY.size:
        raise ValueError('not a POSIX ACL xattr: %d bytes' % len(blob))
    (version,) = _HEADER.unpack_from(blob)
    if version != ACL_VERSION:
        raise ValueError('POSIX ACL xattr version %d, expected %d' % (version, ACL_VERSION))
    entries = []
    for offset in range(_HEADER.size, len(blob), _ENTRY.size):
        tag, perm, qualifier = _ENTRY.unpack_from(blob, offset)
        if tag not in _TAG_TEXT:
            raise ValueError('unknown ACL tag 0x%x' % tag)
        entries.append((tag, perm & 7, qualifier if tag in (USER, GROUP) else UNDEFINED_ID))
    return tuple(entries)


def normalize(entries):
    """Entries sorted the way the kernel wants and returns them."""
    return tuple(sorted(((t, p & 7, q if t in (USER, GROUP) else UNDEFINED_ID) for t, p, q in entries),
                        key=lambda e: (e[0], e[2])))


def build_acl(entries):
    """The binary xattr for entries (any order)."""
    return _HEADER.pack(ACL_VERSION) + b''.join(_ENTRY.pack(t, p, q) for t, p, q in normalize(entries))


def perm_text(perm):
    return ''.join(c if perm & bit else '-' for c, bit in (('r', R), ('w', W), ('x', X)))


def acl_text(entries, names=None):
    """getfacl's short form, e.g. u::rwx,g::rwx,g:gobuilders:rwx,m::rwx,o::---; '(none)' for None."""
    if entries is None:
        return '(none)'
    names = names or {}
    out = []
    for tag, perm, qualifier in normalize(entries):
        who = '' if qualifier == UNDEFINED_ID else names.get((tag, qualifier), str(qualifier))
        out.append('%s%s:%s' % (_TAG_TEXT[tag], who, perm_text(perm)))
    return ','.join(out)


def read_acl(target, name, follow_symlinks=True):
    """Parsed ACL of a path or file descriptor, or None when it has none (or the filesystem has no ACLs)."""
    try:
        if isinstance(target, int):
            blob = os.getxattr(target, name)
        else:
            blob = os.getxattr(target, name, follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno in _NO_ACL:
            return None
        raise
    return parse_acl(blob)


def is_extended(entries):
    """Whether an access ACL says more than the mode bits (it has a mask or named entries)."""
    return entries is not None and any(tag in (USER, GROUP, MASK) for tag, _p, _q in entries)


# ---- the policy --------------------------------------------------------------

class Policy:
    """What a shared cache must look like.

    kind 'build' (GOCACHE): members read and write every file and directory.
    kind 'mod' (GOMODCACHE): members read every file and write every
    directory (Go makes module files read-only on purpose; with -modcacherw
    it leaves directories writable so that any member can prune them).
    """

    TOP_MODE = 0o2770

    def __init__(self, gid, kind='build', owner_uid=0):
        if kind not in ('build', 'mod'):
            raise ValueError('kind must be build or mod, got %r' % kind)
        self.gid = gid
        self.kind = kind
        self.owner_uid = owner_uid
        self.default_acl = normalize(((USER_OBJ, 7, UNDEFINED_ID), (GROUP_OBJ, 7, UNDEFINED_ID), (GROUP, 7, gid),
                                      (MASK, 7, UNDEFINED_ID), (OTHER, 0, UNDEFINED_ID)))
        self.top_acl = self.default_acl

    def required(self, is_dir):
        if is_dir:
            return R | W | X
        return R | W if self.kind == 'build' else R


def member_perms(st, access, gid):
    """What a member of gid who does not own the entry may do with it, from its mode and access ACL."""
    mode = st.st_mode
    if not is_extended(access):
        return (mode >> 3) & 7 if st.st_gid == gid else mode & 7
    mask = 7
    other = mode & 7
    perms = 0
    matched = False
    for tag, perm, qualifier in access:
        if tag == MASK:
            mask = perm
        elif tag == OTHER:
            other = perm
        elif (tag == GROUP_OBJ and st.st_gid == gid) or (tag == GROUP and qualifier == gid):
            perms |= perm
            matched = True
    return perms & mask if matched else other


def check(st, access, default, policy, top=False):
    """The problems (names from PROBLEMS) of one directory or regular file."""
    found = []
    mode = st.st_mode
    is_dir = stat.S_ISDIR(mode)
    need = policy.required(is_dir)
    if top:
        if st.st_uid != policy.owner_uid:
            found.append('wrong_owner')
        if mode & 0o7777 != policy.TOP_MODE:
            found.append('wrong_mode')
    if st.st_gid != policy.gid:
        found.append('wrong_group')
    if is_dir and not mode & stat.S_ISGID:
        found.append('no_setgid')
    if need & W and not mode & 0o020:
        found.append('not_group_writable')
    if is_dir and default != policy.default_acl:
        found.append('missing_default_acl')
    if mode & 0o002:
        found.append('world_writable')
    if member_perms(st, access, policy.gid) & need != need:
        found.append('member_cannot_write' if need & W else 'member_cannot_read')
    return found


# ---- repair ------------------------------------------------------------------

def plan(st, access, default, policy, top=False):
    """(chown, access_acl, mode, default_acl) to apply, each None when it is already right.

    chown is a (uid, gid) pair with -1 for "keep". The mode is the final
    one, to apply after the ACL (writing an access ACL rewrites the group
    bits, and chmod rewrites the mask).
    """
    mode = st.st_mode & 0o7777
    is_dir = stat.S_ISDIR(st.st_mode)
    uid = policy.owner_uid if top and st.st_uid != policy.owner_uid else -1
    gid = policy.gid if st.st_gid != policy.gid else -1
    chown = (uid, gid) if (uid, gid) != (-1, -1) else None
    grant = policy.required(is_dir)
    if not is_dir and mode & 0o111:
        grant |= X  # rwX: executables stay executable for the group
    new_access = None
    if top:
        if access != policy.top_acl:
            new_access = policy.top_acl
        want = policy.TOP_MODE
    elif is_extended(access):
        entries = []
        for tag, perm, qualifier in access:
            if tag in (GROUP_OBJ, MASK) or (tag == GROUP and qualifier == policy.gid):
                entries.append((tag, perm | grant, qualifier))
            elif tag == OTHER:
                entries.append((tag, perm & ~W, qualifier))
            else:
                entries.append((tag, perm, qualifier))
        entries = normalize(entries)
        if entries != normalize(access):
            new_access = entries
        final = dict(((t, q), p) for t, p, q in entries)
        want = (mode & 0o7000) | final[(USER_OBJ, UNDEFINED_ID)] << 6 | final[(MASK, UNDEFINED_ID)] << 3 \
            | final[(OTHER, UNDEFINED_ID)]
    else:
        want = (mode | grant << 3) & ~0o002
    if is_dir:
        want |= stat.S_ISGID
    new_mode = want if want != mode or new_access is not None else None
    new_default = policy.default_acl if is_dir and default != policy.default_acl else None
    return chown, new_access, new_mode, new_default


def apply(fd, changes):
    """Apply a plan() through an open file descriptor."""
    chown, new_access, new_mode, new_default = changes
    if chown:
        os.fchown(fd, chown[0], chown[1])
    if new_access is not None:
        os.setxattr(fd, ACCESS, build_acl(new_access))
    if new_mode is not None and os.fstat(fd).st_mode & 0o7777 != new_mode:
        os.fchmod(fd, new_mode)
    if new_default is not None:
        os.setxattr(fd, DEFAULT, build_acl(new_default))


def open_entry(entry):
    """A file descriptor for a walked entry, or None when it changed or vanished since the walk saw it.

    The caller closes it unless it is entry.fd (directories are already open).
    """
    if entry.fd is not None:
        return entry.fd
    try:
        fd = os.open(entry.name, _OPEN_FILE, dir_fd=entry.parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENXIO, errno.EISDIR):
            return None
        raise
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino):
        os.close(fd)
        return None
    return fd


def repair(entry, policy):
    """Fix one entry through a descriptor; return its remaining problems ([] when fixed, None when skipped).

    Regular files with more than one link are not touched (a member could
    have hard-linked a file from elsewhere into the cache) and reported as
    they are.
    """
    if not entry.is_dir and entry.st.st_nlink > 1:
        return None
    fd = open_entry(entry)
    if fd is None:
        return None
    try:
        st = os.fstat(fd)
        access = read_acl(fd, ACCESS)
        default = read_acl(fd, DEFAULT) if entry.is_dir else None
        apply(fd, plan(st, access, default, policy, top=entry.top))
        st = os.fstat(fd)
        access = read_acl(fd, ACCESS)
        default = read_acl(fd, DEFAULT) if entry.is_dir else None
        return check(st, access, default, policy, top=entry.top)
    finally:
        if fd != entry.fd:
            os.close(fd)


# ---- the walk ----------------------------------------------------------------

class Entry:
    """One directory or file seen by walk(). Directories carry their open fd while they are yielded."""

    __slots__ = ('rel', 'name', 'parent_fd', 'fd', 'st', 'access', 'default', 'top', 'depth')

    def __init__(self, rel, name, parent_fd, fd, st, access, default, top, depth):  # noqa: PLR0917
        self.rel = rel
        self.name = name
        self.parent_fd = parent_fd
        self.fd = fd
        self.st = st
        self.access = access
        self.default = default
        self.top = top
        self.depth = depth

    @property
    def is_dir(self):
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_file(self):
        return stat.S_ISREG(self.st.st_mode)


def open_top(path):
    """An O_NOFOLLOW directory descriptor for a cache directory, or None when it does not exist."""
    try:
        return os.open(path, _OPEN_DIR)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise AuditError('%s is not a directory (a symlink or a file): move it away' % path) from exc
        raise


def walk(top_fd, top_path, acls=True):
    """Yield an Entry for the cache directory and for everything below it, each directory before its content.

    Other file types (symlinks, sockets, ...) are yielded too, with no ACLs
    read. Mount points are yielded but not entered. With acls=False no
    xattr is read (for size-only passes).
    """
    st = os.fstat(top_fd)
    yield Entry('', os.path.basename(top_path), None, top_fd, st,
                read_acl(top_fd, ACCESS) if acls else None, read_acl(top_fd, DEFAULT) if acls else None, True, 0)
    yield from _walk_dir(top_fd, top_path.rstrip('/') or '/', '', st.st_dev, 1, acls)


def _walk_dir(dir_fd, dir_path, rel, dev, depth, acls):  # noqa: PLR0917
    try:
        with os.scandir(dir_fd) as listing:
            children = list(listing)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise
    for child in children:
        name = child.name
        child_rel = rel + '/' + name if rel else name
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                continue
            raise
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if st.st_dev != dev:
                yield Entry(child_rel, name, dir_fd, None, st, None, None, False, depth)
                continue
            try:
                fd = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    continue
                raise
            try:
                dst = os.fstat(fd)
                if (dst.st_dev, dst.st_ino) != (st.st_dev, st.st_ino):
                    continue
                yield Entry(child_rel, name, dir_fd, fd, dst, read_acl(fd, ACCESS) if acls else None,
                            read_acl(fd, DEFAULT) if acls else None, False, depth)
                yield from _walk_dir(fd, dir_path + '/' + name, child_rel, dev, depth + 1, acls)
            finally:
                os.close(fd)
        elif stat.S_ISREG(mode):
            access = None
            if acls:
                # Through the directory's descriptor, so a swapped parent cannot redirect the read.
                try:
                    access = read_acl('%s/%d/%s' % (_FD_DIR, dir_fd, name) if _FD_DIR else dir_path + '/' + name,
                                      ACCESS, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        continue
                    raise
            yield Entry(child_rel, name, dir_fd, None, st, access, None, False, depth)
        else:
            yield Entry(child_rel, name, dir_fd, None, st, None, None, False, depth)


def make_top(path, policy):
    """Create a missing cache directory (and root-owned 0755 parents) with its final owner, mode and ACLs."""
    parent = os.path.dirname(path.rstrip('/'))
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    os.mkdir(path, 0o700)
    fd = os.open(path, _OPEN_DIR)
    try:
        apply(fd, plan(os.fstat(fd), read_acl(fd, ACCESS), read_acl(fd, DEFAULT), policy, top=True))
    finally:
        os.close(fd)


# ---- members whose processes cannot use the caches ---------------------------------------------

def member_uids(gid):
    """The uids of the group's members: supplementary (each looked up by name, so that directory users
    that NSS does not enumerate count too) and primary (/etc/passwd)."""
    try:
        names = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        names = set()
    uids = set(e.pw_uid for e in pwd.getpwall() if e.pw_gid == gid)
    for name in names:
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    return uids


def _status(pid, proc):
    fields = {}
    try:
        with open(os.path.join(proc, pid, 'status')) as handle:
            for line in handle:
                key, _sep, value = line.partition(':')
                if key in ('Uid', 'Gid', 'Groups'):
                    fields[key] = value.split()
    except OSError:
        return None
    return fields


def _cgroup(pid, proc):
    """The systemd cgroup path of a process: the unified line (0::), else the name=systemd one (hybrid)."""
    try:
        with open(os.path.join(proc, pid, 'cgroup')) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        hierarchy, _sep, rest = line.partition(':')
        controllers, _sep, path = rest.partition(':')
        if hierarchy == '0' and controllers == '':
            found = found or path
        elif controllers == 'name=systemd':
            found = path  # the hybrid layout's systemd tree is the one its units live in
    return found


def _unit(path):
    """The innermost systemd unit (service or scope) of a cgroup path, or None."""
    for part in reversed((path or '').split('/')):
        if part.endswith(('.service', '.scope')):
            return part
    return None


def stale_members(gid, proc='/proc', uids=None):
    """Processes of the group's members that do not have the group: started before their user joined it.

    Such a process cannot write the shared caches (the go launcher gives it its own instead) until it
    is restarted. Returns [{unit, user, pids, system_service}], one entry per systemd unit (a system
    service, a user manager's service, a session scope); system_service tells which the system manager
    can restart.
    """
    members = member_uids(gid) if uids is None else set(uids)
    members.discard(0)
    found = {}
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        fields = _status(pid, proc)
        if not fields or 'Uid' not in fields:
            continue
        uid = int(fields['Uid'][1])  # effective
        if uid not in members:
            continue
        groups = set(int(g) for g in fields.get('Groups', []))
        if gid in groups or int(fields.get('Gid', ['-1', '-1'])[1]) == gid:
            continue
        cgroup = _cgroup(pid, proc) or ''
        unit = _unit(cgroup) or 'pid %s' % pid
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        # A system service is one of the system manager's, not in a user manager's user@.service tree (the
        # path may start with a container's own cgroup).
        system = unit.endswith('.service') and '/system.slice/' in cgroup and not any(
            part.startswith('user@') for part in cgroup.split('/'))
        entry = found.setdefault((unit, system), {'unit': unit, 'user': user, 'pids': [], 'system_service': system})
        entry['pids'].append(int(pid))
    for entry in found.values():
        entry['pids'].sort()
    return [found[k] for k in sorted(found)]
