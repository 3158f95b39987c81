# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the cgroup layout and limits from /sys/fs/cgroup and /proc.

Shared by the cgroup_facts and cgroup_slices modules. Every function takes
the roots it reads from, so the unit tests hand in fake trees. systemctl lives in systemd.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# The v1 "no limit" values are LONG_MAX rounded down to a page; anything this large is unlimited.
V1_UNLIMITED = 1 << 62
V1_CONTROLLERS = ('cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'io', 'devices', 'freezer',
                  'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc')


def read_first_line(path):
    try:
        with open(path) as handle:
            return handle.readline().strip()
    except (IOError, OSError):
        return None


def read_lines(path):
    try:
        with open(path) as handle:
            return handle.read().splitlines()
    except (IOError, OSError):
        return []


def unescape_mount(field):
    """mountinfo escapes space, tab, newline and backslash as octal."""
    for code, char in (('\\040', ' '), ('\\011', '\t'), ('\\012', '\n'), ('\\134', '\\')):
        field = field.replace(code, char)
    return field


def parse_mountinfo(lines):
    mounts = []
    for line in lines:
        fields = line.split()
        if '-' not in fields:
            continue
        sep = fields.index('-')
        if sep < 5 or len(fields) < sep + 3:
            continue
        mounts.append(dict(root=unescape_mount(fields[3]), mount_point=unescape_mount(fields[4]),
                           fstype=fields[sep + 1], super_options=fields[sep + 3].split(',')))
    return mounts


def mem_total(proc_root):
    """MemTotal in bytes, or None."""
    for line in read_lines(os.path.join(proc_root, 'meminfo')):
        if line.startswith('MemTotal:'):
            parts = line.split()
            return int(parts[1]) * 1024
    return None


def online_cpus(proc_root):
    """CPUs the kernel lists in /proc/stat (cpu0, cpu1, ...), at least 1."""
    count = sum(1 for line in read_lines(os.path.join(proc_root, 'stat'))
                if line.startswith('cpu') and line[3:4].isdigit())
    return max(count, 1)


def systemd_root(proc_root):
    """The cgroup systemd (PID 1) manages, e.g. "/" on a host or "/docker/<id>" in a container."""
    lines = read_lines(os.path.join(proc_root, '1', 'cgroup'))
    path = None
    for line in lines:
        hierarchy, _sep, rest = line.partition(':')
        controllers, _sep, cgroup = rest.partition(':')
        if (hierarchy == '0' and controllers == '') or (controllers == 'name=systemd' and path is None):
            path = cgroup
    if path is None:
        return '/'
    if path.endswith('/init.scope'):
        path = path[:-len('/init.scope')]
    return path or '/'


def detect(cgroup_root, proc_root):
    """The cgroup mode, the hierarchies and the controllers of this host.

    Mode: "unified" when cgroup_root is cgroup2; "hybrid" when it is a tmpfs with a cgroup2
    hierarchy at cgroup_root/unified; "legacy" otherwise. Read from /proc/self/mountinfo, or
    guessed from the files when mountinfo does not list cgroup_root.
    """
    cgroup_root = cgroup_root.rstrip('/') or '/'
    mounts = parse_mountinfo(read_lines(os.path.join(proc_root, 'self', 'mountinfo')))
    by_point = {}
    for mount in mounts:
        by_point[mount['mount_point']] = mount  # a later mount on the same point hides an earlier one
    unified_point = os.path.join(cgroup_root, 'unified')
    v1 = {}
    if cgroup_root in by_point:
        source = 'mountinfo'
        root_type = by_point[cgroup_root]['fstype']
        if root_type == 'cgroup2':
            mode, unified = 'unified', cgroup_root
        elif unified_point in by_point and by_point[unified_point]['fstype'] == 'cgroup2':
            mode, unified = 'hybrid', unified_point
        else:
            mode, unified = 'legacy', None
        for point, mount in by_point.items():
            if mount['fstype'] == 'cgroup' and os.path.dirname(point) == cgroup_root:
                for option in mount['super_options']:
                    if option in V1_CONTROLLERS or option.startswith('name='):
                        v1.setdefault(option, point)
    else:
        source = 'files'
        root_type = None
        if os.path.exists(os.path.join(cgroup_root, 'cgroup.controllers')):
            mode, unified = 'unified', cgroup_root
        elif os.path.exists(os.path.join(unified_point, 'cgroup.controllers')):
            mode, unified = 'hybrid', unified_point
        else:
            mode, unified = 'legacy', None
        if mode != 'unified':
            for name in sorted(os.listdir(cgroup_root)) if os.path.isdir(cgroup_root) else []:
                point = os.path.join(cgroup_root, name)
                if name == 'unified' or os.path.islink(point) or not os.path.isdir(point):
                    continue
                for option in name.split(','):
                    if option in V1_CONTROLLERS:
                        v1.setdefault(option, point)
                    elif option == 'systemd':
                        v1.setdefault('name=systemd', point)
    root = systemd_root(proc_root)
    controllers = delegated = []
    if unified:
        controllers = (read_first_line(os.path.join(unified, 'cgroup.controllers')) or '').split()
        delegated = (read_first_line(os.path.join(unified, root.lstrip('/'), 'cgroup.subtree_control')) or '').split()
    v1_enabled = []
    for line in read_lines(os.path.join(proc_root, 'cgroups')):
        fields = line.split()
        if len(fields) == 4 and not line.startswith('#') and fields[1] != '0' and fields[3] == '1':
            v1_enabled.append(fields[0])
    return dict(mode=mode, mode_source=source, root_fstype=root_type, cgroup_root=cgroup_root,
                unified_path=unified, v1_mounts=v1, controllers=sorted(controllers),
                delegated_controllers=sorted(delegated), v1_controllers=sorted(v1_enabled),
                systemd_root=root)


# ---- limits ------------------------------------------------------------------

def _number(value):
    """An int, or None for "max", a v1 unlimited value, -1 or an unreadable file."""
    if value is None or value in ('max', '-1', ''):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return None if number >= V1_UNLIMITED else number


def _quota(quota, period):
    """A CPU quota as a percentage of one CPU, or None when unlimited."""
    if quota is None or period in (None, 0):
        return None
    return round(quota * 100.0 / period, 2)


def read_limits(layout, cgroup):
    """The limit files of one cgroup (a path such as /system.slice/foo.service), raw and normalised."""
    relative = cgroup.strip('/')
    files = {}
    limits = dict(memory_max=None, memory_high=None, cpu_quota=None, cpu_weight=None, cpu_shares=None,
                  pids_max=None, io_weight=None, cpus=None)
    exists = False
    unified = layout.get('unified_path')
    if unified and os.path.isdir(os.path.join(unified, relative)):
        exists = True
        for name in ('memory.max', 'memory.high', 'cpu.max', 'cpu.weight', 'pids.max', 'io.weight',
                     'cpuset.cpus'):
            value = read_first_line(os.path.join(unified, relative, name))
            if value is not None:
                files[name] = value
        if 'memory.max' in files:
            limits['memory_max'] = _number(files['memory.max'])
        if 'memory.high' in files:
            limits['memory_high'] = _number(files['memory.high'])
        if 'cpu.max' in files:
            parts = files['cpu.max'].split()
            if len(parts) == 2:
                limits['cpu_quota'] = _quota(_number(parts[0]), _number(parts[1]))
        if 'cpu.weight' in files:
            limits['cpu_weight'] = _number(files['cpu.weight'])
        if 'pids.max' in files:
            limits['pids_max'] = _number(files['pids.max'])
        if 'io.weight' in files:
            parts = files['io.weight'].split()
            limits['io_weight'] = _number(parts[-1]) if parts else None
        if files.get('cpuset.cpus'):
            limits['cpus'] = files['cpuset.cpus']
    for controller, names in (('memory', ('memory.limit_in_bytes', 'memory.soft_limit_in_bytes')),
                              ('cpu', ('cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.shares')),
                              ('pids', ('pids.max',)), ('cpuset', ('cpuset.cpus',)),
                              ('blkio', ('blkio.weight', 'blkio.bfq.weight'))):
        point = layout.get('v1_mounts', {}).get(controller)
        if not point or not os.path.isdir(os.path.join(point, relative)):
            continue
        exists = True
        for name in names:
            value = read_first_line(os.path.join(point, relative, name))
            if value is not None:
                files['%s/%s' % (controller, name)] = value
    v1 = files.get
    if limits['memory_max'] is None and v1('memory/memory.limit_in_bytes'):
        limits['memory_max'] = _number(v1('memory/memory.limit_in_bytes'))
    if limits['cpu_quota'] is None and v1('cpu/cpu.cfs_quota_us'):
        limits['cpu_quota'] = _quota(_number(v1('cpu/cpu.cfs_quota_us')), _number(v1('cpu/cpu.cfs_period_us')))
    if v1('cpu/cpu.shares'):
        limits['cpu_shares'] = _number(v1('cpu/cpu.shares'))
    if limits['pids_max'] is None and v1('pids/pids.max'):
        limits['pids_max'] = _number(v1('pids/pids.max'))
    if limits['cpus'] is None and v1('cpuset/cpuset.cpus'):
        limits['cpus'] = v1('cpuset/cpuset.cpus')
    if limits['io_weight'] is None and (v1('blkio/blkio.weight') or v1('blkio/blkio.bfq.weight')):
        limits['io_weight'] = _number(v1('blkio/blkio.weight') or v1('blkio/blkio.bfq.weight'))
    return dict(exists=exists, files=files, limits=limits)


def effective_limits(layout, cgroup):
    """The tightest memory, CPU quota and task limits on cgroup and every cgroup above it."""
    effective = dict(memory_max=None, memory_high=None, cpu_quota=None, pids_max=None)
    parts = [p for p in cgroup.strip('/').split('/') if p]
    for depth in range(len(parts), -1, -1):
        limits = read_limits(layout, '/' + '/'.join(parts[:depth]))['limits']
        for key, have in list(effective.items()):
            value = limits[key]
            if value is not None and (have is None or value < have):
                effective[key] = value
    return effective
