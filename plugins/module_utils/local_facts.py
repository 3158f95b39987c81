# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local facts (/etc/ansible/facts.d/<name>.fact): one way to read, compare, write and remove them.

A fact is JSON, indented by two and with sorted keys, ending in a newline, mode 0644 so that an
unprivileged setup can read it. It is written like every managed file (managed_files, atomic_fs):
a temporary file in the same directory, fsync, a rename; the directory is created when missing.

A module whose fact belongs to a larger set of files adds it to its FileSet with want_fact() (so the
fact shows in the set's plan and diff); one that writes its fact on its own uses LocalFact.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet

FACTS_DIR = '/etc/ansible/facts.d'
FACT_MODE = 0o644


def render_fact(data):
    """The text of a fact holding data."""
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def parse_fact(text):
    """The dict a fact's text holds; {} for no text, text that is not JSON, or JSON that is not an object."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def want_fact(files, path, data, merge=False):
    """Add the fact at path, holding data, to the FileSet files; returns its entry.

    merge=True keeps the top-level keys of the previous fact that data does not set (a fact shared by
    several calls, each owning its own section).
    """
    if merge:
        merged = parse_fact(files.read(path))
        merged.update(data)
        data = merged
    return files.want(path, render_fact(data), FACT_MODE)


def remove_fact(files, path):
    """Add the removal of the fact at path (when there is one) to the FileSet files; returns its entry or None."""
    if not path:
        return None
    return files.remove(path)


class LocalFact(object):
    """One fact file written on its own. path '' (or None) disables it: nothing is read or written."""

    def __init__(self, path):
        self.path = path or ''
        self.files = FileSet()
        self.before = self.files.read(self.path) if self.path else None
        self.data = parse_fact(self.before)

    @property
    def exists(self):
        return bool(self.path) and self.files.stat(self.path) is not None

    def plan(self, data):
        """The entry that writes data (changed when the text or the mode differ), or None when disabled."""
        if not self.path:
            return None
        self.files.entries = []
        return want_fact(self.files, self.path, data)

    def needs_write(self, data):
        entry = self.plan(data)
        return entry is not None and entry.changed

    def write(self, data, check_mode=False):
        """Write data when it differs; returns whether it did (or would, in check mode)."""
        entry = self.plan(data)
        if entry is None or not entry.changed:
            return False
        if not check_mode:
            self.files.apply()
        return True

    def remove(self, check_mode=False):
        """Remove the fact; returns whether there was one."""
        if not self.path:
            return False
        self.files.entries = []
        entry = self.files.remove(self.path, read=False)
        if not entry.changed:
            return False
        if not check_mode:
            self.files.apply()
        return True
