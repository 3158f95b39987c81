# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One engine for the set of files a module manages: want, plan, diff, apply.

A module says what it wants with FileSet.want (content, mode, owner) and FileSet.remove. Each file
is read once, when it is first named, and the entry knows whether it is created, updated, fixed in
place (owner or mode only), removed, or unchanged. FileSet.diff gives Ansible's before/after diff
list; FileSet.apply writes through atomic_fs (a temporary file in the same directory, fsync, a
rename) and removes. In check mode a module stops after the plan and the diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import (
    make_parents, set_attrs, write_file,
)

# mode or owner: take the file's own (0644 and the writer's for a new file), and never compare it.
KEEP = 'keep'


class NotRegularFile(Exception):
    """A wanted path exists and is not a regular file (a directory, a symlink, a device)."""

    def __init__(self, path):
        super(NotRegularFile, self).__init__(path)
        self.path = path


class ManagedFile(object):
    """One file of a set: what is there (before, st) and what is wanted (content, mode, owner).

    content None means the file should not exist. mode is an int, or None when it is not managed;
    owner a (uid, gid) pair, or None when it is not managed (a new file gets the writer's).
    """

    def __init__(self, path, content, mode, owner, *, before=None, st=None, validate=None):
        self.path = path
        self.content = content
        self.before = before
        self.st = st
        self.validate = validate
        self.compare_mode = mode is not KEEP and mode is not None
        self.compare_owner = owner is not KEEP and owner is not None
        if mode is KEEP:
            mode = stat.S_IMODE(st.st_mode) if st is not None else 0o644
        if owner is KEEP:
            owner = (st.st_uid, st.st_gid) if st is not None else None
        self.mode = mode if mode is not None else 0o644
        self.owner = owner

    @property
    def exists(self):
        return self.st is not None

    @property
    def content_changed(self):
        if self.content is None:
            return self.exists
        return self.before != self.content

    @property
    def attrs_changed(self):
        if self.content is None or self.st is None:
            return False
        return ((self.compare_mode and stat.S_IMODE(self.st.st_mode) != self.mode)
                or (self.compare_owner and (self.st.st_uid, self.st.st_gid) != tuple(self.owner)))

    @property
    def changed(self):
        return self.content_changed or self.attrs_changed

    @property
    def created(self):
        return self.content is not None and self.st is None

    @property
    def action(self):
        """None (unchanged), 'create', 'update', 'attrs' (owner or mode in place) or 'remove'."""
        if not self.changed:
            return None
        if self.content is None:
            return 'remove'
        if self.st is None:
            return 'create'
        if self.content_changed or not stat.S_ISREG(self.st.st_mode):
            return 'update'
        return 'attrs'


def _text(value):
    if value is None:
        return ''
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


class FileSet(object):
    """The files one module run manages, in the order they are named.

    binary: read and compare bytes instead of text. follow_symlinks: stat (and fix in place) what a
    symlink points at instead of the link itself. regular_only: a wanted path that exists and is not a
    regular file (lstat) raises NotRegularFile. directory_mode: mode of the parent directories apply()
    creates.
    """

    def __init__(self, binary=False, follow_symlinks=False, regular_only=False, directory_mode=0o755):
        self.binary = binary
        self.follow_symlinks = follow_symlinks
        self.regular_only = regular_only
        self.directory_mode = directory_mode
        self.entries = []
        self._read = {}

    # ---- plan ------------------------------------------------------------------------------
    def lookup(self, path):
        """(stat or None, content or None) of path, read once per run."""
        if path not in self._read:
            self._read[path] = self._load(path)
        return self._read[path]

    def _load(self, path):
        try:
            st = os.stat(path) if self.follow_symlinks else os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        content = None
        if os.path.isfile(path):
            try:
                with open(path, 'rb') as handle:
                    content = handle.read()
            except FileNotFoundError:
                return None, None
            if not self.binary:
                content = content.decode('utf-8')
        return st, content

    def read(self, path):
        """The current content of path (None when there is none), for a module computing its new content."""
        return self.lookup(path)[1]

    def stat(self, path):
        return self.lookup(path)[0]

    def want(self, path, content, mode=0o644, owner=None, validate=None):
        """path should hold content (text, or bytes with binary), with mode and owner (see ManagedFile).

        validate(tmp), when given, runs on the temporary copy before it replaces path.
        """
        if self.regular_only:
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                st = None
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise NotRegularFile(path)
        st, before = self.lookup(path)
        entry = ManagedFile(path, content, mode, owner, before=before, st=st, validate=validate)
        self.entries.append(entry)
        return entry

    def remove(self, path, read=True):
        """path should not exist: whatever is there (a symlink too, even a dangling one) is unlinked.

        read=False leaves its content unread (before is None).
        """
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        before = self.lookup(path)[1] if read and st is not None else None
        entry = ManagedFile(path, None, None, None, before=before, st=st)
        self.entries.append(entry)
        return entry

    def changes(self):
        """The entries that change, in order."""
        return [e for e in self.entries if e.changed]

    @property
    def changed(self):
        return any(e.changed for e in self.entries)

    def paths(self, action=None):
        """Paths of the changed entries; with action, only those (e.g. 'remove', 'create')."""
        return [e.path for e in self.changes() if action is None or e.action == action]

    # ---- diff ------------------------------------------------------------------------------
    def diff(self, headers=None, texts=None):
        """Ansible's diff list, one dict per changed entry.

        headers(entry) -> (before_header, after_header), by default the path twice; texts(entry) ->
        (before, after), by default the contents, '' for a missing side.
        """
        out = []
        for entry in self.changes():
            before_header, after_header = headers(entry) if headers else (entry.path, entry.path)
            before, after = texts(entry) if texts else (_text(entry.before), _text(entry.content))
            out.append(dict(before_header=before_header, after_header=after_header, before=before, after=after))
        return out

    # ---- apply -----------------------------------------------------------------------------
    def apply(self, on_error=None, removed=None):
        """Make every changed entry so, in order; returns the entries done.

        on_error(entry, exc) is called for an IOError/OSError and should fail the module; without it the
        error propagates. removed(path) is called after each removal (e.g. to drop an emptied directory).
        """
        done = []
        for entry in self.changes():
            try:
                apply_entry(entry, self.directory_mode)
                if entry.action == 'remove' and removed is not None:
                    removed(entry.path)
            except (IOError, OSError) as exc:
                if on_error is None:
                    raise
                on_error(entry, exc)
                raise
            done.append(entry)
        return done


def apply_entry(entry, directory_mode=0o755):
    action = entry.action
    if action == 'remove':
        os.unlink(entry.path)
    elif action == 'attrs':
        set_attrs(entry.path, entry.mode, entry.owner)
    elif action in ('create', 'update'):
        make_parents(entry.path, directory_mode)
        write_file(entry.path, entry.content, entry.mode, entry.owner, entry.validate)


def put(path, content, mode=0o644, owner=None, directory_mode=0o755):
    """Write one file now: missing parents, then an atomic write with mode and owner."""
    make_parents(path, directory_mode)
    write_file(path, content, mode, owner)
