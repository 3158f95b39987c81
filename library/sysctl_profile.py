#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: sysctl_profile
short_description: Persist and apply a whole set of kernel settings (sysctl) in one call
description:
  - Takes every setting at once, checks them all, and only then changes anything.
  - Each key, in dotted (C(vm.swappiness)) or slash (C(vm/swappiness)) notation, must exist under
    I(proc_root). Where the kernel holds integers the value must be the same number of decimal
    integers; booleans, and the words on, off, yes, no, true and false, are refused.
  - Writes one drop-in file, I(path), atomically, and writes live only the keys whose value differs.
  - In a container, host-wide settings (everything but C(net.*) and the IPC keys) are not written with
    I(apply_live=auto) but reported as pending. A key the kernel refuses is rolled back with the
    keys written before it, and the drop-in is left as it was.
  - Records each key's value from before its first change in I(state_path); I(state=absent) restores
    them and removes the drop-in. A key dropped from the profile is restored the same way.
  - Reports keys that a file read later by systemd-sysctl sets to another value, since those never
    take effect at boot.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  state:
    description:
      - C(present) persists and applies the profile.
      - C(absent) removes the drop-in and restores the recorded values.
    type: str
    choices: [present, absent]
    default: present
  settings:
    description:
      - The user's settings, merged over I(defaults). Keys in dotted or slash notation.
      - A value of C(null) drops the key from I(defaults). Values are integers, strings, or lists for multi-value keys.
    type: dict
    default: {}
  defaults:
    description: The base layer I(settings) is merged over; the same rules apply, checked separately.
    type: dict
    default: {}
  path:
    description: The drop-in file. It should live in one of I(sysctl_dirs), or it is not read at boot.
    type: path
    default: /etc/sysctl.d/60-go-buildhost.conf
  header:
    description: Comment lines written at the top of I(path); each line must start with C(#).
    type: str
    default: "# Managed by go-buildhost (sysctl_profile module): local changes are overwritten."
  apply_live:
    description:
      - C(auto) writes the keys that may be written here and reports the rest as pending (host-wide keys
        in a container, read-only /proc/sys); a value the kernel refuses still fails.
      - C(always) fails, before any change, when a key cannot be written, and relays the kernel's error.
      - C(never) only writes the file; differing keys are reported as pending.
    type: str
    choices: [auto, always, never]
    default: auto
  fail_on_shadowed:
    description: Fail, before any change, when a later sysctl.d file sets one of the keys to another value.
    type: bool
    default: false
  state_path:
    description: JSON file (mode 0600) recording each key's value from before its first change.
    type: path
    default: /var/lib/go-buildhost/sysctl_tuning.state.json
  fact_path:
    description: Local fact file to write; an empty string writes none.
    type: str
    default: /etc/ansible/facts.d/sysctl_tuning.fact
  proc_root:
    description: Where the kernel's settings are; tests point it at a fake tree.
    type: path
    default: /proc/sys
  sysctl_dirs:
    description: The directories systemd-sysctl reads, highest precedence first for files of the same name.
    type: list
    elements: path
    default: [/etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d]
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports what would change and which keys would be pending; it cannot know a value the kernel would refuse.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Shows the drop-in file and the live values before and after.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
notes:
  - Only root may write kernel settings.
'''

EXAMPLES = r'''
- name: Ensure the build-host kernel settings are persisted and applied
  go_buildhost.buildhost.sysctl_profile:
    defaults:
      vm.swappiness: 10
      net.core.somaxconn: 65535
    settings:
      net/ipv4/ip_local_port_range: "10240 65000"
      vm.swappiness: null

- name: Remove the drop-in and restore the values recorded before the first change
  go_buildhost.buildhost.sysctl_profile:
    state: absent
'''

RETURN = r'''
settings:
  description: The merged profile, dotted keys, values as written to the file.
  returned: always
  type: dict
  sample: {"net.core.somaxconn": "65535", "vm.swappiness": "10"}
keys:
  description:
    - One entry per key of the profile (and per key restored), with C(value), C(file_before),
      C(live_before), C(live_after) and C(status) (C(unchanged), C(applied), C(pending), C(restored)).
  returned: always
  type: dict
  sample: {"vm.swappiness": {"value": "10", "file_before": null, "live_before": "60", "live_after": "60",
           "status": "pending"}}
applied:
  description: Keys written live by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
pending:
  description: Keys whose live value differs and was not written, each with C(value), C(live) and C(reason).
  returned: always
  type: dict
shadowed:
  description: Keys that a file read later at boot sets to another value; each a list of C(path), C(line), C(value).
  returned: always
  type: dict
container:
  description: Why the host was taken for a container, or C(null).
  returned: always
  type: str
  sample: /.dockerenv exists
path:
  description: The drop-in file.
  returned: always
  type: str
file_changed:
  description: Whether the drop-in was (or would be) written or removed.
  returned: always
  type: bool
actions:
  description: What the run did, or would do in check mode, one line per step.
  returned: always
  type: list
  elements: str
'''

import errno
import json
import os

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import read_text
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import LocalFact
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet, put
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.sysctl_conf import (
    SYSCTL_DIRS, SysctlError, describe_errno, detect_container, file_name_errors, format_value, is_namespaced,
    is_writable, normalize_key, overriding_files, parse_conf, read_live, values_equal, write_live)

VAR = 'sysctl_tuning_settings'
STATE_VERSION = 1
# errno values that mean "not here" rather than "bad value": pending with apply_live=auto.
NOT_HERE = (errno.EPERM, errno.EACCES, errno.EROFS)


def canon(value):
    if isinstance(value, (list, tuple)):
        return ' '.join(str(item) for item in value)
    return ' '.join(str(value).split()) if value is not None else None


class Profile(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.proc_root = params['proc_root']
        self.path = params['path']
        self.mode = params['apply_live']
        self.actions = []
        self.errors = []
        self._container = None

    # ---- reading and checking --------------------------------------------
    def merge(self):
        """{dotted: (path, raw value, label)} from defaults, then settings."""
        merged = {}
        for origin, layer in (('defaults', self.module.params['defaults'] or {}),
                              ('settings', self.module.params['settings'] or {})):
            seen = {}
            for key in sorted(layer, key=str):
                value = layer[key]
                label = ('%s[%r]' % (VAR, key)) if origin == 'settings' else ('the role default %r' % key)
                try:
                    dotted, path = normalize_key(key)
                except SysctlError as exc:
                    self.errors.append('%s: %s.' % (VAR, exc))
                    continue
                if dotted in seen:
                    other_key, other_value = seen[dotted]
                    if canon(other_value) != canon(value):
                        self.errors.append(
                            '%s: %r and %r name the same setting %s but give different values (%r and %r); '
                            'keep one of them.' % (VAR, other_key, key, dotted, other_value, value))
                    continue
                seen[dotted] = (key, value)
                if value is None:
                    merged.pop(dotted, None)
                else:
                    merged[dotted] = (path, value, label)
        return merged

    def check(self, merged):
        """{dotted: {'path', 'value', 'live'}}; every problem goes to self.errors."""
        profile = {}
        for dotted in sorted(merged):
            path, raw, label = merged[dotted]
            full = os.path.join(self.proc_root, path)
            try:
                st = os.stat(full)
            except OSError:
                self.errors.append(
                    '%s: %s is not a setting of this kernel (%s does not exist). Check the spelling; a setting '
                    'of a kernel module exists only while the module is loaded%s.'
                    % (label, dotted, full, '' if label.startswith(VAR) else '; set it to null in %s to drop it'
                       % VAR))
                continue
            if os.path.isdir(full):
                self.errors.append('%s: %s is a group of settings (%s is a directory), not one setting.'
                                   % (label, dotted, full))
                continue
            if not st.st_mode & 0o200:
                self.errors.append('%s: %s is read-only: the kernel reports it but takes no value.' % (label, dotted))
                continue
            if not st.st_mode & 0o400:
                self.errors.append('%s: %s is write-only: it triggers an action, it is not a setting to persist.'
                                   % (label, dotted))
                continue
            try:
                live = read_live(self.proc_root, path)
            except (IOError, OSError) as exc:
                self.errors.append('%s: cannot read %s (%s).' % (label, full, describe_errno(exc)))
                continue
            try:
                value = format_value(raw, live)
            except SysctlError as exc:
                self.errors.append('%s: %s = %r: %s.' % (label, dotted, raw, exc))
                continue
            profile[dotted] = {'path': path, 'value': value, 'live': live}
        return profile

    def container(self):
        if self._container is None:
            def detect_virt():
                tool = self.module.get_bin_path('systemd-detect-virt')
                if not tool:
                    return None
                rc, out, _err = self.module.run_command([tool, '--container'])
                return out.strip() if rc == 0 and out.strip() not in ('', 'none') else None
            self._container = detect_container(self.proc_root, detect_virt)
        return self._container

    def plan(self, dotted, path, value):
        """('apply', None) or ('pending', reason) for a key whose live value differs."""
        full = os.path.join(self.proc_root, path)
        if self.mode == 'never':
            return 'pending', 'sysctl_tuning_apply_live is never'
        if self.mode == 'auto':
            in_container, evidence = self.container()
            if in_container and not is_namespaced(dotted):
                return 'pending', ('host-wide setting, not written from a container (%s): set it on the container '
                                   'host' % evidence)
            if not is_writable(full):
                return 'pending', '%s cannot be written here (%s)' % (full, self.denial(full))
            return 'apply', None
        if not is_writable(full):
            self.errors.append(
                'sysctl_tuning_apply_live is always, but %s = %s cannot be applied: %s (%s)%s. Use '
                'sysctl_tuning_apply_live: auto to persist it and report it as pending, or run on the host.'
                % (dotted, value, full, self.denial(full),
                   ' in a container (%s)' % self.container()[1] if self.container()[0] else ''))
        return 'apply', None

    def denial(self, full):
        try:
            if os.statvfs(full).f_flag & os.ST_RDONLY:
                return 'EROFS: Read-only file system'
        except OSError:
            pass
        return 'EACCES: Permission denied' if os.geteuid() != 0 else 'EPERM: Operation not permitted'

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, actions=self.actions, **extra)

    # ---- writing -----------------------------------------------------------
    def apply(self, writes):
        """Write [(dotted, path, value, before)] live; roll back and raise on the first failure.

        Returns (written, pending): keys written, and {dotted: reason} for keys that
        apply_live=auto leaves pending because this place may not write them.
        """
        done = []
        pending = {}
        for dotted, path, value, before in writes:
            full = os.path.join(self.proc_root, path)
            try:
                write_live(full, value)
                now = read_live(self.proc_root, path)
            except (IOError, OSError) as exc:
                if self.mode == 'auto' and exc.errno in NOT_HERE:
                    pending[dotted] = '%s cannot be written here (%s)' % (full, describe_errno(exc))
                    continue
                raise ApplyError('the kernel refused %s = %s (%s)' % (dotted, value, describe_errno(exc)),
                                 self.rollback(done)) from None
            if not values_equal(now, value):
                raise ApplyError('the kernel took %s = %s but reports %s (it clamps or rounds the value); set it to '
                                 '%s' % (dotted, value, now, now), self.rollback(done + [(dotted, path, before)]))
            done.append((dotted, path, before))
        return [d for d, _p, _b in done], pending

    def rollback(self, done):
        """Write the values from before back; return the keys that could not be restored."""
        failed = []
        for dotted, path, before in reversed(done):
            try:
                write_live(os.path.join(self.proc_root, path), before)
            except (IOError, OSError) as exc:
                failed.append('%s (still %s: %s)' % (dotted, before, describe_errno(exc)))
        return failed


class ApplyError(Exception):
    def __init__(self, msg, unrestored):
        super(ApplyError, self).__init__(msg)
        self.unrestored = unrestored


def load_state(module, state_path):
    text = read_text(state_path)
    if text is None:
        return None, {'version': STATE_VERSION, 'path': None, 'original': {}}
    try:
        state = json.loads(text)
        if not isinstance(state.get('original'), dict):
            raise ValueError('no "original" object')
    except ValueError as exc:
        module.fail_json(msg='The state file %s is damaged (%s): it records the values from before the first '
                             'change. Repair it from a backup, or delete it to record the current values as the '
                             'originals; nothing was changed.' % (state_path, exc))
    return text, state


def render(header, values):
    lines = [line.rstrip() for line in header.strip('\n').splitlines()]
    lines += ['%s = %s' % (dotted, values[dotted]) for dotted in sorted(values)]
    return '\n'.join(lines) + '\n'


def live_text(entries, key):
    return ''.join('%s = %s\n' % (dotted, entries[dotted][key]) for dotted in sorted(entries))


def file_values(text):
    found = {}
    for path, value, _number in parse_conf(text or ''):
        found[path.translate(str.maketrans('/.', './'))] = value
    return found


def root_owner():
    """The owner the drop-in and the state file get: root's, when this runs as root."""
    return (0, 0) if os.geteuid() == 0 else None


def write_owned(path, content, mode):
    put(path, content, mode, root_owner())


def validate(module):
    params = module.params
    for line in params['header'].strip('\n').splitlines():
        if line.strip() and not line.lstrip().startswith('#'):
            module.fail_json(msg='Every line of the drop-in header must be a comment starting with "#", got %r; '
                                 'nothing was changed.' % line)
    for name in ('path', 'state_path', 'proc_root'):
        if not os.path.isabs(params[name]):
            module.fail_json(msg='%s must be an absolute path, got %r; nothing was changed.' % (name, params[name]))
    # The role's own rule (its check calls the same function through the sysctl_tuning_errors filter).
    errors = file_name_errors(os.path.basename(params['path']))
    if errors:
        module.fail_json(msg='The drop-in %s: %s Nothing was changed.' % (params['path'], ' '.join(errors)),
                         refused=errors)


def restore_plan(tc, originals, keep_out, report):
    """Writes and pendings that bring keys of originals (not in keep_out) back to their recorded value."""
    writes, pending, settled = [], {}, []
    for dotted in sorted(originals):
        if dotted in keep_out:
            continue
        original = originals[dotted]
        try:
            _dotted, path = normalize_key(dotted)
            live = read_live(tc.proc_root, path)
        except (SysctlError, IOError, OSError):
            settled.append(dotted)  # the key is gone from this kernel: nothing left to restore
            continue
        entry = {'value': original, 'file_before': None, 'live_before': live, 'live_after': live,
                 'status': 'unchanged'}
        report[dotted] = entry
        if values_equal(live, original):
            settled.append(dotted)
            continue
        action, reason = tc.plan(dotted, path, original)
        if action == 'apply':
            writes.append((dotted, path, original, live))
            entry.update(live_after=original, status='restored')
        else:
            pending[dotted] = {'value': original, 'live': live, 'reason': reason}
            entry['status'] = 'pending'
    return writes, pending, settled


def run_changes(tc, writes, report, pending, state):
    """State first (so the originals survive a crash), then live values; undo both on failure.

    state is (path, text before or None, object after or None for no file).
    """
    state_path, state_before, state_after = state
    state_changed = state_after is not None and json.loads(state_before or 'null') != state_after
    try:
        if state_after is None and state_before is not None:
            os.unlink(state_path)
        elif state_changed:
            write_owned(state_path, json.dumps(state_after, indent=2, sort_keys=True) + '\n', 0o600)
        written, late_pending = tc.apply(writes)
    except ApplyError as exc:
        if state_before is None:
            if os.path.exists(state_path):
                os.unlink(state_path)
        elif state_after is None or state_changed:
            write_owned(state_path, state_before, 0o600)
        if exc.unrestored:
            tc.fail('Applying %s failed: %s. Rolling back the values written before it failed for %s; %s and %s '
                    'were left as they were.' % (VAR, exc, ', '.join(exc.unrestored), tc.path, state_path))
        tc.fail('Applying %s failed: %s. Every value written before it was rolled back, and %s and %s were '
                'left as they were; nothing was changed. Fix the value, or use sysctl_tuning_apply_live: never '
                'to only persist it.' % (VAR, exc, tc.path, state_path))
    except (IOError, OSError) as exc:
        tc.fail('Writing %s failed: %s; the drop-in was not changed.' % (state_path, to_native(exc)))
    for dotted, reason in late_pending.items():
        report[dotted].update(status='pending', live_after=report[dotted]['live_before'])
        pending[dotted] = {'value': report[dotted]['value'], 'live': report[dotted]['live_before'], 'reason': reason}
    return written


def present(module, tc):
    params = module.params
    merged = tc.merge()
    profile = tc.check(merged)
    if tc.errors:
        tc.fail('%d problem%s in the kernel settings; nothing was changed: %s'
                % (len(tc.errors), '' if len(tc.errors) == 1 else 's', ' '.join(tc.errors)))

    values = {dotted: entry['value'] for dotted, entry in profile.items()}
    state_text, state = load_state(module, params['state_path'])
    files = FileSet(follow_symlinks=True)
    old_path = state['path'] if state['path'] and state['path'] != tc.path and os.path.exists(state['path']) else None
    if old_path:
        files.remove(old_path, read=False)
    desired = render(params['header'], values)
    file_changed = files.want(tc.path, desired, 0o644, root_owner()).changed
    file_text = files.read(tc.path)
    before_file = file_values(file_text)

    report, writes, pending = {}, [], {}
    for dotted, entry in sorted(profile.items()):
        item = {'value': entry['value'], 'file_before': before_file.get(dotted), 'live_before': entry['live'],
                'live_after': entry['live'], 'status': 'unchanged'}
        report[dotted] = item
        if values_equal(entry['live'], entry['value']):
            continue
        action, reason = tc.plan(dotted, entry['path'], entry['value'])
        if action == 'apply':
            writes.append((dotted, entry['path'], entry['value'], entry['live']))
            item.update(live_after=entry['value'], status='applied')
        else:
            pending[dotted] = {'value': entry['value'], 'live': entry['live'], 'reason': reason}
            item['status'] = 'pending'

    originals = dict(state['original'])
    restores, restore_pending, settled = restore_plan(tc, originals, values, report)
    pending.update(restore_pending)
    for dotted in settled + [w[0] for w in restores]:
        originals.pop(dotted, None)
    for dotted, entry in profile.items():
        originals.setdefault(dotted, entry['live'])
    state_after = {'version': STATE_VERSION, 'path': tc.path, 'original': originals}

    own_dir = os.path.dirname(tc.path)
    if own_dir not in params['sysctl_dirs']:
        module.warn('%s is not in a directory systemd-sysctl reads (%s): its settings will not be applied at boot.'
                    % (tc.path, ', '.join(params['sysctl_dirs'])))
    shadowed = {}
    found = overriding_files(params['sysctl_dirs'], tc.path, {e['path']: e['value'] for e in profile.values()})
    for dotted, entry in profile.items():
        if entry['path'] in found:
            shadowed[dotted] = found[entry['path']]
    shadow_lines = ['%s = %s is overridden at boot by %s' % (
        dotted, values[dotted], ', '.join('%s:%d (%s)' % (o['path'], o['line'], o['value']) for o in shadowed[dotted]))
        for dotted in sorted(shadowed)]
    if shadowed and params['fail_on_shadowed']:
        tc.fail('sysctl_tuning_fail_on_shadowed is true and a file read after %s sets other values: %s. Remove '
                'those lines, or give the setting in %s; nothing was changed.'
                % (tc.path, '; '.join(shadow_lines), VAR))
    for line in shadow_lines:
        module.warn('%s: the live value is set now, but the other file wins at every boot.' % line)
    if tc.errors:
        tc.fail('Nothing was changed: %s' % ' '.join(tc.errors))

    state_changed = json.loads(state_text or 'null') != state_after
    in_container, evidence = tc.container()
    result = dict(path=tc.path, settings=values, keys=report, pending=pending, shadowed=shadowed,
                  container=evidence if in_container else None, file_changed=file_changed or bool(old_path))
    fact = LocalFact(params['fact_path'])
    fact_changed = fact.needs_write(fact_data(tc, values, report, result))

    if old_path:
        tc.actions.append('remove the previous drop-in %s' % old_path)
    if state_changed:
        tc.actions.append('record the values from before the first change in %s' % params['state_path'])
    tc.actions.extend('set %s = %s (was %s)' % (w[0], w[2], w[3]) for w in writes)
    tc.actions.extend('restore %s = %s (was %s)' % (w[0], w[2], w[3]) for w in restores)
    if file_changed:
        tc.actions.append('write %s' % tc.path)
    if module._diff:
        result['diff'] = [
            dict(before_header=tc.path, after_header=tc.path, before=file_text or '', after=desired),
            dict(before_header='live values', after_header='live values',
                 before=live_text(report, 'live_before'), after=live_text(report, 'live_after'))]
    if fact_changed:
        tc.actions.append('write %s' % params['fact_path'])
    changed = bool(tc.actions)
    if module.check_mode or not changed:
        warn_pending(module, tc, pending)
        module.exit_json(changed=changed, actions=tc.actions, applied=[w[0] for w in writes],
                         msg=summary(values, writes, pending, shadowed), **result)

    written = run_changes(tc, writes + restores, report, pending, (params['state_path'], state_text, state_after))
    try:
        files.apply()
        fact.write(fact_data(tc, values, report, result))
    except (IOError, OSError) as exc:
        tc.fail('Writing %s failed: %s. The live values are applied; run again once the problem is fixed.'
                % (tc.path, to_native(exc)))
    applied = [d for d in written if d in values]
    warn_pending(module, tc, pending)
    module.exit_json(changed=True, actions=tc.actions, applied=applied,
                     msg=summary(values, [w for w in writes if w[0] in applied], pending, shadowed), **result)


def warn_pending(module, tc, pending):
    """One warning for the keys persisted but not in effect (apply_live=never asked for exactly that)."""
    if not pending or tc.mode == 'never':
        return
    reasons = {}
    for dotted in sorted(pending):
        reasons.setdefault(pending[dotted]['reason'], []).append(
            '%s = %s (now %s)' % (dotted, pending[dotted]['value'], pending[dotted]['live']))
    module.warn('Persisted in %s but not in effect here: %s.' % (
        tc.path, '; '.join('%s: %s' % (', '.join(keys), reason) for reason, keys in reasons.items())))


def fact_data(tc, values, report, result):
    """The local fact: what is persisted, what is live, what waits for the host, what a later file overrides."""
    live = sorted(d for d, e in report.items() if d in values and values_equal(e['live_after'], e['value']))
    return {'state': 'present', 'path': tc.path, 'settings': values, 'apply_live': tc.mode, 'live': live,
            'pending': result['pending'], 'shadowed': result['shadowed'], 'container': result['container']}


def summary(values, writes, pending, shadowed):
    parts = ['%d key%s in the profile' % (len(values), '' if len(values) == 1 else 's'),
             '%d written live' % len(writes)]
    if pending:
        parts.append('%d pending (%s)' % (len(pending), ', '.join(sorted(pending))))
    if shadowed:
        parts.append('%d overridden at boot by a later file (%s)' % (len(shadowed), ', '.join(sorted(shadowed))))
    return '; '.join(parts)


def absent(module, tc):
    params = module.params
    state_text, state = load_state(module, params['state_path'])
    report = {}
    restores, pending, _settled = restore_plan(tc, state['original'], (), report)
    if tc.errors:
        tc.fail('Nothing was changed: %s' % ' '.join(tc.errors))
    files = FileSet(follow_symlinks=True)
    drop_ins = [p for p in dict.fromkeys([tc.path, state['path']]) if p and os.path.lexists(p)]
    for path in drop_ins:
        files.remove(path, read=False)
    fact = LocalFact(params['fact_path'])
    fact_exists = bool(params['fact_path']) and os.path.exists(params['fact_path'])
    remaining = {d: state['original'][d] for d in pending}
    state_after = {'version': STATE_VERSION, 'path': None, 'original': remaining} if remaining else None

    tc.actions.extend('restore %s = %s (was %s)' % (w[0], w[2], w[3]) for w in restores)
    tc.actions.extend('remove %s' % p for p in drop_ins)
    if state_text is not None and (state_after is None or json.loads(state_text) != state_after):
        tc.actions.append('remove %s' % params['state_path'] if state_after is None
                          else 'keep the values still to restore in %s' % params['state_path'])
    if fact_exists:
        tc.actions.append('remove %s' % params['fact_path'])
    changed = bool(tc.actions)
    file_text = files.read(tc.path)
    in_container, evidence = tc.container()
    result = dict(path=tc.path, settings={}, keys=report, pending=pending, shadowed={},
                  container=evidence if in_container else None, file_changed=bool(drop_ins))
    if module._diff:
        result['diff'] = [
            dict(before_header=tc.path, after_header=tc.path, before=file_text or '', after=''),
            dict(before_header='live values', after_header='live values',
                 before=live_text(report, 'live_before'), after=live_text(report, 'live_after'))]
    msg = '%d value%s restored' % (len(restores), '' if len(restores) == 1 else 's')
    if pending:
        msg += '; %d still to restore (%s)' % (len(pending), ', '.join(sorted(pending)))
    if module.check_mode or not changed:
        module.exit_json(changed=changed, actions=tc.actions, applied=[w[0] for w in restores], msg=msg, **result)
    written = run_changes(tc, restores, report, pending, (params['state_path'], state_text, state_after))
    files.apply()
    if fact_exists:
        fact.remove()
    module.exit_json(changed=True, actions=tc.actions, applied=written, msg=msg, **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            settings=dict(type='dict', default={}),
            defaults=dict(type='dict', default={}),
            path=dict(type='path', default='/etc/sysctl.d/60-go-buildhost.conf'),
            header=dict(type='str',
                        default='# Managed by go-buildhost (sysctl_profile module): local changes are overwritten.'),
            apply_live=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
            fail_on_shadowed=dict(type='bool', default=False),
            state_path=dict(type='path', default='/var/lib/go-buildhost/sysctl_tuning.state.json'),
            fact_path=dict(type='str', default='/etc/ansible/facts.d/sysctl_tuning.fact'),
            proc_root=dict(type='path', default='/proc/sys'),
            sysctl_dirs=dict(type='list', elements='path', default=list(SYSCTL_DIRS)),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    validate(module)
    tc = Profile(module)
    with host_lock(module, 'sysctl_profile state=%s path=%s' % (module.params['state'], module.params['path'])):
        if module.params['state'] == 'present':
            present(module, tc)
        else:
            absent(module, tc)


if __name__ == '__main__':
    main()
