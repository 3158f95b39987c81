#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cgroup_slices
short_description: Systemd slices for builds, services placed in them, and the Go limits that match
description:
  - Reads, compares and, if needed, writes every file in one call, then reloads systemd at most once.
  - Each of I(slices) becomes C(I(unit_dir)/<name>.slice) with MemoryHigh, MemoryMax, CPUQuota,
    CPUWeight, TasksMax, IOWeight and AllowedCPUs. A dash in a name nests, so C(go-build.slice) is a
    child of C(go.slice).
  - Each of I(services) (a unit name, a template such as C(jenkins-agent@.service), or a glob such as
    C(actions.runner.*) matched against the unit files in I(unit_paths)) gets the drop-in
    C(I(unit_dir)/<unit>.d/I(dropin_name)) with C(Slice=) and C(Environment=) lines for GOMAXPROCS
    and GOMEMLIMIT, followed by the service's own I(environment).
  - GOMAXPROCS is ceil(quota/100) of the tightest CPUQuota among the slice and the managed slices it
    nests in, at least 1 and at most the CPUs the slice may use. Go reads only the cpu.max of its own
    leaf cgroup, so a quota on a slice never reaches a build without this.
  - GOMEMLIMIT is I(gomemlimit_percent) of the lowest MemoryHigh or MemoryMax along the same chain
    (percentages of RAM resolved against MemTotal), in whole MiB.
  - The same values go to C(I(env_dir)/<slice>.env), which the wrapper command sources.
  - Files that carry the module's marker but are no longer wanted are removed; a file in one of those
    places without the marker is never overwritten (the module fails instead).
  - Running services whose drop-in changed, or that still run outside their slice or with an older
    environment than their drop-in, are restarted with C(systemctl try-restart) when I(restart) is
    true and reported in C(restart_pending) otherwise.
  - With I(state=absent), every file the module wrote (slices, drop-ins, env files, the wrapper recorded in
    I(fact_path)) and I(fact_path) itself are removed; the services whose drop-in goes are restarted or reported
    as for a change.
  - With I(require_unified), a host whose cgroup mode (read as the cgroup_facts module does) is not
    C(unified) makes the module fail before anything changes, saying what to do.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  state:
    description:
      - C(present) writes the files; C(absent) removes everything the module wrote and its fact, and ignores
        I(slices), I(services), I(wrapper_path) and I(require_unified).
    type: str
    choices: [present, absent]
    default: present
  slices:
    description:
      - The slices, each a dict with C(name) (required, ending in C(.slice)), C(description),
        C(memory_high), C(memory_max) (bytes with an optional K, M, G or T suffix, a percentage of RAM,
        or C(infinity)), C(cpu_quota) (a percentage of one CPU, e.g. C(150%)), C(cpu_weight) and
        C(io_weight) (1 to 10000), C(tasks_max) (a number, a percentage or C(infinity)) and
        C(allowed_cpus) (a CPU list such as C(0-3,6)). Empty values are left out of the unit.
    type: list
    elements: dict
    default: []
  services:
    description:
      - Services to place in a slice, each a dict with C(name) (required), C(slice) (default the first
        of I(slices)) and C(environment) (a dict added after GOMAXPROCS and GOMEMLIMIT, which it may override).
    type: list
    elements: dict
    default: []
  require_services:
    description: Fail when a service is not installed or a glob matches none, instead of warning.
    type: bool
    default: false
  restart:
    description: Restart the running services that need it; otherwise only report them in C(restart_pending).
    type: bool
    default: false
  daemon_reload:
    description: Run C(systemctl daemon-reload) once when a unit file or drop-in changed.
    type: bool
    default: true
  gomemlimit_percent:
    description: GOMEMLIMIT as a percentage of the memory limit (1 to 100).
    type: int
    default: 90
  header:
    description: Comment lines written at the top of every generated file, before the module's marker line.
    type: str
    default: ""
  unit_dir:
    description: Directory for the slice units and the drop-in directories.
    type: path
    default: /etc/systemd/system
  dropin_name:
    description: File name of the drop-ins.
    type: str
    default: 60-go-buildhost-slice.conf
  env_dir:
    description: Directory for the C(<slice>.env) files with each slice's Go environment.
    type: path
    default: /etc/go-buildhost/slices
  wrapper_path:
    description: Where to install the wrapper command; empty installs none (and removes one installed before).
    type: str
    default: ""
  wrapper_content:
    description:
      - The wrapper script, rendered from the role's template.
      - Must contain the marker C(build_cgroups (go-buildhost)).
    type: str
    default: ""
  fact_path:
    description: Local fact file recording what was written; empty writes none.
    type: str
    default: /etc/ansible/facts.d/build_cgroups.fact
  unit_paths:
    description: Directories searched for unit files when checking that services exist and expanding globs.
    type: list
    elements: path
    default: [/etc/systemd/system, /run/systemd/system, /run/systemd/transient, /run/systemd/generator,
              /run/systemd/generator.late, /usr/local/lib/systemd/system, /usr/lib/systemd/system, /lib/systemd/system]
  require_unified:
    description: Fail, before changing anything, on a host that is not on cgroup v2 only (hybrid or legacy).
    type: bool
    default: false
  cgroup_root:
    description: Where the cgroup file systems are mounted (for the mode check).
    type: path
    default: /sys/fs/cgroup
  proc_root:
    description: Where procfs is mounted (MemTotal, the CPU count and mountinfo are read there).
    type: path
    default: /proc
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the files that would change and the services that would need a restart.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: Shows every changed file before and after.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure the build slice exists and gitlab-runner runs in it
  go_buildhost.buildhost.cgroup_slices:
    slices:
      - name: gobuild.slice
        memory_high: 70%
        memory_max: 80%
        cpu_quota: 400%
        cpu_weight: 50
    services:
      - name: gitlab-runner
    restart: false
'''

RETURN = r'''
slices_stopped:
  description: Slices whose unit file was removed and that were stopped, empty (or would be, in check mode).
  returned: always
  type: list
  elements: str
slices_left_running:
  description: Slices whose unit file was removed but that still run processes (left active, with a warning).
  returned: always
  type: list
  elements: str
slices:
  description: Each slice with its unit file, cgroup path below systemd's root, and Go environment.
  returned: always
  type: dict
  sample: {"go-build.slice": {"unit_file": "/etc/systemd/system/go-build.slice",
                              "cgroup": "go.slice/go-build.slice",
                              "environment": {"GOMAXPROCS": "2", "GOMEMLIMIT": "1843MiB"},
                              "env_file": "/etc/go-buildhost/slices/go-build.slice.env"}}
services:
  description: Each service placed in a slice, keyed by unit name.
  returned: always
  type: dict
  sample: {"gitlab-runner.service": {"requested": "gitlab-runner", "slice": "gobuild.slice", "installed": true,
                                     "active": true, "in_slice": true,
                                     "dropin": "/etc/systemd/system/gitlab-runner.service.d/60-go-buildhost-slice.conf",
                                     "environment": {"GOMEMLIMIT": "14745MiB"}}}
missing:
  description: Requested services that are not installed, and globs that matched nothing.
  returned: always
  type: list
  elements: str
files_written:
  description: Files written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
files_removed:
  description: Files removed because nothing asks for them any more (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
daemon_reloaded:
  description: Whether systemctl daemon-reload ran.
  returned: always
  type: bool
restarted:
  description: Services restarted by this run.
  returned: always
  type: list
  elements: str
restart_pending:
  description: Running services that need a restart to get their slice and environment, and were not restarted.
  returned: always
  type: list
  elements: str
cgroup_mode:
  description: The host's cgroup mode, C(unified), C(hybrid) or C(legacy).
  returned: always
  type: str
  sample: unified
memory_total:
  description: MemTotal in bytes, the base of the percentages.
  returned: always
  type: int
cpus:
  description: CPUs the kernel lists.
  returned: always
  type: int
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import Refused, check_file, dpkg_owner
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import hold_host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_fs import detect, mem_total, online_cpus
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import (
    parse_fact, remove_fact, render_fact,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import (
    ACTIVE_STATES, by_name, daemon_reload, show, unit_action,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_spec import (
    go_environment, is_glob, is_template, match_units, render_dropin, render_env_file, render_slice,
    service_unit, slice_cgroup, text, validate)
from ansible.module_utils.common.text.converters import to_native

MARKER_TAG = 'build_cgroups (go-buildhost)'
MARKER = '# %s: generated from the build_cgroups_* variables; local changes are overwritten.' % MARKER_TAG
SHOW = 'Id,Names,LoadState,ActiveState,ControlGroup,ActiveEnterTimestampMonotonic'
NOT_UNIFIED = (
    'This host runs a %(mode)s cgroup layout (%(root)s is %(fstype)s; controllers on cgroup v1: %(v1)s), so systemd '
    'could not apply the slices\' MemoryHigh and AllowedCPUs, and their other limits only through cgroup v1. Set '
    'build_cgroups_enable_unified: true to add systemd.unified_cgroup_hierarchy=1 to the kernel command line through '
    'GRUB (then reboot, or also set build_cgroups_reboot: true), or set build_cgroups_require_unified: false to apply '
    'the slices anyway on a host you cannot switch (a container sharing the host\'s cgroups, for example). Nothing '
    'was changed.')


class Plan(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.unit_dir = params['unit_dir']
        self.dropin_name = params['dropin_name']
        self.env_dir = params['env_dir']
        header = (params['header'] or '').rstrip('\n')
        self.head = (header + '\n' + MARKER) if header else MARKER
        self.files = {}  # path -> (content, mode)
        self.fileset = FileSet()  # every file is read once, through it

    def want(self, path, content, mode=0o644):
        self.files[path] = (content, mode)


def owned(plan, path):
    content = plan.fileset.read(path)
    return content is not None and MARKER_TAG in content


def installed_units(unit_paths):
    names = set()
    for directory in unit_paths:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        names.update(e for e in entries if e.endswith('.service'))
    return names


def managed_files(plan, previous_fact):
    """Files this module wrote before: marker-bearing slices, drop-ins, env files, the recorded wrapper."""
    found = set()
    try:
        entries = sorted(os.listdir(plan.unit_dir))
    except OSError:
        entries = []
    for entry in entries:
        path = os.path.join(plan.unit_dir, entry)
        if entry.endswith('.slice') and os.path.isfile(path) and not os.path.islink(path) and owned(plan, path):
            found.add(path)
        elif entry.endswith('.d') and os.path.isdir(path):
            dropin = os.path.join(path, plan.dropin_name)
            if os.path.isfile(dropin) and owned(plan, dropin):
                found.add(dropin)
    try:
        envs = sorted(os.listdir(plan.env_dir))
    except OSError:
        envs = []
    for entry in envs:
        path = os.path.join(plan.env_dir, entry)
        if entry.endswith('.env') and os.path.isfile(path) and owned(plan, path):
            found.add(path)
    for path in previous_fact.get('files', []):
        if isinstance(path, str) and os.path.isfile(path) and owned(plan, path):
            found.add(path)
    return found


def previous(plan, fact_path):
    return parse_fact(plan.fileset.read(fact_path)) if fact_path else {}


def drop_empty_dropin_dir(path):
    """After a drop-in is removed: its <unit>.d directory goes too when nothing else is left in it."""
    directory = os.path.dirname(path)
    if directory.endswith('.d') and os.path.isdir(directory) and not os.listdir(directory):
        os.rmdir(directory)


def mtime_monotonic_us(path):
    """A file's mtime on the monotonic clock systemd's *TimestampMonotonic properties use, in µs."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    offset = time.time() - time.monotonic()
    return int((mtime - offset) * 1000000)


def stop_removed_slices(module, plan, removed):
    """Stop the slices whose unit file went, when no process runs in them; report the others.

    An empty slice stays active after its file is gone (until a reboot); stopping it then kills nothing.
    A slice with processes in it, or whose task count systemd does not know, is left running and reported.
    """
    names = sorted(os.path.basename(p) for p in removed
                   if p.endswith('.slice') and os.path.dirname(p) == plan.unit_dir.rstrip('/'))
    if not names:
        return [], []
    stop, left = [], []
    for block in show(module, 'Id,ActiveState,TasksCurrent', names, 'Is systemd running on this host?'):
        if block.get('ActiveState') not in ('active', 'activating'):
            continue
        (stop if block.get('TasksCurrent') == '0' else left).append(block['Id'])
    if stop and not module.check_mode:
        unit_action(module, 'stop', stop, 'Stop them by hand with systemctl stop.')
    if left:
        module.warn('These slices were removed but still run processes, so they stay active until those end or '
                    'the next boot: %s.' % ', '.join(left))
    return stop, left


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            slices=dict(type='list', elements='dict', default=[]),
            services=dict(type='list', elements='dict', default=[]),
            require_services=dict(type='bool', default=False),
            restart=dict(type='bool', default=False),
            daemon_reload=dict(type='bool', default=True),
            gomemlimit_percent=dict(type='int', default=90),
            header=dict(type='str', default=''),
            unit_dir=dict(type='path', default='/etc/systemd/system'),
            dropin_name=dict(type='str', default='60-go-buildhost-slice.conf'),
            env_dir=dict(type='path', default='/etc/go-buildhost/slices'),
            wrapper_path=dict(type='str', default=''),
            wrapper_content=dict(type='str', default=''),
            fact_path=dict(type='str', default='/etc/ansible/facts.d/build_cgroups.fact'),
            unit_paths=dict(type='list', elements='path', default=[
                '/etc/systemd/system', '/run/systemd/system', '/run/systemd/transient', '/run/systemd/generator',
                '/run/systemd/generator.late', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system',
                '/lib/systemd/system']),
            require_unified=dict(type='bool', default=False),
            cgroup_root=dict(type='path', default='/sys/fs/cgroup'),
            proc_root=dict(type='path', default='/proc'),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    params = module.params
    hold_host_lock(module, 'cgroup_slices')
    if params['state'] == 'absent':
        params.update(slices=[], services=[], wrapper_path='', wrapper_content='', require_unified=False)
    slices, services = params['slices'], params['services']
    errors = validate(slices, services, '', params['gomemlimit_percent'], params['wrapper_path'])
    for name in ('unit_dir', 'env_dir'):
        if not os.path.isabs(params[name]):
            errors.append('%s must be an absolute path, got "%s".' % (name, params[name]))
    if params['wrapper_path'] and MARKER_TAG not in params['wrapper_content']:
        errors.append('wrapper_content must contain the marker "%s" so later runs know the file is theirs.'
                      % MARKER_TAG)
    if '/' in params['dropin_name'] or not params['dropin_name'].endswith('.conf'):
        errors.append('dropin_name must be a file name ending in .conf, got "%s".' % params['dropin_name'])
    if params['wrapper_path'] and os.path.isabs(params['wrapper_path']):
        try:  # a system directory, a path below a symlink, a package's file, a file without the marker
            check_file(params['wrapper_path'], 'build_cgroups_wrapper_path', marker=MARKER_TAG,
                       package_owner=dpkg_owner(module.run_command, module.get_bin_path('dpkg-query')))
        except Refused as exc:
            errors.append(str(exc))
    if errors:
        module.fail_json(msg=' '.join(errors) + ' Nothing was changed.', errors=errors)

    layout = detect(params['cgroup_root'], params['proc_root'])
    if params['require_unified'] and layout['mode'] != 'unified':
        module.fail_json(msg=NOT_UNIFIED % dict(
            mode=layout['mode'], root=layout['cgroup_root'], fstype=layout['root_fstype'] or 'not cgroup2',
            v1=', '.join(layout['v1_controllers']) or 'none'), cgroup_mode=layout['mode'])
    memory = mem_total(params['proc_root'])
    if memory is None:
        module.fail_json(msg='Cannot read MemTotal from %s/meminfo; nothing was changed.' % params['proc_root'])
    cpus = online_cpus(params['proc_root'])
    plan = Plan(module)
    names = [text(s['name']) for s in slices]

    # ---- services: expand globs, find what is installed and running --------------------
    available = installed_units(params['unit_paths'])
    placed = {}  # unit -> dict(requested, slice, environment)
    missing = []
    for item in services:
        requested = text(item['name'])
        unit = service_unit(requested)
        target = text(item.get('slice')) or names[0]
        units = match_units(unit, available) if is_glob(unit) else [unit]
        if not units:
            missing.append(requested)
        for found in units:
            placed.setdefault(found, dict(requested=requested, slice=target, environment=item.get('environment') or {}))
    shown = {}
    if placed:
        queries = []
        for unit in sorted(placed):
            queries.append(unit[:-len('@.service')] + '@*.service' if is_template(unit) else unit)
        by_name(show(module, SHOW, queries, 'Is systemd running on this host?'), shown)
    for unit in sorted(placed):
        base = unit.split('@', 1)[0] + '@.service' if '@' in unit else None
        on_disk = unit in available or (base is not None and base in available)
        loaded = shown.get(unit, {}).get('LoadState') not in (None, '', 'not-found')
        placed[unit]['installed'] = on_disk or loaded
    absent = set(p['requested'] for p in placed.values() if not p['installed'])
    missing = [text(s['name']) for s in services if text(s['name']) in absent or text(s['name']) in missing]
    if missing and params['require_services']:
        module.fail_json(
            msg='build_cgroups_require_services is true but these build_cgroups_services are not installed on this '
                'host (no unit file, or a glob that matches none): %s. Install them first, fix the names, or set '
                'build_cgroups_require_services: false to write their drop-ins anyway. Nothing was changed.'
                % ', '.join(missing), missing=missing)
    for name in missing:
        module.warn('%s is not installed: its drop-in is written%s, so it runs in its slice once installed.'
                    % (name, '' if name in [p['requested'] for p in placed.values()] else ' for nothing (a glob '
                       'matching no unit gets no drop-in)'))

    # ---- the files we want ------------------------------------------------------------------
    report_slices = {}
    environments = {}
    for item in slices:
        name = text(item['name'])
        env = go_environment(slices, name, memory, cpus, params['gomemlimit_percent'])
        environments[name] = env
        unit_file = os.path.join(plan.unit_dir, name)
        env_file = os.path.join(plan.env_dir, name + '.env')
        plan.want(unit_file, render_slice(item, plan.head))
        plan.want(env_file, render_env_file(env, plan.head))
        report_slices[name] = dict(unit_file=unit_file, cgroup=slice_cgroup(name), environment=env, env_file=env_file)
    report_services = {}
    for unit, entry in sorted(placed.items()):
        env = dict(environments[entry['slice']])
        env.update(dict((text(k), text(v)) for k, v in entry['environment'].items()))
        dropin = os.path.join(plan.unit_dir, unit + '.d', plan.dropin_name)
        plan.want(dropin, render_dropin(entry['slice'], env, plan.head))
        report_services[unit] = dict(requested=entry['requested'], slice=entry['slice'], dropin=dropin,
                                     installed=entry['installed'], environment=env, active=False, in_slice=None)
    if params['wrapper_path']:
        plan.want(params['wrapper_path'], params['wrapper_content'], 0o755)
    old_fact = previous(plan, params['fact_path'])
    if params['fact_path'] and params['state'] == 'present':
        fact = dict(slices=report_slices, services=dict(
            (u, dict((k, s[k]) for k in ('requested', 'slice', 'dropin', 'environment')))
            for u, s in report_services.items()),
            wrapper=params['wrapper_path'] or None)
        fact['files'] = sorted(plan.files)
        plan.want(params['fact_path'], render_fact(fact))

    # ---- compare -----------------------------------------------------------------------------
    for path in plan.files:
        if path == params['fact_path']:
            continue
        if os.path.lexists(path) and not owned(plan, path):
            module.fail_json(msg='%s exists and was not written by the build_cgroups role (it has no "%s" line). '
                                 'Move it away or choose another name; nothing was changed.' % (path, MARKER_TAG))
    files = plan.fileset
    for path, (content, mode) in sorted(plan.files.items()):
        files.want(path, content, mode)
    for path in sorted(p for p in managed_files(plan, old_fact) if p not in plan.files):
        files.remove(path)
    if params['state'] == 'absent':
        remove_fact(files, params['fact_path'])
    to_write = [e.path for e in files.changes() if e.content is not None]
    to_remove = files.paths('remove')
    unit_changes = [p for p in to_write + to_remove if p.startswith(plan.unit_dir.rstrip('/') + '/')]
    changed_units = set()
    for path in to_write + to_remove:
        parent = os.path.dirname(path)
        if os.path.basename(path) == plan.dropin_name and parent.endswith('.d'):
            changed_units.add(os.path.basename(parent)[:-2])

    removed_units = sorted(u for u in changed_units if u not in placed and u not in shown)
    if removed_units:
        by_name(show(module, SHOW, removed_units, 'Is systemd running on this host?'), shown)

    result = dict(slices=report_slices, services=report_services, missing=missing, files_written=to_write,
                  files_removed=to_remove, daemon_reloaded=False, restarted=[], restart_pending=[],
                  slices_stopped=[], slices_left_running=[],
                  memory_total=memory, cpus=cpus, cgroup_mode=layout['mode'])
    changed = bool(to_write or to_remove)
    if module._diff and changed:
        touched = sorted(files.changes(), key=lambda e: e.path)
        result['diff'] = dict(
            before_header='build_cgroups files', after_header='build_cgroups files',
            before=''.join('=== %s\n%s' % (e.path, e.before or '') for e in touched),
            after=''.join('=== %s\n%s' % (e.path, e.content or '') for e in touched))

    # ---- write --------------------------------------------------------------------------------
    if changed and not module.check_mode:
        def failed(_entry, exc):
            module.fail_json(msg='Writing the build_cgroups files failed: %s. Files written so far: %s'
                                 % (to_native(exc), ', '.join(to_write)), **result)

        files.apply(on_error=failed, removed=drop_empty_dropin_dir)
        if unit_changes and params['daemon_reload']:
            daemon_reload(module, 'The unit files are written; run systemctl daemon-reload by hand.')
            result['daemon_reloaded'] = True
    result['slices_stopped'], result['slices_left_running'] = stop_removed_slices(module, plan, to_remove)

    # ---- which running services need a restart ------------------------------------------------
    pending = []
    for unit in sorted(set(placed) | changed_units):
        instances = [unit]
        if is_template(unit):
            prefix = unit[:-len('.service')]
            instances = sorted(set(b['Id'] for b in shown.values() if b['Id'].startswith(prefix)))
        for instance in instances:
            state = shown.get(instance) or {}
            active = state.get('ActiveState') in ACTIVE_STATES
            if unit in report_services and instance == unit:
                report_services[unit]['active'] = active
            if not active:
                continue
            if unit in changed_units:
                pending.append(instance)
                continue
            want = '/%s/%s' % (slice_cgroup(placed[unit]['slice']), instance)
            in_slice = (state.get('ControlGroup') or '').endswith(want)
            if instance == unit:
                report_services[unit]['in_slice'] = in_slice
            written = mtime_monotonic_us(os.path.join(plan.unit_dir, unit + '.d', plan.dropin_name))
            started = int(state.get('ActiveEnterTimestampMonotonic') or 0)
            if not in_slice or (written is not None and written > started):
                pending.append(instance)
    if pending and params['restart']:
        if not module.check_mode:
            unit_action(module, 'try-restart', pending,
                        'Check them with systemctl status and journalctl -u; their drop-ins are in place.')
        result['restarted'] = pending
        changed = True
    elif pending:
        result['restart_pending'] = pending
        module.warn('Restart pending: %s run%s outside %s slice or with an older Go environment than %s drop-in. '
                    'Restart %s when no job runs, or set build_cgroups_restart_services: true.'
                    % (', '.join(pending), 's' if len(pending) == 1 else '', 'its' if len(pending) == 1 else 'their',
                       'its' if len(pending) == 1 else 'their', 'it' if len(pending) == 1 else 'them'))
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
