#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: prune_dirs
short_description: Remove directories that are empty, and only those, in one call
description:
  - The last step of a removal. Each directory of I(paths), in the order given, is removed when it exists and
    is empty (or holds only directories removed before it in this call). A path listed twice counts
    once. A directory that still holds
    anything is kept and listed in C(kept); it is never an error.
  - A symlink or a file at one of I(paths) is left alone and listed in C(kept).
  - List children before their parents, e.g. C(/etc/go-buildhost/slices) before C(/etc/go-buildhost).
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  paths:
    description: Absolute paths of the directories, children before their parents.
    type: list
    elements: path
    required: true
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the directories that would be removed, parents emptied by this call included.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: The directories before and after.
'''

EXAMPLES = r'''
- name: Ensure the directories the role created are gone once empty
  go_buildhost.buildhost.prune_dirs:
    paths:
      - /etc/go-cache
      - /var/lib/go-cache-health
'''

RETURN = r'''
removed:
  description: The directories removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
kept:
  description: The ones that exist and were kept, because something is in them or they are not directories.
  returned: always
  type: list
  elements: str
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native


def plan(paths):
    """(removed, kept): the directories of paths that are empty once the ones before them are gone."""
    removed, kept = [], []
    for path in dict.fromkeys(os.path.normpath(p) for p in paths):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            kept.append(path)
            continue
        entries = set(os.path.join(path, name) for name in os.listdir(path))
        if entries - set(removed):
            kept.append(path)
        else:
            removed.append(path)
    return removed, kept


def main():
    module = AnsibleModule(
        argument_spec=dict(paths=dict(type='list', elements='path', required=True)),
        supports_check_mode=True,
    )
    for path in module.params['paths']:
        if not os.path.isabs(path) or os.path.normpath(path) == '/':
            module.fail_json(msg='paths must be absolute directories other than /, got %r.' % path)
    removed, kept = plan(module.params['paths'])
    result = dict(changed=bool(removed), removed=removed, kept=kept)
    if module._diff and removed:
        result['diff'] = dict(before_header='directories', after_header='directories',
                              before=''.join('%s/\n' % p for p in removed), after='')
    if removed and not module.check_mode:
        for path in removed:
            try:
                os.rmdir(path)
            except OSError as exc:
                module.fail_json(msg='Removing the empty directory %s failed: %s.' % (path, to_native(exc)),
                                 **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
