#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cgroup_facts
short_description: Report the cgroup mode, the controllers and the limits systemd units really get
description:
  - Reads only; never changes anything.
  - The mode is C(unified) when I(cgroup_root) is a cgroup2 file system, C(hybrid) when it is a tmpfs
    with a cgroup2 hierarchy at I(cgroup_root)/unified (v1 controllers plus an empty unified
    hierarchy), and C(legacy) otherwise. The file system types come from I(proc_root)/self/mountinfo;
    when that does not list I(cgroup_root), the files under it decide.
  - Controllers available to cgroup v2 come from C(cgroup.controllers) at the unified root, the
    controllers systemd delegates to its units from C(cgroup.subtree_control) of systemd's own root
    cgroup, and the controllers bound to v1 hierarchies from I(proc_root)/cgroups.
  - For each of I(units), the cgroup comes from C(systemctl show) (C(ControlGroup), or the path
    the unit will get from its slice when it is not running), and its limits are read from the v2
    files (C(memory.max), C(memory.high), C(cpu.max), C(cpu.weight), C(pids.max), C(io.weight),
    C(cpuset.cpus)) or, on v1 hierarchies, C(memory.limit_in_bytes), C(cpu.cfs_quota_us) and
    C(cpu.cfs_period_us), C(cpu.shares), C(pids.max), C(cpuset.cpus) and C(blkio.weight).
  - C(effective) is the tightest memory, CPU quota and task limit of the unit and of every cgroup
    above it, which is what the kernel enforces.
  - Sets the fact C(cgroups) with the same content as the return values.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  units:
    description: Units (slices, services, scopes) whose cgroup and limits to report.
    type: list
    elements: str
    default: []
  cgroup_root:
    description: Where the cgroup file systems are mounted.
    type: path
    default: /sys/fs/cgroup
  proc_root:
    description: Where procfs is mounted.
    type: path
    default: /proc
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reads only, so it runs unchanged in check mode.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: none
    details: Changes nothing, so there is nothing to show.
  facts:
    description: Action returns an C(ansible_facts) dictionary that updates existing host facts.
    support: full
    details: Sets the C(cgroups) fact.
'''

EXAMPLES = r'''
- name: Read the cgroup mode and the limits of the build slice
  go_buildhost.buildhost.cgroup_facts:
    units: [gobuild.slice, gitlab-runner.service]

- name: Stop unless the host runs cgroup v2 only
  ansible.builtin.assert:
    that: ansible_facts.cgroups.mode == 'unified'
'''

RETURN = r'''
mode:
  description: C(unified), C(hybrid) or C(legacy).
  returned: always
  type: str
  sample: unified
mode_source:
  description: C(mountinfo) when the file system types decided the mode, C(files) when the files did.
  returned: always
  type: str
root_fstype:
  description: File system type of I(cgroup_root) (C(cgroup2), C(tmpfs)), or null when mountinfo did not list it.
  returned: always
  type: str
  sample: cgroup2
unified_path:
  description: Where the cgroup v2 hierarchy is mounted, or null on a legacy host.
  returned: always
  type: str
  sample: /sys/fs/cgroup
v1_mounts:
  description: Mount point of each controller bound to a v1 hierarchy (C(name=systemd) for systemd's own).
  returned: always
  type: dict
  sample: {memory: /sys/fs/cgroup/memory}
controllers:
  description: Controllers available in the cgroup v2 hierarchy (its C(cgroup.controllers)).
  returned: always
  type: list
  elements: str
  sample: [cpu, io, memory, pids]
delegated_controllers:
  description: Controllers enabled for the children of systemd's root cgroup (its C(cgroup.subtree_control)).
  returned: always
  type: list
  elements: str
  sample: [cpu, io, memory, pids]
v1_controllers:
  description: Controllers bound to a cgroup v1 hierarchy according to /proc/cgroups.
  returned: always
  type: list
  elements: str
  sample: []
systemd_root:
  description: The cgroup systemd manages (C(/) on a host, C(/docker/<id>) in a container sharing the host's).
  returned: always
  type: str
  sample: /
memory_total:
  description: MemTotal in bytes, the base of percentages such as C(MemoryMax=80%).
  returned: always
  type: int
cpus:
  description: Number of CPUs the kernel lists.
  returned: always
  type: int
units:
  description: One entry per unit of I(units), keyed by the unit name.
  returned: always
  type: dict
  contains:
    id:
      description: The unit's name according to systemd.
      type: str
    load_state:
      description: systemd's LoadState (C(loaded), C(not-found), ...).
      type: str
    active_state:
      description: systemd's ActiveState.
      type: str
    slice:
      description: The slice the unit lives in.
      type: str
    cgroup:
      description: The unit's cgroup path, from ControlGroup or, when not running, from its slice.
      type: str
    exists:
      description: Whether that cgroup exists now.
      type: bool
    files:
      description: The limit files read, by name (v1 files prefixed with their controller).
      type: dict
    limits:
      description: >-
        The unit's own limits: memory_max, memory_high and pids_max (numbers, null for no limit),
        cpu_quota (percent of one CPU), cpu_weight, cpu_shares (v1), io_weight, cpus (the cpuset).
      type: dict
    effective:
      description: The tightest memory_max, memory_high, cpu_quota and pids_max of the unit and its ancestors.
      type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_fs import (
    detect, effective_limits, mem_total, online_cpus, read_limits)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import (
    by_name, parse_systemctl_show, systemctl)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_spec import slice_cgroup

SHOW = 'Id,Names,LoadState,ActiveState,Slice,ControlGroup'


def unit_cgroup(layout, unit):
    """ControlGroup while running; otherwise the path the unit gets below its slice."""
    if unit.get('ControlGroup'):
        return unit['ControlGroup']
    root = layout['systemd_root'].rstrip('/')
    if unit['Id'].endswith('.slice'):
        if unit['Id'] == '-.slice':
            return root or '/'
        return '%s/%s' % (root, slice_cgroup(unit['Id']))
    parent = unit.get('Slice') or 'system.slice'
    if parent == '-.slice':
        return '%s/%s' % (root, unit['Id'])
    return '%s/%s/%s' % (root, slice_cgroup(parent), unit['Id'])


def show_units(module, names):
    rc, out, err = systemctl(module, ['show', '--property=' + SHOW, '--'] + list(names))
    if rc != 0:
        module.fail_json(msg='systemctl show %s failed (rc=%d): %s' % (' '.join(names), rc, err.strip()))
    return by_name(parse_systemctl_show(out))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type='list', elements='str', default=[]),
            cgroup_root=dict(type='path', default='/sys/fs/cgroup'),
            proc_root=dict(type='path', default='/proc'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params['cgroup_root']):
        module.fail_json(msg='%s does not exist: this host (or container) has no cgroup file system mounted '
                             'there; mount it, or point cgroup_root at it.' % params['cgroup_root'])
    layout = detect(params['cgroup_root'], params['proc_root'])
    result = dict(layout, memory_total=mem_total(params['proc_root']), cpus=online_cpus(params['proc_root']),
                  units={})
    if params['units']:
        shown = show_units(module, params['units'])
        for name in params['units']:
            unit = shown.get(name) or shown.get(name + '.service')
            if unit is None:
                module.fail_json(msg='systemctl show did not report %s.' % name)
            cgroup = unit_cgroup(layout, unit)
            read = read_limits(layout, cgroup)
            result['units'][name] = dict(
                id=unit['Id'], load_state=unit.get('LoadState'), active_state=unit.get('ActiveState'),
                slice=unit.get('Slice') or None, cgroup=cgroup, exists=read['exists'], files=read['files'],
                limits=read['limits'], effective=effective_limits(layout, cgroup))
    module.exit_json(changed=False, ansible_facts=dict(cgroups=result), **result)


if __name__ == '__main__':
    main()
