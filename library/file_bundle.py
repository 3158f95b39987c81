#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: file_bundle
short_description: Ensure several small files have the given content, owner and mode, in one call
description:
  - Reads every file in I(files), compares content, owner, group and mode, and writes only the ones that
    differ, each through a temporary file in its own directory, C(fsync) and a rename, so a reader (a
    scrape, systemd) never sees half a file.
  - One module call instead of one C(template) or C(copy) task per file, so a run with nothing to do
    costs one round trip. Render the content on the controller, e.g. with
    C(lookup('ansible.builtin.template', ...)).
  - A file with I(validate) is checked on its temporary copy before it replaces the old one.
  - Missing parent directories are created (root-owned, I(directory_mode)).
  - Do not put secrets in I(content): the diff shows it. Write secrets with a separate C(no_log) task.
version_added: "1.0.0"
author: go-buildhost contributors
options:
  files:
    description: The files to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      state:
        description: C(present) writes the file, C(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
      content:
        description: The whole text of the file. Required with I(state=present).
        type: str
      mode:
        description: Octal mode as a string, e.g. C('0644').
        type: str
        default: '0644'
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      validate:
        description:
          - Command run on the temporary copy before it is moved into place, C(%s) standing for its path,
            e.g. C(promtool check rules %s). The file is not written when it fails. Not run in check mode.
        type: str
  directory_mode:
    description: Mode of parent directories this module creates.
    type: str
    default: '0755'
attributes:
  check_mode:
    support: full
    details: Reports which files would be created or changed; validation commands are not run.
  diff_mode:
    support: full
    details: One diff per changed file (content, and owner or mode changes).
'''

EXAMPLES = r'''
- name: Ensure the health check's configuration and units are in place
  file_bundle:
    files:
      - path: /etc/go-cache/health.json
        content: "{{ config | to_nice_json }}\n"
      - path: /etc/prometheus/go_cache.rules.yml
        content: "{{ lookup('ansible.builtin.template', 'go_cache.rules.yml.j2') }}"
        validate: promtool check rules %s
'''

RETURN = r'''
files:
  description: One result per file, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    changed:
      description: Whether it was (or would be) written or had its owner or mode fixed.
      type: bool
    created:
      description: Whether it did not exist before.
      type: bool
changed_paths:
  description: The files that changed (or would change).
  returned: always
  type: list
  elements: str
created:
  description: The files that did not exist (and were or would be created).
  returned: always
  type: list
  elements: str
'''

import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text


def octal(module, text, option):
    try:
        value = int(str(text), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        module.fail_json(msg='%s must be an octal mode such as "0644", got %r.' % (option, text))
    return value


def ids(module, spec):
    try:
        uid = pwd.getpwnam(spec['owner']).pw_uid
    except KeyError:
        module.fail_json(msg='The owner %s of %s does not exist.' % (spec['owner'], spec['path']))
    try:
        gid = grp.getgrnam(spec['group']).gr_gid
    except KeyError:
        module.fail_json(msg='The group %s of %s does not exist.' % (spec['group'], spec['path']))
    return uid, gid


def read(module, path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        module.fail_json(msg='%s exists and is not a regular file (a directory or a symlink); move it away.' % path)
    with open(path, 'rb') as handle:
        return st, handle.read()


def make_parents(path, mode):
    missing = []
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory, mode)
        os.chmod(directory, mode)


def write(module, spec, content, attrs):
    mode, uid, gid = attrs
    directory = os.path.dirname(spec['path'])
    fd, tmp = tempfile.mkstemp(prefix='.tmp-go-buildhost-', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if spec.get('validate'):
            if '%s' not in spec['validate']:
                module.fail_json(msg='validate for %s must contain %%s, got %r.' % (spec['path'], spec['validate']))
            command = [part.replace('%s', tmp) for part in shlex.split(spec['validate'])]
            rc, out, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg='%s failed validation with %s (rc=%d); it was not written: %s' % (
                    spec['path'], spec['validate'], rc, (err or out).strip()))
        os.rename(tmp, spec['path'])
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def describe(st, mode_of=None):
    if st is None:
        return ''
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return '%s:%s %04o' % (owner, group, mode_of if mode_of is not None else st.st_mode & 0o7777)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
                content=dict(type='str'),
                mode=dict(type='str', default='0644'),
                owner=dict(type='str', default='root'),
                group=dict(type='str', default='root'),
                validate=dict(type='str'),
            )),
            directory_mode=dict(type='str', default='0755'),
        ),
        supports_check_mode=True,
    )
    directory_mode = octal(module, module.params['directory_mode'], 'directory_mode')
    plans = []
    removals = []
    for spec in module.params['files']:
        if not os.path.isabs(spec['path']):
            module.fail_json(msg='file_bundle paths must be absolute, got %r.' % spec['path'])
        if spec['state'] == 'absent':
            if os.path.lexists(spec['path']):
                if os.path.isdir(spec['path']) and not os.path.islink(spec['path']):
                    module.fail_json(msg='%s is a directory; file_bundle removes files only.' % spec['path'])
                removals.append(spec['path'])
            continue
        if spec['content'] is None:
            module.fail_json(msg='content is required for %s (state=present).' % spec['path'])
        mode = octal(module, spec['mode'], 'mode of %s' % spec['path'])
        uid, gid = ids(module, spec)
        content = to_bytes(spec['content'])
        st, current = read(module, spec['path'])
        write_content = current != content
        fix_attrs = st is not None and (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, mode)
        plans.append((spec, content, mode, uid, gid, st, current, write_content, fix_attrs))

    results, diffs = [], []
    for spec, content, mode, uid, gid, st, current, write_content, fix_attrs in plans:
        changed = write_content or fix_attrs
        results.append(dict(path=spec['path'], changed=changed, created=st is None))
        if changed and module._diff:
            diffs.append(dict(
                before_header='%s %s' % (spec['path'], describe(st)),
                after_header='%s %s' % (spec['path'], '%s:%s %04o' % (spec['owner'], spec['group'], mode)),
                before=to_text(current) if current is not None else '', after=to_text(content)))
        if not changed or module.check_mode:
            continue
        try:
            if write_content:
                make_parents(spec['path'], directory_mode)
                write(module, spec, content, (mode, uid, gid))
            else:
                os.chown(spec['path'], uid, gid)
                os.chmod(spec['path'], mode)
        except (IOError, OSError) as exc:
            module.fail_json(msg='Writing %s failed: %s' % (spec['path'], to_native(exc)), files=results)
    for path in removals:
        results.append(dict(path=path, changed=True, created=False))
        if module._diff:
            diffs.append(dict(before_header=path, after_header='%s (absent)' % path, before='(exists)\n', after=''))
        if not module.check_mode:
            os.unlink(path)
    changed_paths = [r['path'] for r in results if r['changed']]
    out = dict(changed=bool(changed_paths), files=results, changed_paths=changed_paths,
               created=[r['path'] for r in results if r['created']])
    if diffs:
        out['diff'] = diffs
    module.exit_json(**out)


if __name__ == '__main__':
    main()
