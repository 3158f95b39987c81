# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build slices as data: validation, nesting, and the Go limits derived from them.

Shared by the cgroup_slices module on the host and, through the build_cgroups_errors
filter (plugins/filter/build_cgroups.py), by the build_cgroups role's check on the
controller: each rule and its text live here only. Pure functions: no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import math
import re

MIB = 1024 * 1024
SIZE_FACTORS = {'': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3, 'T': 1024 ** 4}

# A dash separates nesting levels, so no leading, trailing or doubled dash.
SLICE_NAME_RE = re.compile(r'^[A-Za-z0-9:_.]+(-[A-Za-z0-9:_.]+)*\.slice$')
RESERVED_SLICES = ('-.slice', 'system.slice', 'user.slice', 'machine.slice')
SIZE_RE = re.compile(r'^(0|[1-9][0-9]*)([KMGT]?)$')
PERCENT_RE = re.compile(r'^([1-9][0-9]?|100)%$')
QUOTA_RE = re.compile(r'^[1-9][0-9]*%$')
TASKS_RE = re.compile(r'^([1-9][0-9]*|([1-9][0-9]?|100)%|infinity)$')
CPU_LIST_RE = re.compile(r'^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$')
SERVICE_RE = re.compile(r'^[A-Za-z0-9:_.@*?\[\]\\-]+$')
OTHER_UNIT_TYPES = ('.slice', '.scope', '.socket', '.target', '.timer', '.path', '.mount', '.automount',
                    '.swap', '.device')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
SLICE_KEYS = ('name', 'description', 'memory_high', 'memory_max', 'cpu_quota', 'cpu_weight', 'tasks_max',
              'io_weight', 'allowed_cpus')
SERVICE_KEYS = ('name', 'slice', 'environment')

SIZE_HINT = ('use bytes with an optional K, M, G or T suffix (base 1024, no space, e.g. "2G"), '
             'a percentage of RAM from 1% to 100% such as "80%", or "infinity".')


class SpecError(ValueError):
    """Invalid slices or services; .errors lists every problem found."""

    def __init__(self, errors):
        ValueError.__init__(self, ' '.join(errors))
        self.errors = errors


def text(value):
    """The value as a user wrote it: None and '' are empty, numbers become their digits."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# ---- sizes, quotas, weights -------------------------------------------------

def parse_size(value):
    """("bytes", n), ("percent", p) or ("infinity", None); None when invalid."""
    value = text(value)
    if value == 'infinity':
        return ('infinity', None)
    match = SIZE_RE.match(value)
    if match:
        return ('bytes', int(match.group(1)) * SIZE_FACTORS[match.group(2)])
    match = PERCENT_RE.match(value)
    if match:
        return ('percent', int(match.group(1)))
    return None


def size_bytes(value, mem_total):
    """Bytes a size stands for on a host with mem_total bytes of RAM; None for unset or infinity."""
    if text(value) == '':
        return None
    kind, number = parse_size(value)
    if kind == 'bytes':
        return number
    if kind == 'percent':
        return mem_total * number // 100
    return None


def quota_percent(value):
    value = text(value)
    return int(value[:-1]) if QUOTA_RE.match(value) else None


def is_weight(value):
    value = text(value)
    return value.isdigit() and 1 <= int(value) <= 10000


def cpu_list(value):
    """The set of CPUs of a list such as "0-3,6"; None when invalid or a range runs backwards."""
    value = text(value)
    if not CPU_LIST_RE.match(value):
        return None
    cpus = set()
    for part in value.split(','):
        low, _sep, high = part.partition('-')
        high = high or low
        if int(low) > int(high):
            return None
        cpus.update(range(int(low), int(high) + 1))
    return cpus


# ---- names -------------------------------------------------------------------

def slice_chain(name):
    """The slices a slice nests in, outermost first, itself last: go-build.slice -> [go.slice, go-build.slice]."""
    parts = name[:-len('.slice')].split('-')
    return ['-'.join(parts[:i]) + '.slice' for i in range(1, len(parts) + 1)]


def slice_cgroup(name):
    """The cgroup path of a slice below systemd's root: go.slice/go-build.slice."""
    return '/'.join(slice_chain(name))


def service_unit(name):
    """gitlab-runner -> gitlab-runner.service; names that already end in .service stay."""
    name = text(name)
    return name if name.endswith('.service') else name + '.service'


def is_glob(name):
    return any(c in name for c in '*?[')


def is_template(unit):
    return unit.endswith('@.service')


def match_units(pattern, unit_names):
    """Units among unit_names a glob matches; templates only when the pattern names one."""
    return sorted(u for u in unit_names if fnmatch.fnmatchcase(u, pattern)
                  and u.endswith('.service') and (is_template(pattern) or not is_template(u)))


# ---- validation --------------------------------------------------------------

def validate(slices, services, wrapper_slice='', gomemlimit_percent=90, wrapper_path=''):
    """Every problem with the slices and services, as the role words it (empty list when all is well)."""
    errors = []
    names = []
    for i, item in enumerate(slices):
        if not isinstance(item, dict):
            errors.append('build_cgroups_slices[%d] must be a dict with at least a name.' % i)
            continue
        name = text(item.get('name'))
        where = 'build_cgroups_slices[%d] (%s)' % (i, name)
        unknown = sorted(set(item) - set(SLICE_KEYS))
        if unknown:
            errors.append('%s: unknown key(s) %s; the keys are %s.'
                          % (where, ', '.join(unknown), ', '.join(SLICE_KEYS)))
        if name in RESERVED_SLICES:
            errors.append('build_cgroups_slices[%d]: "%s" belongs to systemd; name a slice of your own such as '
                          '"gobuild.slice".' % (i, name))
        elif len(name) > 255 or not SLICE_NAME_RE.match(name):
            errors.append('build_cgroups_slices[%d]: name "%s" is not a valid slice name: use letters, digits, ":", '
                          '"_" and "." ending in ".slice", e.g. "gobuild.slice"; a "-" nests ("go-build.slice" is a '
                          'child of "go.slice"), and "/", spaces and leading, trailing or doubled dashes are not '
                          'allowed.' % (i, name))
        elif name in names:
            errors.append('build_cgroups_slices: "%s" is listed more than once.' % name)
        names.append(name)
        if '\n' in text(item.get('description')):
            errors.append('%s: description must be a single line.' % where)
        for key in ('memory_high', 'memory_max'):
            if text(item.get(key)) != '' and parse_size(item.get(key)) is None:
                errors.append('%s: %s "%s" is not a size: %s' % (where, key, text(item.get(key)), SIZE_HINT))
        high, limit = parse_size(item.get('memory_high')), parse_size(item.get('memory_max'))
        if high and limit and high[0] == limit[0] and high[0] != 'infinity' and high[1] > limit[1]:
            errors.append('%s: memory_high "%s" is above memory_max "%s": the kernel throttles at memory_high and '
                          'OOM-kills at memory_max, so memory_high must be the lower one.'
                          % (where, text(item.get('memory_high')), text(item.get('memory_max'))))
        if text(item.get('cpu_quota')) != '' and quota_percent(item.get('cpu_quota')) is None:
            errors.append('%s: cpu_quota "%s" is not a CPU quota: use a percentage of one CPU with a "%%" sign, '
                          'e.g. "150%%" for one and a half CPUs.' % (where, text(item.get('cpu_quota'))))
        for key in ('cpu_weight', 'io_weight'):
            if text(item.get(key)) != '' and not is_weight(item.get(key)):
                errors.append('%s: %s "%s" is not a whole number from 1 to 10000 (100 is systemd\'s default).'
                              % (where, key, text(item.get(key))))
        if text(item.get('tasks_max')) != '' and not TASKS_RE.match(text(item.get('tasks_max'))):
            errors.append('%s: tasks_max "%s" is not a task limit: use a whole number such as 4096, a percentage '
                          'of the system\'s limit such as "25%%", or "infinity".'
                          % (where, text(item.get('tasks_max'))))
        if text(item.get('allowed_cpus')) != '' and cpu_list(item.get('allowed_cpus')) is None:
            errors.append('%s: allowed_cpus "%s" is not a CPU list: use CPU numbers and ascending ranges separated '
                          'by commas, e.g. "0-3,6".' % (where, text(item.get('allowed_cpus'))))
    units = []
    for i, item in enumerate(services):
        if not isinstance(item, dict):
            errors.append('build_cgroups_services[%d] must be a dict with at least a name.' % i)
            continue
        name = text(item.get('name'))
        where = 'build_cgroups_services[%d] (%s)' % (i, name)
        unknown = sorted(set(item) - set(SERVICE_KEYS))
        if unknown:
            errors.append('%s: unknown key(s) %s; the keys are %s.'
                          % (where, ', '.join(unknown), ', '.join(SERVICE_KEYS)))
        if not SERVICE_RE.match(name) or name.endswith(OTHER_UNIT_TYPES) or name.startswith('-'):
            errors.append('build_cgroups_services[%d]: name "%s" is not a service name: use a unit name such as '
                          '"gitlab-runner" or "gitlab-runner.service", a template such as "jenkins-agent@.service" '
                          'or a glob such as "actions.runner.*"; "/" and spaces are not allowed.' % (i, name))
        elif service_unit(name) in units:
            errors.append('build_cgroups_services: "%s" is listed more than once.' % service_unit(name))
        units.append(service_unit(name))
        target = text(item.get('slice')) or (names[0] if names else '')
        if not names:
            errors.append('%s: there is no slice to put it in; add one to build_cgroups_slices.' % where)
        elif target not in names:
            errors.append('%s: slice "%s" is not one of build_cgroups_slices (%s).' % (where, target, ', '.join(names)))
        environment = item.get('environment') or {}
        if not isinstance(environment, dict):
            errors.append('%s: environment must be a dict of variable names and values.' % where)
        else:
            for key in sorted(environment):
                if not ENV_NAME_RE.match(text(key)):
                    errors.append('%s: environment key "%s" is not a variable name.' % (where, key))
    if text(wrapper_slice) != '' and text(wrapper_slice) not in names:
        errors.append('build_cgroups_wrapper_slice "%s" is not one of build_cgroups_slices (%s).'
                      % (text(wrapper_slice), ', '.join(names)))
    if not text(gomemlimit_percent).isdigit() or not 1 <= int(text(gomemlimit_percent)) <= 100:
        errors.append('build_cgroups_gomemlimit_percent "%s" is not a whole number from 1 to 100.'
                      % text(gomemlimit_percent))
    if text(wrapper_path) != '' and not text(wrapper_path).startswith('/'):
        errors.append('build_cgroups_wrapper_path must be an absolute path or "", got "%s".' % text(wrapper_path))
    return errors


# ---- what Go is told ------------------------------------------------------------

def effective_limits(slices, name, mem_total, cpus):
    """The tightest limits on a slice from itself and the managed slices it nests in.

    Returns dict(quota=percent or None, memory=bytes or None, cpus=count): memory is the lower of
    memory_high and memory_max along the chain, cpus the CPUs the slice may use at all.
    """
    by_name = dict((text(s['name']), s) for s in slices)
    quota = memory = None
    allowed = cpus
    for link in slice_chain(name):
        item = by_name.get(link)
        if item is None:
            continue
        q = quota_percent(item.get('cpu_quota'))
        if q is not None:
            quota = q if quota is None else min(quota, q)
        for key in ('memory_high', 'memory_max'):
            b = size_bytes(item.get(key), mem_total)
            if b is not None:
                memory = b if memory is None else min(memory, b)
        listed = cpu_list(item.get('allowed_cpus')) if text(item.get('allowed_cpus')) else None
        if listed is not None:
            allowed = min(allowed, len(listed))
    return dict(quota=quota, memory=memory, cpus=allowed)


def gomaxprocs(quota, cpus):
    """ceil(quota/100), at least 1 and at most the CPUs the slice may use; None without a quota."""
    if quota is None:
        return None
    return max(1, min(int(math.ceil(quota / 100.0)), max(cpus, 1)))


def gomemlimit(memory, percent):
    """percent of memory in Go's syntax (whole MiB, or bytes below 1 MiB); None without a limit."""
    if memory is None:
        return None
    limit = memory * int(percent) // 100
    if limit >= MIB:
        return '%dMiB' % (limit // MIB)
    return str(max(limit, 1))


def go_environment(slices, name, mem_total, cpus, percent):
    limits = effective_limits(slices, name, mem_total, cpus)
    env = {}
    procs = gomaxprocs(limits['quota'], limits['cpus'])
    if procs is not None:
        env['GOMAXPROCS'] = str(procs)
    memlimit = gomemlimit(limits['memory'], percent)
    if memlimit is not None:
        env['GOMEMLIMIT'] = memlimit
    return env


# ---- unit files ------------------------------------------------------------------

def quote_environment(key, value):
    """One Environment= assignment, quoted for systemd (specifiers escaped: % becomes %%)."""
    value = text(value).replace('\\', '\\\\').replace('"', '\\"').replace('%', '%%')
    return 'Environment="%s=%s"' % (key, value)


def render_slice(item, head):
    name = text(item['name'])
    lines = [head, '[Unit]', 'Description=%s' % (text(item.get('description')) or 'Build slice %s' % name),
             '', '[Slice]']
    for key, directive in (('memory_high', 'MemoryHigh'), ('memory_max', 'MemoryMax'),
                           ('cpu_quota', 'CPUQuota'), ('cpu_weight', 'CPUWeight'), ('tasks_max', 'TasksMax'),
                           ('io_weight', 'IOWeight'), ('allowed_cpus', 'AllowedCPUs')):
        if text(item.get(key)) != '':
            lines.append('%s=%s' % (directive, text(item.get(key))))
    return '\n'.join(lines) + '\n'


def render_dropin(slice_name, environment, head):
    lines = [head, '[Service]', 'Slice=%s' % slice_name]
    lines.extend(quote_environment(k, environment[k]) for k in sorted(environment))
    return '\n'.join(lines) + '\n'


def render_env_file(environment, head):
    lines = [head]
    lines.extend("%s='%s'" % (k, text(environment[k]).replace("'", "'\\''")) for k in sorted(environment))
    return '\n'.join(lines) + '\n'
