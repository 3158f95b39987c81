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
  - Do not put secrets in I(content), because the diff shows it. Write secrets with a separate C(no_log) task.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
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
  services:
    description:
      - systemd units to keep enabled and running (or stopped and disabled) once the files are in place, in the
        same call. Their state is read with one C(systemctl show) for all of them, so a run with nothing to do
        costs no more than that.
      - When a file under one of I(unit_dirs) was written or removed, C(systemctl daemon-reload) runs first.
      - Actions run in the order given, one C(systemctl) command per unit and verb.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The unit, with its suffix (C(go-cache-health.timer), C(ssh.service)).
        type: str
        required: true
      enabled:
        description: Enable (C(true)) or disable (C(false)) the unit; leave it as it is when unset.
        type: bool
      state:
        description:
          - C(started) starts the unit when it is not active, C(stopped) stops it when it is; unset leaves it.
        type: str
        choices: [started, stopped]
      restart_on:
        description:
          - Paths (among I(files)) whose change restarts the unit. A unit that is wanted C(started) is restarted;
            with I(state) unset it is restarted only if it runs (C(systemctl try-restart)).
        type: list
        elements: path
        default: []
      missing:
        description:
          - What to do when the unit is not installed. C(fail) (default) names it; C(ignore) leaves it alone,
            for units that are wanted stopped or come from an optional package. In check mode a missing unit
            never fails (a package install before this call may not have happened).
        type: str
        choices: [fail, ignore]
        default: fail
  unit_dirs:
    description: Directories whose changed files (units, drop-ins) need C(systemctl daemon-reload) before I(services).
    type: list
    elements: path
    default: [/etc/systemd, /run/systemd]
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the files that would change and what would be done to each unit; validators are not run.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: One diff per changed file (content, and owner or mode changes).
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure the health check's configuration and units are in place
  go_buildhost.buildhost.file_bundle:
    files:
      - path: /etc/go-cache/health.json
        content: "{{ config | to_nice_json }}\n"
      - path: /etc/prometheus/go_cache.rules.yml
        content: "{{ lookup('ansible.builtin.template', 'go_cache.rules.yml.j2') }}"
        validate: promtool check rules %s
      - path: /etc/systemd/system/go-cache-health.timer
        content: "{{ lookup('ansible.builtin.template', 'go-cache-health.timer.j2') }}"
    services:
      - name: go-cache-health.timer
        enabled: true
        state: started
        restart_on: [/etc/systemd/system/go-cache-health.timer]
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
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran (or would run, in check mode).
  returned: always
  type: bool
service_actions:
  description: What was (or would be) done to the units in I(services), e.g. C(enable go-cache-health.timer).
  returned: always
  type: list
  elements: str
  sample: [start go-cache-health.timer, restart prometheus-node-exporter.service]
'''

import grp
import os
import pwd
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet, NotRegularFile
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import (
    ENABLED_STATES, daemon_reload, is_active, show, unit_action,
)


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


def validator(module, spec):
    """The check file_bundle runs on the temporary copy of a file with validate, or None."""
    if not spec.get('validate'):
        return None

    def check(tmp):
        if '%s' not in spec['validate']:
            module.fail_json(msg='validate for %s must contain %%s, got %r.' % (spec['path'], spec['validate']))
        command = [part.replace('%s', tmp) for part in shlex.split(spec['validate'])]
        rc, out, err = module.run_command(command)
        if rc != 0:
            module.fail_json(msg='%s failed validation with %s (rc=%d); it was not written: %s' % (
                spec['path'], spec['validate'], rc, (err or out).strip()))
    return check


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


def plan_services(module, changed_paths):
    """What to do to each unit in services, from one systemctl show: a list of (verb, unit)."""
    specs = module.params['services']
    if not specs:
        return []
    names = [spec['name'] for spec in specs]
    shown = show(module, 'Id,LoadState,ActiveState,UnitFileState', names, 'The files are in place.')
    states = dict((block.get('Id'), block) for block in shown)
    steps = []
    for spec in specs:
        unit = states.get(spec['name'], {})
        changed_inputs = set(spec['restart_on']) & set(changed_paths)
        if unit.get('LoadState', 'not-found') == 'not-found':
            if spec['missing'] == 'ignore':
                continue
            if not module.check_mode:
                module.fail_json(msg='The unit %s is not installed: install the package that ships it (or turn '
                                     'off the feature that needs it). The files are in place.' % spec['name'])
        enabled = unit.get('UnitFileState', '')
        active = is_active(unit)
        if spec['enabled'] is True and enabled not in ENABLED_STATES:
            steps.append(('enable', spec['name']))
        elif spec['enabled'] is False and enabled in ('enabled', 'enabled-runtime'):
            steps.append(('disable', spec['name']))
        if spec['state'] == 'stopped':
            if active:
                steps.append(('stop', spec['name']))
        elif changed_inputs and (spec['state'] == 'started' or active):
            steps.append(('restart', spec['name']))
        elif spec['state'] == 'started' and not active:
            steps.append(('start', spec['name']))
    return steps


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
            services=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                enabled=dict(type='bool'),
                state=dict(type='str', choices=['started', 'stopped']),
                restart_on=dict(type='list', elements='path', default=[]),
                missing=dict(type='str', choices=['fail', 'ignore'], default='fail'),
            )),
            unit_dirs=dict(type='list', elements='path', default=['/etc/systemd', '/run/systemd']),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    directory_mode = octal(module, module.params['directory_mode'], 'directory_mode')
    for spec in module.params['services']:
        if '.' not in spec['name'] or '/' in spec['name']:
            module.fail_json(msg='services: %r is not a unit name with its suffix, such as ssh.service or '
                                 'go-cache-health.timer.' % spec['name'])
    with host_lock(module, 'file_bundle %s' % ' '.join(f['path'] for f in module.params['files'][:3])):
        run(module, directory_mode)


def plan_files(module, directory_mode):
    """The FileSet of files: the present ones in the order given, then the ones to remove."""
    files = FileSet(binary=True, regular_only=True, directory_mode=directory_mode)
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
        try:
            entry = files.want(spec['path'], to_bytes(spec['content']), mode, (uid, gid), validator(module, spec))
        except NotRegularFile:
            module.fail_json(msg='%s exists and is not a regular file (a directory or a symlink); move it away.'
                                 % spec['path'])
        entry.spec = spec
    for path in removals:
        files.remove(path, read=False)
    return files


def headers(entry):
    if entry.content is None:
        return entry.path, '%s (absent)' % entry.path
    spec = entry.spec
    return ('%s %s' % (entry.path, describe(entry.st)),
            '%s %s' % (entry.path, '%s:%s %04o' % (spec['owner'], spec['group'], entry.mode)))


def texts(entry):
    if entry.content is None:
        return '(exists)\n', ''
    return (to_text(entry.before) if entry.before is not None else '', to_text(entry.content))


def run(module, directory_mode):
    files = plan_files(module, directory_mode)
    results = [dict(path=e.path, changed=e.changed, created=e.created) for e in files.entries]
    diffs = files.diff(headers, texts) if module._diff else []

    def failed(entry, exc):
        done = results[:files.entries.index(entry) + 1]
        module.fail_json(msg='Writing %s failed: %s' % (entry.path, to_native(exc)), files=done)

    if not module.check_mode:
        files.apply(on_error=failed)
    changed_paths = [r['path'] for r in results if r['changed']]
    unit_dirs = tuple(d.rstrip('/') + '/' for d in module.params['unit_dirs'])
    reload_units = bool(module.params['services']) and any(p.startswith(unit_dirs) for p in changed_paths)
    if reload_units and not module.check_mode:
        daemon_reload(module, 'The files are written; run systemctl daemon-reload by hand.')
    steps = plan_services(module, changed_paths)
    actions = ['%s %s' % step for step in steps]
    if not module.check_mode:
        for verb, unit in steps:
            unit_action(module, verb, [unit],
                        'The files are in place; see systemctl status %s and journalctl -u %s.' % (unit, unit))
    out = dict(changed=bool(changed_paths) or bool(steps), files=results, changed_paths=changed_paths,
               created=[r['path'] for r in results if r['created']], daemon_reloaded=reload_units,
               service_actions=actions)
    if diffs:
        out['diff'] = diffs
    module.exit_json(**out)


if __name__ == '__main__':
    main()
