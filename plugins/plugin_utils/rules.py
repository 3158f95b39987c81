# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's rule modules (plugins/module_utils), imported when a filter first needs one.

To find any one filter of a collection, Ansible's Jinja plugin loader loads every file of its
plugins/filter, in each forked worker, and the collection loader compiles module_utils from source (it
keeps no bytecode cache). A filter file that imported its rules at load time made every task that used
one filter compile all of them; through rules(), a worker compiles only those its filters run.
"""

from __future__ import annotations

import importlib

PACKAGE = 'ansible_collections.go_buildhost.buildhost.plugins.module_utils'


def rules(name):
    """plugins/module_utils/<name>.py, imported on first use (then from sys.modules)."""
    return importlib.import_module('%s.%s' % (PACKAGE, name))
