#!/usr/bin/env python3
"""Measure site.yml against fresh Debian 12 containers, all figures from one run.

Cases: a facts-only play; playbooks/go_toolchain.yml alone, fresh and as a
no-op re-run; site.yml (every role), fresh and no-op; and the floor of a
five-role no-op in stock Ansible: five distinct read-only builtin modules
(one call per role, nothing else), after the min facts and without facts.
Each is the median of --runs repetitions on fresh containers. With
--gantsign PATH (a checkout of gantsign.golang, never committed here) its
fresh and no-op runs are measured on the same kind of container with the
same tarball.

With --core-2-17 (the default when .cache/venv-2.17/bin/ansible-playbook
exists, `make venv-2.17`; --no-core-2-17 skips it) each run also takes a
fresh container of the same kind for the oldest ansible-core the collection
supports (meta/runtime.yml): site.yml fresh (the no-op needs a converged
host), then facts-only, the floor without facts and the site.yml no-op,
all with that venv's ansible-playbook: the cases *_core217. The results
say which ansible-core each venv has and whether, and why, 2.17 was
measured.

With --fleet N (default 12; 0 skips it) it also starts N sshd containers
(scripts/build-fleet-image.sh, SSH on 127.0.0.1 only, a non-root user
with sudo and a password, as AWX connects) and measures facts-only, fresh
and no-op site.yml runs and the floor play for 1 host and for all N, and,
when the mitogen package is installed, the 1-host no-op with its linear
strategy. For the SSH no-ops it splits each run's CPU time between the
controller and the containers (/proc/stat less the containers' cpuacct
cgroup), and gives the controller's CPU per host of the N-host no-op.

Writes bench/results/<UTC time>.json and the generated part of
docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# Run as `python -m scripts.<name>` from the repository's root, which puts the root on the path.
from tests.harness import MIRROR, BenchHost, Fleet, cpu_ticks

ROOT = Path(__file__).resolve().parents[1]

VENV_BIN = ROOT / '.venv' / 'bin'
# The oldest ansible-core the collection supports (meta/runtime.yml), from `make venv-2.17`.
VENV_2_17_BIN = ROOT / '.cache' / 'venv-2.17' / 'bin'
# The suffix of the cases measured with VENV_2_17_BIN.
CORE_2_17 = '_core217'
MARK_BEGIN = '<!-- bench:begin -->'
MARK_END = '<!-- bench:end -->'


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def parse_core_version(text):
    """The ansible-core version in `ansible-playbook --version`'s output ("ansible-playbook [core 2.17.14]")."""
    match = re.search(r'\[core ([^\]\s]+)\]', text)
    if not match:
        raise ValueError('no ansible-core version in %r' % text[:200])
    return match.group(1)


def core_version(bin_dir):
    return parse_core_version(sh(str(bin_dir / 'ansible-playbook'), '--version', cwd=ROOT))


def core_2_17_choice(requested, exists):
    """(measure the 2.17 cases?, why), from --core-2-17/--no-core-2-17 (None: neither given) and whether
    .cache/venv-2.17/bin/ansible-playbook exists."""
    venv = VENV_2_17_BIN.parent.relative_to(ROOT)
    if requested is None:
        if exists:
            return True, 'default: %s exists' % venv
        return False, 'default: no %s (`make venv-2.17` builds it)' % venv
    if requested and not exists:
        raise SystemExit('--core-2-17: no %s; run `make venv-2.17`' % (VENV_2_17_BIN / 'ansible-playbook'))
    return requested, '--core-2-17' if requested else '--no-core-2-17'


def mitogen_strategy_path():
    try:
        import ansible_mitogen  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return str(Path(ansible_mitogen.__file__).parent / 'plugins' / 'strategy')


# All Docker containers' CPU time (cgroup v1 cpuacct, as on this machine's hybrid layout).
DOCKER_CPUACCT = Path('/sys/fs/cgroup/cpuacct/docker/cpuacct.usage')


def cpu_seconds():
    """(the whole machine's busy CPU seconds, all containers' CPU seconds or None) so far."""
    busy = cpu_ticks()[0] / os.sysconf('SC_CLK_TCK')
    containers = int(DOCKER_CPUACCT.read_text()) / 1e9 if DOCKER_CPUACCT.exists() else None
    return busy, containers


def timed_play(host, playbook, extra_vars, *, roles_path=None, inventory=None, env_extra=None, cpu=None, tree=ROOT,
               bin_dir=VENV_BIN):
    """Wall seconds of one ansible-playbook run; with cpu (a list), also appends the run's CPU seconds
    split into the controller's (everything outside the containers) and the hosts' (the containers).
    tree: the checkout whose ansible.cfg the run uses (another revision's with --baseline).
    bin_dir: the venv whose ansible-playbook runs (VENV_2_17_BIN for the *_core217 cases)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(tree / 'ansible.cfg'), PATH='%s:%s' % (bin_dir, os.environ['PATH']))
    if roles_path:
        env['ANSIBLE_ROLES_PATH'] = roles_path
    env.update(env_extra or {})
    command = [str(bin_dir / 'ansible-playbook'), '-i', str(inventory or host.inventory), '-e',
               json.dumps(extra_vars), str(playbook)]
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    cpu_after = cpu_seconds()
    if cpu is not None and cpu_before[1] is not None:
        hosts = cpu_after[1] - cpu_before[1]
        cpu.append({'controller_s': round(cpu_after[0] - cpu_before[0] - hosts, 2), 'hosts_s': round(hosts, 2)})
    if proc.returncode != 0:
        raise SystemExit('%s failed:\n%s\n%s' % (playbook, proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


# Per case, the CPU split of each run (timed_play's cpu), filled by measure_fleet.
CPU = {}


# The least a no-op of five roles can cost with stock Ansible: one remote call per role, each a
# distinct module (as each role's is), nothing on the controller, next to nothing read, nothing changed.
FLOOR_TASKS = '''  become: true
  tasks:
    - name: Ping
      ansible.builtin.ping:
    - name: Stat
      ansible.builtin.stat:
        path: /etc/hostname
    - name: Slurp
      ansible.builtin.slurp:
        src: /etc/hostname
    - name: Find
      ansible.builtin.find:
        paths: /etc/apt
    - name: Getent
      ansible.builtin.getent:
        database: passwd
        key: root
'''


def write_floor_plays(workdir):
    """(the floor play with the min facts, the same without facts)."""
    with_facts = Path(workdir) / 'floor.yml'
    with_facts.write_text('- name: Five module calls after the min facts\n  hosts: all\n  gather_facts: true\n'
                          '  gather_subset: [min]\n' + FLOOR_TASKS)
    no_facts = Path(workdir) / 'floor-no-facts.yml'
    no_facts.write_text('- name: Five module calls\n  hosts: all\n  gather_facts: false\n' + FLOOR_TASKS)
    return with_facts, no_facts


def measure_fleet(size, workdir, our_vars, facts_play, floor, *, baseline=None):
    """Facts-only, fresh and no-op site.yml for 1 host and for the fleet, over SSH; with baseline (another
    revision's checkout), that revision's fleet no-op too, each run right after one of ours."""
    cases = {}
    fleet_vars = dict(our_vars, ansible_become=True, go_toolchain_download_on_controller=True,
                      go_toolchain_mirror='file://%s/' % MIRROR,
                      go_toolchain_controller_cache=str(ROOT / '.cache' / 'controller'))
    fleet = Fleet(size, workdir)
    try:
        site = ROOT / 'site.yml'
        cases['ssh_facts_only_1'] = [timed_play(None, facts_play, {}, inventory=fleet.one)]
        cases['ssh_site_fresh_1'] = [timed_play(None, site, fleet_vars, inventory=fleet.one)]
        cases['ssh_site_noop_1'] = [timed_play(None, site, fleet_vars, inventory=fleet.one,
                                               cpu=CPU.setdefault('ssh_site_noop_1', [])) for _ in range(3)]
        cases['ssh_facts_only_1'] += [timed_play(None, facts_play, {}, inventory=fleet.one) for _ in range(2)]
        cases['ssh_floor_1'] = [timed_play(None, floor, {}, inventory=fleet.one) for _ in range(3)]
        strategy = mitogen_strategy_path()
        if strategy:
            # Throwaway containers: mitogen's own SSH layer does not take the inventory's
            # UserKnownHostsFile=/dev/null, so host key checking is off for these runs only.
            mitogen_env = {'ANSIBLE_STRATEGY_PLUGINS': strategy, 'ANSIBLE_STRATEGY': 'mitogen_linear',
                           'ANSIBLE_HOST_KEY_CHECKING': 'False'}
            cases['ssh_facts_only_1_mitogen'] = []
            cases['ssh_site_noop_1_mitogen'] = []
            for _ in range(3):
                cases['ssh_facts_only_1_mitogen'].append(timed_play(None, facts_play, {}, inventory=fleet.one,
                                                                    env_extra=mitogen_env))
                cases['ssh_site_noop_1_mitogen'].append(timed_play(None, site, fleet_vars, inventory=fleet.one,
                                                                   env_extra=mitogen_env))
        cases['ssh_facts_only_%d' % size] = [timed_play(None, facts_play, {}, inventory=fleet.all) for _ in range(2)]
        cases['ssh_floor_%d' % size] = [timed_play(None, floor, {}, inventory=fleet.all) for _ in range(3)]
        cases['ssh_site_fresh_%d' % size] = [timed_play(None, site, fleet_vars, inventory=fleet.all)]
        ours, theirs = 'ssh_site_noop_%d' % size, 'ssh_baseline_site_noop_%d' % size
        cases[ours] = []
        if baseline:
            cases[theirs] = []
        for _ in range(3):
            cases[ours].append(timed_play(None, site, fleet_vars, inventory=fleet.all, cpu=CPU.setdefault(ours, [])))
            if baseline:
                # The converged fleet is the same: the baseline's roles find it converged too (or report
                # what they would change, which shows in its figure).
                cases[theirs].append(timed_play(None, baseline / 'site.yml', fleet_vars, inventory=fleet.all,
                                                cpu=CPU.setdefault(theirs, []), tree=baseline))
    finally:
        fleet.remove()
    return cases


def measure(runs, workdir, gantsign, fleet_size, baseline=None, *, core_2_17=False):
    index = json.loads((MIRROR / 'index.json').read_text())
    newest = index[0]
    version = newest['version'][2:]
    # build_cgroups_require_unified: the containers share the host's hybrid cgroups (roles/build_cgroups/README.md).
    our_vars = {'go_toolchain_version': version, 'go_toolchain_release_index': str(MIRROR / 'index.json'),
                'go_toolchain_mirror': 'http://127.0.0.1:8080/', 'build_cgroups_require_unified': False,
                # Members get the shared caches from the go launcher; go.env gets only -modcacherw (said
                # outright, as the test suites do, so that older revisions measured with --baseline agree).
                'go_env_modcache_shared': True,
                # The alert rules need Debian's 100 MB prometheus package for promtool: not on bench hosts.
                'go_cache_alert_rules_enabled': False}
    facts_play = Path(workdir) / 'facts.yml'
    facts_play.write_text('- name: Facts only\n  hosts: all\n  gather_facts: true\n  tasks: []\n')
    floor, floor_no_facts = write_floor_plays(workdir)
    cases = {'facts_only': [], 'floor': [], 'floor_no_facts': [], 'toolchain_fresh': [], 'toolchain_noop': [],
             'go_env_noop': [], 'site_fresh': [], 'site_noop': []}
    toolchain = ROOT / 'playbooks' / 'go_toolchain.yml'
    if baseline:
        cases.update(baseline_site_fresh=[], baseline_site_noop=[])
    if core_2_17:
        cases.update({name + CORE_2_17: [] for name in ('facts_only', 'floor_no_facts', 'site_fresh', 'site_noop')})
    if gantsign:
        cases.update(gantsign_fresh=[], gantsign_noop=[])
        gantsign_play = Path(workdir) / 'gantsign.yml'
        gantsign_play.write_text(
            '- name: gantsign.golang\n  hosts: all\n  become: true\n  roles:\n    - role: %s\n' % Path(gantsign).name)
        gantsign_vars = {'golang_version': version, 'golang_mirror': 'http://127.0.0.1:8080',
                         'golang_redis_sha256sum': newest['files'][0]['sha256']}
    for _ in range(runs):
        host = BenchHost(workdir, with_mirror=True)  # serves the Go mirror on its loopback
        try:
            cases['toolchain_fresh'].append(timed_play(host, toolchain, our_vars))
            cases['facts_only'].append(timed_play(host, facts_play, {}))
            cases['floor'].append(timed_play(host, floor, {}))
            cases['floor_no_facts'].append(timed_play(host, floor_no_facts, {}))
            cases['toolchain_noop'].append(timed_play(host, toolchain, our_vars))
            timed_play(host, ROOT / 'playbooks' / 'go_env.yml', our_vars)
            cases['go_env_noop'].append(timed_play(host, ROOT / 'playbooks' / 'go_env.yml', our_vars))
        finally:
            host.remove()
        host = BenchHost(workdir, with_mirror=True)
        try:
            cases['site_fresh'].append(timed_play(host, ROOT / 'site.yml', our_vars))
            cases['site_noop'].append(timed_play(host, ROOT / 'site.yml', our_vars))
        finally:
            host.remove()
        if core_2_17:
            # The oldest ansible-core the collection supports, on a fresh host of the same kind in the same
            # run: site.yml converges it, then facts-only, the floor without facts and the no-op.
            host = BenchHost(workdir, with_mirror=True)
            try:
                cases['site_fresh' + CORE_2_17].append(
                    timed_play(host, ROOT / 'site.yml', our_vars, bin_dir=VENV_2_17_BIN))
                cases['facts_only' + CORE_2_17].append(timed_play(host, facts_play, {}, bin_dir=VENV_2_17_BIN))
                cases['floor_no_facts' + CORE_2_17].append(
                    timed_play(host, floor_no_facts, {}, bin_dir=VENV_2_17_BIN))
                cases['site_noop' + CORE_2_17].append(
                    timed_play(host, ROOT / 'site.yml', our_vars, bin_dir=VENV_2_17_BIN))
            finally:
                host.remove()
        if baseline:
            # The same play from the baseline revision, on a host of its own, in the same run.
            host = BenchHost(workdir, with_mirror=True)
            try:
                cases['baseline_site_fresh'].append(timed_play(host, baseline / 'site.yml', our_vars, tree=baseline))
                cases['baseline_site_noop'].append(timed_play(host, baseline / 'site.yml', our_vars, tree=baseline))
            finally:
                host.remove()
        if gantsign:
            host = BenchHost(workdir, with_mirror=True)
            try:
                roles_path = str(Path(gantsign).parent)
                cases['gantsign_fresh'].append(timed_play(host, gantsign_play, gantsign_vars, roles_path=roles_path))
                cases['gantsign_noop'].append(timed_play(host, gantsign_play, gantsign_vars, roles_path=roles_path))
            finally:
                host.remove()
    if fleet_size:
        cases.update(measure_fleet(fleet_size, workdir, our_vars, facts_play, floor, baseline=baseline))
    return version, {name: {'median_s': round(statistics.median(v), 2), 'runs_s': [round(x, 2) for x in v]}
                     for name, v in cases.items()}


def ratios(cases):
    def ratio(a, b):
        return round(cases[a]['median_s'] / cases[b]['median_s'], 2)

    out = {'toolchain_noop_over_facts_only': ratio('toolchain_noop', 'facts_only'),
           'go_env_noop_over_facts_only': ratio('go_env_noop', 'facts_only'),
           'site_noop_over_facts_only': ratio('site_noop', 'facts_only'),
           'floor_over_facts_only': ratio('floor', 'facts_only'),
           'floor_no_facts_over_facts_only': ratio('floor_no_facts', 'facts_only')}
    fleet = [k for k in cases if k.startswith('ssh_site_noop_') and k[len('ssh_site_noop_'):].isdigit()
             and k != 'ssh_site_noop_1']
    if fleet and 'ssh_baseline_' + fleet[0][len('ssh_'):] in cases:
        out['ssh_fleet_noop_over_baseline'] = ratio(fleet[0], 'ssh_baseline_' + fleet[0][len('ssh_'):])
    if 'site_noop' + CORE_2_17 in cases:
        out['site_noop_over_facts_only' + CORE_2_17] = ratio('site_noop' + CORE_2_17, 'facts_only' + CORE_2_17)
        out['floor_no_facts_over_facts_only' + CORE_2_17] = ratio('floor_no_facts' + CORE_2_17,
                                                                   'facts_only' + CORE_2_17)
        out['site_noop_core217_over_site_noop'] = ratio('site_noop' + CORE_2_17, 'site_noop')
        out['facts_only_core217_over_facts_only'] = ratio('facts_only' + CORE_2_17, 'facts_only')
    if 'baseline_site_noop' in cases:
        out['site_noop_over_baseline_site_noop'] = ratio('site_noop', 'baseline_site_noop')
        out['site_fresh_over_baseline_site_fresh'] = ratio('site_fresh', 'baseline_site_fresh')
    if 'ssh_site_noop_1' in cases:
        out['ssh_site_noop_over_facts_only'] = ratio('ssh_site_noop_1', 'ssh_facts_only_1')
    if 'ssh_floor_1' in cases:
        out['ssh_floor_over_facts_only'] = ratio('ssh_floor_1', 'ssh_facts_only_1')
    if fleet:
        out['ssh_fleet_noop_over_single_noop'] = ratio(fleet[0], 'ssh_site_noop_1')
        floor_fleet = 'ssh_floor_' + fleet[0][len('ssh_site_noop_'):]
        if floor_fleet in cases and 'ssh_floor_1' in cases:
            out['ssh_fleet_floor_over_single_floor'] = ratio(floor_fleet, 'ssh_floor_1')
    if 'ssh_site_noop_1_mitogen' in cases:
        out['ssh_mitogen_noop_over_mitogen_facts_only'] = ratio('ssh_site_noop_1_mitogen', 'ssh_facts_only_1_mitogen')
        out['ssh_mitogen_noop_over_facts_only'] = ratio('ssh_site_noop_1_mitogen', 'ssh_facts_only_1')
    if 'gantsign_fresh' in cases:
        out['toolchain_fresh_over_gantsign_fresh'] = ratio('toolchain_fresh', 'gantsign_fresh')
        out['gantsign_noop_over_facts_only'] = ratio('gantsign_noop', 'facts_only')
    return out


def cpu_figures(cpu_runs, cases, fleet_size, cpus):
    """(result['cpu']: each SSH no-op's median CPU split, the ratios drawn from it) from CPU's runs."""
    cpu = {case: {'controller_s': statistics.median(r['controller_s'] for r in runs),
                  'hosts_s': statistics.median(r['hosts_s'] for r in runs), 'runs': runs}
           for case, runs in cpu_runs.items() if runs}
    out = {}
    fleet = 'ssh_site_noop_%d' % fleet_size
    if fleet_size and fleet in cpu:
        # The fleet no-op's controller CPU per host: issue 19's figure (at most 0.8 s).
        out['ssh_fleet_controller_cpu_per_host_s'] = round(cpu[fleet]['controller_s'] / fleet_size, 2)
        baseline = 'ssh_baseline_site_noop_%d' % fleet_size
        if baseline in cpu:
            out['ssh_baseline_controller_cpu_per_host_s'] = round(cpu[baseline]['controller_s'] / fleet_size, 2)
        if 'ssh_site_noop_1' in cases:
            # The fleet no-op's controller CPU spread over every core, against the single-host no-op:
            # the fleet/1-host ratio the controller alone allows when the hosts have CPUs of their own.
            out['ssh_fleet_controller_cpu_per_core_over_single_noop'] = round(
                cpu[fleet]['controller_s'] / cpus / cases['ssh_site_noop_1']['median_s'], 2)
    return cpu, out


def core_sentence(result):
    """The header's words on the ansible-core versions measured ('' for results from before they were recorded)."""
    versions = result.get('ansible_core')
    if not versions:
        return ''
    words = 'ansible-core %s from `.venv`' % versions['.venv']
    choice = result.get('core_2_17', {})
    if '.cache/venv-2.17' in versions:
        words += ' and, for the `*%s` cases, ansible-core %s from `.cache/venv-2.17` (%s)' % (
            CORE_2_17, versions['.cache/venv-2.17'], choice.get('why', ''))
    else:
        words += '; ansible-core 2.17 not measured (%s)' % choice.get('why', '')
    return words + ', '


def minor(version):
    return '.'.join(version.split('.')[:2])


def render_block(result):
    """The generated part of docs/benchmarks.md, its markers included."""
    cases, r = result['cases'], result['ratios']
    lines = [MARK_BEGIN,
             '_Generated by `make bench` on %s (%s, %d CPUs, Go %s from the local mirror, %s%d runs per case, '
             'median shown). Raw figures: `%s`._' % (result['date'], result['machine'], result['cpus'],
                                                      result['go_version'], core_sentence(result), result['runs'],
                                                      result['file']),
             '', '| case | median wall time | runs |', '| --- | --- | --- |']
    for name, case in cases.items():
        lines.append('| %s | %.2f s | %s |' % (name, case['median_s'], ', '.join('%.2f' % x for x in case['runs_s'])))
    versions = result.get('ansible_core', {})
    main_core = ', ansible-core %s' % minor(versions['.venv']) if '.venv' in versions else ''
    new_core, old_core = minor(versions.get('.venv', '2.19')), minor(versions.get('.cache/venv-2.17', '2.17'))
    lines += ['', '| ratio | value | target |', '| --- | --- | --- |',
              '| go_toolchain no-op / facts-only | %.2f | at most 1.3 |' % r['toolchain_noop_over_facts_only'],
              '| go_env no-op / facts-only | %.2f | one module call |' % r['go_env_noop_over_facts_only'],
              '| site.yml no-op / facts-only%s | %.2f | at most 2.3 |' % (main_core, r['site_noop_over_facts_only'])]
    if 'site_noop_over_facts_only' + CORE_2_17 in r:
        lines += ['| site.yml no-op / facts-only, ansible-core %s | %.2f | at most 2.3 |'
                  % (old_core, r['site_noop_over_facts_only' + CORE_2_17]),
                  '| site.yml no-op, ansible-core %s / the same on %s | %.2f | |'
                  % (old_core, new_core, r['site_noop_core217_over_site_noop']),
                  '| facts-only, ansible-core %s / the same on %s | %.2f | |'
                  % (old_core, new_core, r['facts_only_core217_over_facts_only'])]
    lines += ['| floor: five module calls after the min facts / facts-only | %.2f | |' % r['floor_over_facts_only'],
              '| floor: five module calls, no facts / facts-only | %.2f | |' % r['floor_no_facts_over_facts_only']]
    if 'floor_no_facts_over_facts_only' + CORE_2_17 in r:
        lines.append('| floor: five module calls, no facts / facts-only, ansible-core %s | %.2f | |'
                     % (old_core, r['floor_no_facts_over_facts_only' + CORE_2_17]))
    # The targets are issue 19's.
    for key, label, target in (('ssh_site_noop_over_facts_only', 'SSH: site.yml no-op / facts-only, 1 host',
                                'at most 2.3'),
                               ('ssh_floor_over_facts_only',
                                'SSH: floor, five module calls after the min facts / facts-only, 1 host', ''),
                               ('ssh_fleet_noop_over_single_noop', 'SSH: site.yml no-op, fleet / 1 host',
                                'at most 3.0'),
                               ('ssh_fleet_floor_over_single_floor', 'SSH: floor, fleet / 1 host', ''),
                               ('ssh_mitogen_noop_over_mitogen_facts_only',
                                'SSH with mitogen: site.yml no-op / facts-only, both with mitogen, 1 host',
                                'at most 1.5 (gantsign.golang: 1.95)'),
                               ('ssh_mitogen_noop_over_facts_only',
                                'SSH: site.yml no-op with mitogen / facts-only without it, 1 host', '')):
        if key in r:
            lines.append('| %s | %.2f | %s |' % (label, r[key], target))
    if 'ssh_fleet_controller_cpu_per_host_s' in r:
        lines.append('| controller CPU per host, %d-host SSH no-op | %.2f s | at most 0.8 s |'
                     % (result['fleet'], r['ssh_fleet_controller_cpu_per_host_s']))
    if 'site_noop_over_baseline_site_noop' in r:
        lines.append('| site.yml no-op / the same at %s (--baseline, same run) | %.2f | at most 1.0 |'
                     % (result['baseline'], r['site_noop_over_baseline_site_noop']))
        lines.append('| site.yml fresh / the same at %s | %.2f | |'
                     % (result['baseline'], r['site_fresh_over_baseline_site_fresh']))
    if 'ssh_fleet_noop_over_baseline' in r:
        lines.append('| SSH: site.yml no-op, %d hosts / the same at %s | %.2f | |'
                     % (result['fleet'], result['baseline'], r['ssh_fleet_noop_over_baseline']))
    if 'ssh_baseline_controller_cpu_per_host_s' in r:
        lines.append('| controller CPU per host, %d-host SSH no-op at %s | %.2f s | |'
                     % (result['fleet'], result['baseline'], r['ssh_baseline_controller_cpu_per_host_s']))
    if 'toolchain_fresh_over_gantsign_fresh' in r:
        lines.append('| go_toolchain fresh / gantsign.golang fresh | %.2f | at most 0.8 |'
                     % r['toolchain_fresh_over_gantsign_fresh'])
        lines.append('| gantsign.golang no-op / facts-only | %.2f | (reference: 4.6) |'
                     % r['gantsign_noop_over_facts_only'])
    if result.get('cpu'):
        lines += ['', '| CPU of the SSH no-op (median of its runs) | controller | hosts (the containers) |',
                  '| --- | --- | --- |']
        lines += ['| %s | %.2f s | %.2f s |' % (case, c['controller_s'], c['hosts_s'])
                  for case, c in result['cpu'].items()]
        if 'ssh_fleet_controller_cpu_per_core_over_single_noop' in r:
            lines += ['', 'The machine\'s busy CPU time (`/proc/stat`) during each run, less the containers\' '
                      '(their cpuacct cgroup), is the controller\'s: `ansible-playbook`, its workers, ssh. The '
                      'fleet no-op\'s controller CPU spread over the %d cores is **%.2fx** the single-host no-op: '
                      'about the fleet / 1 host ratio with the hosts on CPUs of their own, where only the '
                      'controller\'s work stays on the controller.'
                      % (result['cpus'], r['ssh_fleet_controller_cpu_per_core_over_single_noop'])]
    lines.append(MARK_END)
    return '\n'.join(lines)


def write_docs(result):
    doc = ROOT / 'docs' / 'benchmarks.md'
    before, _, rest = doc.read_text().partition(MARK_BEGIN)
    _, _, after = rest.partition(MARK_END)
    doc.write_text(before + render_block(result) + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--fleet', type=int, default=12, help='fleet size over SSH (0 skips the fleet cases)')
    parser.add_argument('--gantsign', default=os.environ.get('GANTSIGN_ROLE', ''),
                        help='path of a gantsign.golang role checkout to compare against')
    parser.add_argument('--baseline', default=os.environ.get('BASELINE', ''),
                        help='a git revision whose site.yml is measured in the same run (before/after a change)')
    parser.add_argument('--core-2-17', action=argparse.BooleanOptionalAction, default=None,
                        help='also measure facts-only, the floor without facts and site.yml fresh and no-op with '
                        '.cache/venv-2.17 (ansible-core 2.17, `make venv-2.17`); default: on when it exists')
    args = parser.parse_args()
    core_2_17, why = core_2_17_choice(args.core_2_17, (VENV_2_17_BIN / 'ansible-playbook').exists())
    versions = {'.venv': core_version(VENV_BIN)}
    if core_2_17:
        versions['.cache/venv-2.17'] = core_version(VENV_2_17_BIN)
    print('ansible-core %s (.venv); the ansible-core 2.17 cases: %s (%s)'
          % (versions['.venv'], 'on, %s' % versions['.cache/venv-2.17'] if core_2_17 else 'off', why), flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        baseline = None
        if args.baseline:
            baseline = Path(workdir) / 'baseline'
            sh('git', '-C', str(ROOT), 'worktree', 'add', '--detach', str(baseline), args.baseline)
        try:
            version, cases = measure(args.runs, workdir, args.gantsign, args.fleet, baseline, core_2_17=core_2_17)
        finally:
            if baseline:
                sh('git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(baseline))
    now = datetime.datetime.now(datetime.timezone.utc)
    name = 'bench/results/%s.json' % now.strftime('%Y%m%dT%H%M%SZ')
    result = {'date': now.strftime('%Y-%m-%d %H:%M UTC'), 'machine': platform.machine(), 'cpus': os.cpu_count(),
              'go_version': version, 'runs': args.runs, 'file': name, 'cases': cases, 'ratios': ratios(cases),
              'fleet': args.fleet, 'ansible_core': versions, 'core_2_17': {'measured': core_2_17, 'why': why},
              'command': 'make bench' + (' GANTSIGN_ROLE=...' if args.gantsign else '')
              + (' BASELINE=%s' % args.baseline if args.baseline else '')}
    if args.baseline:
        result['baseline'] = sh('git', '-C', str(ROOT), 'rev-parse', '--short', args.baseline).strip()
    if CPU:
        result['cpu'], cpu_ratios = cpu_figures(CPU, cases, args.fleet, os.cpu_count())
        result['ratios'].update(cpu_ratios)
    (ROOT / 'bench/results').mkdir(parents=True, exist_ok=True)
    (ROOT / name).write_text(json.dumps(result, indent=2) + '\n')
    write_docs(result)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
