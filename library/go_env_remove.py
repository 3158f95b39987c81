#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_env_remove
short_description: Undo what go_env_file wrote, putting back the values it replaced
description:
  - The way back from M(go_buildhost.buildhost.go_env_file), in one call.
  - In each Go env file (I(path), and the C(go.env) of every GOROOT under I(install_root)) and each
    C(KEY=VALUE) file in I(env_files) (such as C(/etc/environment)), the keys go_env_file manages are removed,
    the values it replaced come back where they stood (go_env_file records them in the file, next to its
    marker), and its marker block goes. A file go_env_file created is removed. Lines it did not write stay.
  - Each of I(owned_files) (the whole-file C(profile) and C(systemd) formats) is removed when it carries the
    go_env header, and left alone, with a warning, when it does not.
  - The local fact I(fact_path) is removed.
  - A key that go_env_file managed before it kept records (older go-buildhost versions) cannot get its own
    value back; it is removed and listed in C(unknown_originals), with a warning.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  path:
    description: Go env files to restore; entries containing C(*), C(?) or C([) are glob patterns.
    type: list
    elements: str
    default: []
  install_root:
    description: A directory whose subdirectories are GOROOTs; the C(go.env) of each one is restored.
    type: path
  env_files:
    description: Further C(KEY=VALUE) files go_env_file edited in place, such as C(/etc/environment).
    type: list
    elements: path
    default: []
  owned_files:
    description: Files go_env_file owned whole (profile snippet, systemd drop-in); removed when they carry I(header).
    type: list
    elements: path
    default: []
  header:
    description: A line every file in I(owned_files) must contain to be removed.
    type: str
    default: Managed by go-buildhost (role go_env)
  fact_path:
    description: Local fact file to remove; an empty string removes none.
    type: str
    default: ""
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports every file that would be restored or removed.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: One diff per changed file.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure no Go environment written by go_env remains
  go_buildhost.buildhost.go_env_remove:
    install_root: /usr/local/lib/go
    env_files: [/etc/environment]
    owned_files:
      - /etc/profile.d/go-buildhost-go-runtime.sh
      - /etc/systemd/system.conf.d/60-go-buildhost-go-runtime.conf
    fact_path: /etc/ansible/facts.d/go_env.fact
'''

RETURN = r'''
changed_files:
  description: The files restored or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
removed_files:
  description: Of those, the files removed.
  returned: always
  type: list
  elements: str
unknown_originals:
  description: Files and keys whose value before go_env is not known; their lines were removed.
  returned: always
  type: list
  elements: dict
kept_files:
  description: Files of I(owned_files) left alone because they lack I(header).
  returned: always
  type: list
  elements: str
'''

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_env import restore
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import remove_fact
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import KEEP, FileSet

GLOB_CHARS = ('*', '?', '[')


def env_files(params):
    """Every KEY=VALUE file to restore: path (globs expanded), the GOROOTs' go.env, env_files."""
    found = []
    for entry in params['path']:
        found.extend(sorted(glob.glob(entry)) if any(c in entry for c in GLOB_CHARS) else [entry])
    if params['install_root']:
        try:
            names = sorted(os.listdir(params['install_root']))
        except OSError:
            names = []
        for name in names:
            goroot = os.path.join(params['install_root'], name)
            if not name.startswith('.') and os.path.isfile(os.path.join(goroot, 'bin', 'go')):
                found.append(os.path.join(goroot, 'go.env'))
    found.extend(params['env_files'])
    return list(dict.fromkeys(found))


def plan(module):
    """The FileSet restoring the files (each keeps its mode and owner) and removing go_env's own, the unknown
    originals, and the files left alone."""
    params = module.params
    files = FileSet(follow_symlinks=True)
    unknown, kept = [], []
    for path in env_files(params):
        if not os.path.isabs(path):
            module.fail_json(msg='%s is not an absolute path; nothing was changed.' % path)
        before = files.read(path)
        if before is None:
            continue
        after, lost = restore(before)
        unknown.extend(dict(path=path, key=key) for key in lost)
        if after != before:
            files.want(path, after, KEEP, KEEP)
    for path in params['owned_files']:
        before = files.read(path)
        if before is None:
            continue
        if params['header'] in before:
            files.remove(path)
        else:
            kept.append(path)
    remove_fact(files, params['fact_path'])
    return files, unknown, kept


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='list', elements='str', default=[]),
            install_root=dict(type='path'),
            env_files=dict(type='list', elements='path', default=[]),
            owned_files=dict(type='list', elements='path', default=[]),
            header=dict(type='str', default='Managed by go-buildhost (role go_env)'),
            fact_path=dict(type='str', default=''),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    with host_lock(module, 'go_env_remove'):
        run(module)


def run(module):
    files, unknown, kept = plan(module)
    result = dict(changed=files.changed, changed_files=files.paths(), removed_files=files.paths('remove'),
                  unknown_originals=unknown, kept_files=kept)
    for entry in unknown:
        module.warn('%s: the value %s had before go_env is not recorded (written by an older go-buildhost); its '
                    'line was removed.' % (entry['path'], entry['key']))
    for path in kept:
        module.warn('%s lacks the go_env header, so it is not go_env\'s: left alone.' % path)
    if module._diff and files.changed:
        result['diff'] = files.diff(headers=lambda e: (e.path, e.path if e.content is not None else '%s (absent)'
                                                       % e.path))
    if files.changed and not module.check_mode:
        def failed(entry, exc):
            module.fail_json(msg='Restoring %s failed: %s. The files before it in changed_files are done.'
                                 % (entry.path, to_native(exc)), **result)

        files.apply(on_error=failed)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
