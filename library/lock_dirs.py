#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: lock_dirs
short_description: Hand directories to root alone, without their ACLs, leaving their content as it is
description:
  - For the data a removal keeps, such as shared caches. Each existing directory of I(paths) gets owner and
    group C(root), mode C(0700) (no setgid) and loses its access and default POSIX ACLs (the
    C(system.posix_acl_access) and C(system.posix_acl_default) extended attributes, removed directly, so
    neither getfacl nor setfacl is needed). Nothing inside is touched.
  - A missing path is skipped; a path that is a symlink or not a directory makes the module fail before
    anything changes.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  paths:
    description: Absolute paths of the directories.
    type: list
    elements: path
    required: true
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the directories that would change.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Owner, group, mode and ACLs of each changed directory, before and after.
'''

EXAMPLES = r'''
- name: Ensure the caches that stay are root's alone
  go_buildhost.buildhost.lock_dirs:
    paths: [/var/cache/go/build, /var/cache/go/mod]
'''

RETURN = r'''
locked:
  description: The directories changed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

ACL_XATTRS = ('system.posix_acl_access', 'system.posix_acl_default')


def acls(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []
    return [name for name in ACL_XATTRS if name in names]


def state(path, st):
    return '%s: %d:%d %04o%s\n' % (path, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                                   ''.join(' +' + name.rsplit('_', 1)[-1] + ' ACL' for name in acls(path)))


def main():
    module = AnsibleModule(
        argument_spec=dict(paths=dict(type='list', elements='path', required=True)),
        supports_check_mode=True,
    )
    plans = []
    for path in module.params['paths']:
        if not os.path.isabs(path) or os.path.normpath(path) == '/':
            module.fail_json(msg='paths must be absolute directories other than /, got %r; nothing was changed.'
                                 % path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            module.fail_json(msg='%s is not a directory (or is a symlink); nothing was changed.' % path)
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (0, 0, 0o700) or acls(path):
            plans.append((path, st))
    result = dict(changed=bool(plans), locked=[p for p, _st in plans])
    if module._diff and plans:
        result['diff'] = dict(before_header='directories', after_header='directories',
                              before=''.join(state(p, st) for p, st in plans),
                              after=''.join('%s: 0:0 0700\n' % p for p, _st in plans))
    if plans and not module.check_mode:
        for path, _st in plans:
            try:
                for name in acls(path):
                    os.removexattr(path, name, follow_symlinks=False)
                os.lchown(path, 0, 0)
                os.chmod(path, 0o700)
            except OSError as exc:
                module.fail_json(msg='Locking %s failed: %s.' % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
