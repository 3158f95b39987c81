#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_cache_server_store
short_description: The fleet cache server's store and metrics directories, refused where they could hurt the system
description:
  - Before anything changes, refuses a store path that could point the role at the system
    (C(module_utils/path_guard.py)), such as C(/) or a system tree, a directory above one or below C(/usr), C(/etc) and
    the like, an account's home, a path below a symlink or a symlink itself, and an existing non-empty directory
    that holds anything else than C(ac), C(cas) and C(.tmp). The metrics directory is refused the same way as a
    system tree or below a symlink.
  - Then ensures the store I(path) (C(0750)), its C(ac) and C(cas) directories (C(0750)) and nginx's temporary
    directory C(.tmp) (C(0700)), all owned by I(owner) and I(group), and the metrics directory (C(0755) root,
    created only when missing). Only these directories are changed, never anything inside them.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  path:
    description: The store, an absolute path.
    type: path
    required: true
  var:
    description: The variable that set I(path), named in the errors.
    type: str
    default: go_cache_server_dir
  owner:
    description: The user nginx's workers run as.
    type: str
    required: true
  group:
    description: The group of the store.
    type: str
    required: true
  metrics_dir:
    description: Directory of the textfile metrics; created when missing.
    type: path
    required: true
  metrics_var:
    description: The variable that set I(metrics_dir), named in the errors.
    type: str
    default: go_cache_server_metrics_dir
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Refuses bad paths and reports the directories that would be created or changed.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Owner, group and mode of each directory, before and after.
'''

EXAMPLES = r'''
- name: Ensure the fleet cache's store
  go_buildhost.buildhost.go_cache_server_store:
    path: /var/cache/go-cache-server
    owner: www-data
    group: www-data
    metrics_dir: /var/lib/prometheus/node-exporter
'''

RETURN = r'''
created:
  description: Whether the store directory itself was created (or would be, in check mode).
  returned: always
  type: bool
created_metrics_dir:
  description: Whether the metrics directory was created (or would be, in check mode).
  returned: always
  type: bool
changed_dirs:
  description: The directories created or changed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
'''

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import Refused, check_dir

SUBDIRS = (('ac', 0o750), ('cas', 0o750), ('.tmp', 0o700))


def describe(path, st):
    if st is None:
        return '%s: missing\n' % path
    return '%s: %d:%d %04o\n' % (path, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            var=dict(type='str', default='go_cache_server_dir'),
            owner=dict(type='str', required=True),
            group=dict(type='str', required=True),
            metrics_dir=dict(type='path', required=True),
            metrics_var=dict(type='str', default='go_cache_server_metrics_dir'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        uid = pwd.getpwnam(p['owner']).pw_uid
        gid = grp.getgrnam(p['group']).gr_gid
    except KeyError as exc:
        module.fail_json(msg='The store owner %s:%s does not exist on this host (%s): is nginx installed? Nothing '
                             'was changed.' % (p['owner'], p['group'], to_native(exc)))
    try:
        check_dir(p['path'], p['var'], 'cache_store')
        check_dir(p['metrics_dir'], p['metrics_var'], 'metrics_dir')
    except Refused as exc:
        module.fail_json(msg='%s Nothing was changed.' % exc)
    wanted = [(p['path'], uid, gid, 0o750)] + [(os.path.join(p['path'], name), uid, gid, mode)
                                               for name, mode in SUBDIRS]
    wanted.append((p['metrics_dir'], None, None, None))  # created when missing, never changed
    plans = []
    for path, want_uid, want_gid, mode in wanted:
        st = lstat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            module.fail_json(msg='%s exists and is not a directory (or is a symlink): move it away. Nothing was '
                                 'changed.' % path)
        if st is None or (mode is not None and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
                          != (want_uid, want_gid, mode)):
            plans.append((path, st, want_uid, want_gid, mode))
    result = dict(changed=bool(plans), created=lstat(p['path']) is None,
                  created_metrics_dir=lstat(p['metrics_dir']) is None, changed_dirs=[x[0] for x in plans])
    if module._diff and plans:
        result['diff'] = dict(
            before_header='directories', after_header='directories',
            before=''.join(describe(path, st) for path, st, _u, _g, _m in plans),
            after=''.join('%s: %d:%d %04o\n' % (path, u or 0, g or 0, 0o755 if m is None else m)
                          for path, _st, u, g, m in plans))
    if plans and not module.check_mode:
        for path, st, want_uid, want_gid, mode in plans:
            try:
                if mode is None:
                    os.makedirs(path, 0o755, exist_ok=True)
                    continue
                if st is None:
                    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                    os.mkdir(path, 0o700)
                # The directory itself, through a descriptor: a symlink swapped in since the check is refused.
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                try:
                    os.fchown(fd, want_uid, want_gid)
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
            except OSError as exc:
                module.fail_json(msg='Preparing %s failed: %s.' % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
