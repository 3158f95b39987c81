# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several small files and the units they feed, read, compared and written in one module call.

The file_bundle module is this alone; go_cache_perms runs it after the caches, in the same call, so a
converged go_cache host costs one module call (roles/go_cache/tasks/directories.yml).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import shlex

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet, NotRegularFile
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import (
    ENABLED_STATES, daemon_reload, is_active, show, unit_action,
)


def argument_spec():
    """The options of a bundle: file_bundle's own, and go_cache_perms' bundle option."""
    return dict(
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
    )


def check_params(module, params):
    """The checks of a bundle's options that need no host: its directory mode, and its units' names."""
    directory_mode = octal(module, params['directory_mode'], 'directory_mode')
    for spec in params['services']:
        if '.' not in spec['name'] or '/' in spec['name']:
            module.fail_json(msg='services: %r is not a unit name with its suffix, such as ssh.service or '
                                 'go-cache-health.timer.' % spec['name'])
    return directory_mode


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


def plan_services(module, params, changed_paths):
    """What to do to each unit in services, from one systemctl show: a list of (verb, unit)."""
    specs = params['services']
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


def plan_files(module, params, directory_mode):
    """The FileSet of files: the present ones in the order given, then the ones to remove."""
    files = FileSet(binary=True, regular_only=True, directory_mode=directory_mode)
    removals = []
    for spec in params['files']:
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


def apply(module, params, directory_mode):
    """Read, compare and write the files, then the units: the result (a dict), or fail_json."""
    files = plan_files(module, params, directory_mode)
    results = [dict(path=e.path, changed=e.changed, created=e.created) for e in files.entries]
    diffs = files.diff(headers, texts) if module._diff else []

    def failed(entry, exc):
        done = results[:files.entries.index(entry) + 1]
        module.fail_json(msg='Writing %s failed: %s' % (entry.path, to_native(exc)), files=done)

    if not module.check_mode:
        files.apply(on_error=failed)
    changed_paths = [r['path'] for r in results if r['changed']]
    unit_dirs = tuple(d.rstrip('/') + '/' for d in params['unit_dirs'])
    reload_units = bool(params['services']) and any(p.startswith(unit_dirs) for p in changed_paths)
    if reload_units and not module.check_mode:
        daemon_reload(module, 'The files are written; run systemctl daemon-reload by hand.')
    steps = plan_services(module, params, changed_paths)
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
    return out
