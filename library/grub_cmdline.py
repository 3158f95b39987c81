#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: grub_cmdline
short_description: Ensure kernel parameters in GRUB_CMDLINE_LINUX and regenerate the GRUB configuration
description:
  - Adds each of I(present) to C(GRUB_CMDLINE_LINUX) in I(path), and removes every other value of the
    same parameter, and each parameter named in I(absent), from C(GRUB_CMDLINE_LINUX) and
    C(GRUB_CMDLINE_LINUX_DEFAULT).
  - Runs I(update_command) once when the file changed, then reports C(reboot_required) when the
    running kernel's command line (I(proc_cmdline)) does not match yet. Never reboots.
  - Checks that I(path) and I(update_command) exist before changing anything, and fails with what to
    do on a host that does not boot through GRUB.
  - Warns about files in C(I(path).d/) that set the same parameters, since GRUB reads them after I(path).
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  present:
    description: Parameters that must be on the command line, such as C(systemd.unified_cgroup_hierarchy=1).
    type: list
    elements: str
    default: []
  absent:
    description:
      - Names of parameters that must not be on the command line,
        such as C(systemd.legacy_systemd_cgroup_controller).
    type: list
    elements: str
    default: []
  path:
    description: GRUB's defaults file.
    type: path
    default: /etc/default/grub
  update_command:
    description: Command (and arguments) that regenerates the GRUB configuration.
    type: list
    elements: str
    default: [update-grub]
  proc_cmdline:
    description: The running kernel's command line.
    type: path
    default: /proc/cmdline
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the new command line and whether a reboot would be required, without writing.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Shows the defaults file before and after.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure the next boot uses cgroup v2 only
  go_buildhost.buildhost.grub_cmdline:
    present: [systemd.unified_cgroup_hierarchy=1]
    absent: [systemd.legacy_systemd_cgroup_controller]
  register: grub
'''

RETURN = r'''
cmdline:
  description: GRUB_CMDLINE_LINUX after the run.
  returned: always
  type: str
  sample: quiet systemd.unified_cgroup_hierarchy=1
running_cmdline:
  description: The running kernel's command line.
  returned: always
  type: str
updated:
  description: Whether I(update_command) ran.
  returned: always
  type: bool
reboot_required:
  description: Whether the running kernel's command line lacks a parameter of I(present) or has one of I(absent).
  returned: always
  type: bool
'''

import glob
import os
import re
import shlex

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import read_text
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import KEEP, FileSet
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import hold_host_lock, lock_argument_spec

ASSIGN_RE = re.compile(r'^(\s*(?:export\s+)?)(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$')
NO_GRUB = ('%s. This host does not seem to boot through GRUB, so build_cgroups_enable_unified cannot switch it '
           'to cgroup v2. Add systemd.unified_cgroup_hierarchy=1 to its kernel command line yourself (systemd-boot: '
           '/etc/kernel/cmdline, then reinstall the kernel or run kernel-install; a cloud or container host: its '
           'provider\'s kernel parameters), reboot, and run again. Nothing was changed.')


def key(token):
    return token.split('=', 1)[0]


def words(value):
    """The words of a shell assignment's value: quotes removed, a trailing comment dropped."""
    try:
        return ' '.join(shlex.split(value, comments=True)).split()
    except ValueError:
        return value.strip().strip('"\'').split()


def edit(text, present, absent):
    """Return the new file text and the new GRUB_CMDLINE_LINUX value."""
    drop = set(absent) | set(key(p) for p in present)
    lines = text.splitlines()
    last_linux = None
    for number, line in enumerate(lines):
        match = ASSIGN_RE.match(line)
        if match:
            tokens = [t for t in words(match.group(3)) if key(t) not in drop or t in present]
            lines[number] = '%s%s="%s"' % (match.group(1), match.group(2), ' '.join(tokens))
            if match.group(2) == 'GRUB_CMDLINE_LINUX':
                last_linux = number
    if last_linux is None:
        lines.append('GRUB_CMDLINE_LINUX=""')
        last_linux = len(lines) - 1
    match = ASSIGN_RE.match(lines[last_linux])
    tokens = words(match.group(3))
    tokens = [t for t in tokens if t not in present] + list(present)
    value = ' '.join(tokens)
    lines[last_linux] = '%s%s="%s"' % (match.group(1), match.group(2), value)
    new = '\n'.join(lines) + '\n'
    # A no-op edit must keep the file byte for byte (comments, quoting): compare token lists.
    if same_assignments(text, new):
        return text, value
    return new, value


def assignments(text):
    found = []
    for line in text.splitlines():
        match = ASSIGN_RE.match(line)
        if match:
            found.append((match.group(2), words(match.group(3))))
    return found


def same_assignments(old, new):
    return assignments(old) == assignments(new)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            present=dict(type='list', elements='str', default=[]),
            absent=dict(type='list', elements='str', default=[]),
            path=dict(type='path', default='/etc/default/grub'),
            update_command=dict(type='list', elements='str', default=['update-grub']),
            proc_cmdline=dict(type='path', default='/proc/cmdline'),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    params = module.params
    hold_host_lock(module, 'grub_cmdline')
    for token in params['present'] + params['absent']:
        if not token or any(c.isspace() or c in '"\'\\$`' for c in token):
            module.fail_json(msg='Kernel parameter %r must be one word without quotes or $; nothing was changed.'
                                 % token)
    # The one file it writes, through the managed-file engine: read once, its owner and mode kept.
    files = FileSet(follow_symlinks=True)
    current = files.read(params['path'])
    if current is None:
        module.fail_json(msg=NO_GRUB % ('%s does not exist' % params['path']))
    command = list(params['update_command'])
    if not command:
        module.fail_json(msg='update_command must name a command; nothing was changed.')
    found = module.get_bin_path(command[0]) if not os.path.isabs(command[0]) else (
        command[0] if os.access(command[0], os.X_OK) else None)
    if found is None:
        module.fail_json(msg=NO_GRUB % ('%s is not installed (no %s)' % (params['path'], command[0])))
    command[0] = found
    new, value = edit(current, params['present'], params['absent'])
    running = (read_text(params['proc_cmdline']) or '').split()
    names = set(key(t) for t in running)
    reboot = any(p not in running for p in params['present']) or any(a in names for a in params['absent'])
    for other in sorted(glob.glob(os.path.join(params['path'] + '.d', '*.cfg'))):
        text = read_text(other) or ''
        if any(key(p) in text for p in params['present']) or any(a in text for a in params['absent']):
            module.warn('%s also sets %s and GRUB reads it after %s: check that it does not undo this change.'
                        % (other, ', '.join(key(p) for p in params['present'] + params['absent']), params['path']))
    changed = files.want(params['path'], new, mode=KEEP, owner=KEEP).changed
    result = dict(changed=changed, cmdline=value, running_cmdline=' '.join(running), updated=False,
                  reboot_required=reboot)
    if module._diff and changed:
        result['diff'] = files.diff()[0]
    if changed and not module.check_mode:
        files.apply()
        rc, out, err = module.run_command(command)
        if rc != 0:
            module.fail_json(msg='%s failed (rc=%d): %s %s. %s is already changed; fix the error and run %s by hand '
                                 'before rebooting.' % (' '.join(command), rc, out.strip(), err.strip(),
                                                        params['path'], ' '.join(command)), **result)
        result['updated'] = True
    module.exit_json(**result)


if __name__ == '__main__':
    main()
