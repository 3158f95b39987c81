# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic file, symlink and directory operations shared by the modules.

Every change is made next to its destination under a name starting with
TMP_PREFIX and then renamed into place, so a process killed at any moment
leaves either the old or the new object, plus at most a temporary entry
that sweep_temporaries() removes on the next run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

TMP_PREFIX = '.tmp-go-buildhost-'


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, content, mode=0o644, owner=None, validate=None):
    """Write bytes or text to path through a temporary file and a rename.

    owner, a (uid, gid) pair, and mode are applied to the temporary file before it is synced and
    renamed, so the file never appears under its name with the wrong owner or mode. validate, when
    given, is called with the temporary file's path before the rename; it stops the write by raising
    (or by failing the module, which exits).
    """
    if not isinstance(content, bytes):
        content = content.encode('utf-8')
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            if owner is not None:
                os.fchown(handle.fileno(), owner[0], owner[1])
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if validate is not None:
            validate(tmp)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def set_attrs(path, mode, owner=None):
    """Fix the owner (a (uid, gid) pair, when given) and then the mode of an existing file in place."""
    if owner is not None:
        os.chown(path, owner[0], owner[1])
    os.chmod(path, mode)


def make_parents(path, mode=0o755):
    """Create the missing directories above path, each with mode (not reduced by the umask)."""
    missing = []
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory, mode)
        os.chmod(directory, mode)
    return list(reversed(missing))


def read_text(path):
    """Return a file's text, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        if getattr(exc, 'errno', None) == 2:
            return None
        raise


def replace_symlink(path, target):
    """Point path at target by renaming a new symlink over the old entry."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, '%s%s-%d' % (TMP_PREFIX, os.path.basename(path), os.getpid()))
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(directory)


def remove_tree(path):
    """Rename a tree out of the way, then delete it.

    An interruption leaves a TMP_PREFIX entry, never a half-deleted tree
    under the original name.
    """
    parent = os.path.dirname(path)
    doomed = tempfile.mkdtemp(prefix=TMP_PREFIX + 'rm-', dir=parent)
    moved = os.path.join(doomed, os.path.basename(path))
    os.rename(path, moved)
    fsync_dir(parent)
    shutil.rmtree(doomed)


def list_temporaries(directory, keep=()):
    """Entries left in directory by an interrupted run."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, name) for name in names
                  if name.startswith(TMP_PREFIX) and os.path.join(directory, name) not in keep)


def sweep(paths):
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
