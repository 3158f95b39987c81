#!/usr/bin/env python3
"""Measure the sysctl_tuning no-op against looping ansible.posix.sysctl, all figures from one run.

One fresh Debian 12 systemd container (docker connection), the same six keys for both:
the role's five defaults plus net.ipv4.ip_local_port_range. Cases, each the median of
--runs repetitions, interleaved so that a burst of load on the machine hits all three:

- facts_only: a play that only gathers the `min` fact subset, as both plays below do;
- sysctl_tuning_noop: playbooks/sysctl_tuning.yml on the converged container
  (one sysctl_profile call: file, live values, shadowed keys, state and fact);
- posix_loop_noop: ansible.posix.sysctl looped over the six keys, dev-sec's way.

The loop runs file-only (sysctl_set: false, reload: false): in a container /proc/sys
is read-only and vm.*/fs.* are host-wide, so a live `sysctl -w` or `sysctl -p` fails
there. The comparison is therefore file-persistence no-op against file-persistence
no-op, with sysctl_tuning doing strictly more (it also reads every live value and the
sysctl.d directories). The remote module calls of each play are counted in one extra,
untimed run with the JSON callback.

Writes bench/results/sysctl-<UTC time>.json and the section of docs/benchmarks.md
between <!-- bench-sysctl:begin --> and <!-- bench-sysctl:end -->.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# Run as `python -m scripts.<name>` from the repository's root, which puts the root on the path.
from tests.harness import BenchHost, wait_for_quiet

ROOT = Path(__file__).resolve().parents[1]

VENV_BIN = ROOT / '.venv' / 'bin'
MARK_BEGIN = '<!-- bench-sysctl:begin -->'
MARK_END = '<!-- bench-sysctl:end -->'
SECTION = '''## sysctl_tuning

`scripts/bench_sysctl.py` compares, on one fresh Debian 12 container and in one run, the no-op of
`playbooks/sysctl_tuning.yml` (one `sysctl_profile` call for the whole profile) with dev-sec's way:
`ansible.posix.sysctl` looped over the same six keys (the role's five defaults plus
`net.ipv4.ip_local_port_range`). Both plays gather the `min` fact subset; **facts_only** is that
alone. In a container `vm.*` and `fs.*` cannot be written (host-wide, and `/proc/sys` is read-only),
so the loop runs file-only (`sysctl_set: false`, `reload: false`): this is a file-persistence
no-op against a file-persistence no-op, and sysctl_tuning still does more (it reads every live
value, the sysctl.d directories, its state and its fact).

The target, at least 3x, is read here as applying to the cost beyond facts-only (facts alone take
most of a no-op): the difference to facts-only is taken in each round (the three cases of a round
run back to back) and the median over the rounds is compared. The whole-play ratio, facts included,
is shown too. Other work on the same machine inflates every figure, the six-call loop more than
the one-call role: the script first waits (up to 4 minutes) until the machine has been 85% idle
over 5 seconds, as after `make bench`'s fleet it is not, and records how long it waited and the
load average at the start.

Reproduce: `.venv/bin/python -m scripts.bench_sysctl` (`--runs N`, default 9).

'''
EXTRA_KEY = {'net.ipv4.ip_local_port_range': '10240 65000'}
SIX_KEYS = {
    'vm.swappiness': 10,
    'fs.inotify.max_user_watches': 524288,
    'fs.inotify.max_user_instances': 1024,
    'net.core.somaxconn': 65535,
    'net.ipv4.tcp_max_syn_backlog': 65535,
    'net.ipv4.ip_local_port_range': '10240 65000',
}
PLAY_HEAD = ('- name: {name}\n  hosts: go_buildhosts\n  become: true\n  gather_facts: true\n'
             '  gather_subset: [min]\n')
POSIX_LOOP = PLAY_HEAD.format(name='ansible.posix.sysctl over six keys, file only') + '''  tasks:
    - name: Ensure each kernel setting is in the sysctl file
      ansible.posix.sysctl:
        name: "{{ item.key }}"
        value: "{{ item.value }}"
        sysctl_file: /etc/sysctl.d/60-posix-loop.conf
        sysctl_set: false
        reload: false
      loop: "{{ bench_keys | dict2items }}"
'''
FACTS_ONLY = PLAY_HEAD.format(name='Facts only') + '  tasks: []\n'
LOCAL_ACTIONS = {'ansible.builtin.debug', 'debug', 'ansible.builtin.fail', 'fail', 'ansible.builtin.assert',
                 'assert', 'ansible.builtin.validate_argument_spec', 'validate_argument_spec',
                 'ansible.builtin.gather_facts', 'gather_facts', 'ansible.builtin.setup', 'setup',
                 # the collection's checks, on the controller: no call to the host when the play has its facts
                 'go_buildhost.buildhost.platform_check', 'go_buildhost.buildhost.role_check'}


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def run_play(host, playbook, extra_vars, json_output=False):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), PATH='%s:%s' % (VENV_BIN, os.environ['PATH']))
    if json_output:
        env['ANSIBLE_STDOUT_CALLBACK'] = 'ansible.posix.json'
    command = [str(VENV_BIN / 'ansible-playbook'), '-i', str(host.inventory), '-e', json.dumps(extra_vars),
               str(playbook)]
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('%s failed:\n%s\n%s' % (playbook, proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed, proc.stdout


def remote_calls(stdout, host):
    """Module executions on the host (loop items counted one by one), facts excluded; and the changed ones."""
    data = json.loads(stdout)
    calls = changed = 0
    for play in data['plays']:
        for task in play['tasks']:
            result = task['hosts'].get(host)
            if result is None or result.get('skipped') or result.get('action') in LOCAL_ACTIONS:
                continue
            items = result.get('results') or [result]
            calls += sum(1 for item in items if not item.get('skipped'))
            changed += sum(1 for item in items if item.get('changed'))
    return calls, changed


def measure(runs, workdir):
    facts = Path(workdir) / 'facts.yml'
    facts.write_text(FACTS_ONLY)
    loop = Path(workdir) / 'posix_loop.yml'
    loop.write_text(POSIX_LOOP)
    cases = {
        'facts_only': (facts, {}),
        'sysctl_tuning_noop': (ROOT / 'playbooks' / 'sysctl_tuning.yml', {'sysctl_tuning_settings': EXTRA_KEY}),
        'posix_loop_noop': (loop, {'bench_keys': SIX_KEYS}),
    }
    times = {name: [] for name in cases}
    host = BenchHost(workdir, prefix='gbh-bench-sysctl')
    try:
        fresh = {name: round(run_play(host, *cases[name])[0], 2) for name in ('sysctl_tuning_noop', 'posix_loop_noop')}
        calls = {}
        for name, (playbook, extra) in cases.items():
            calls[name] = remote_calls(run_play(host, playbook, extra, json_output=True)[1], host.name)
        order = list(cases)
        for run in range(runs):
            for name in order[run % 3:] + order[:run % 3]:
                times[name].append(run_play(host, *cases[name])[0])
    finally:
        host.remove()
    result = {}
    for name, values in times.items():
        result[name] = {'median_s': round(statistics.median(values), 2), 'runs_s': [round(x, 2) for x in values],
                        'remote_module_calls': calls[name][0], 'changed': calls[name][1]}
    return result, fresh


def ratios(cases):
    """Whole-play ratios of the medians, and the cost beyond facts-only.

    The cost beyond facts is taken per round (the three cases of a round run back to
    back, so a burst of load from elsewhere on the machine tends to hit all of them)
    and then the median over the rounds.
    """
    facts = cases['facts_only']['runs_s']
    ours = cases['sysctl_tuning_noop']['runs_s']
    loop = cases['posix_loop_noop']['runs_s']
    ours_extra = statistics.median(o - f for o, f in zip(ours, facts))
    loop_extra = statistics.median(p - f for p, f in zip(loop, facts))
    return {
        'sysctl_tuning_beyond_facts_s': round(ours_extra, 2),
        'posix_loop_beyond_facts_s': round(loop_extra, 2),
        'posix_loop_over_sysctl_tuning_beyond_facts': round(loop_extra / max(ours_extra, 0.01), 2),
        'posix_loop_over_sysctl_tuning_total': round(cases['posix_loop_noop']['median_s']
                                                     / cases['sysctl_tuning_noop']['median_s'], 2),
        'sysctl_tuning_noop_over_facts_only': round(cases['sysctl_tuning_noop']['median_s']
                                                    / cases['facts_only']['median_s'], 2),
    }


def round_ratios(cases):
    facts, ours, loop = (cases[name]['runs_s'] for name in ('facts_only', 'sysctl_tuning_noop', 'posix_loop_noop'))
    return [(p - f) / max(o - f, 0.01) for f, o, p in zip(facts, ours, loop)]


def write_docs(result):
    doc = ROOT / 'docs' / 'benchmarks.md'
    text = doc.read_text()
    cases, r = result['cases'], result['ratios']
    lines = [MARK_BEGIN,
             '_Generated by `%s` on %s (%s, %d CPUs, %sload average %.2f at the start, %d runs per case, '
             'median shown). Raw figures: `%s`._'
             % (result['command'], result['date'], result['machine'], result['cpus'],
                '%.0f s waited for the machine to go quiet, ' % result['waited_for_quiet_s']
                if 'waited_for_quiet_s' in result else '', result['load_average'], result['runs'], result['file']),
             '', '| case | median wall time | remote module calls | runs |', '| --- | --- | --- | --- |']
    for name, case in cases.items():
        lines.append('| %s | %.2f s | %d | %s |' % (name, case['median_s'], case['remote_module_calls'],
                                                    ', '.join('%.2f' % x for x in case['runs_s'])))
    lines += ['', '| ratio | value | target |', '| --- | --- | --- |',
              '| posix loop no-op / sysctl_tuning no-op, beyond facts-only (%.2f s / %.2f s) | %.2f | at least 3 |'
              % (r['posix_loop_beyond_facts_s'], r['sysctl_tuning_beyond_facts_s'],
                 r['posix_loop_over_sysctl_tuning_beyond_facts']),
              '| posix loop no-op / sysctl_tuning no-op, whole play | %.2f | (facts included) |'
              % r['posix_loop_over_sysctl_tuning_total'],
              '| sysctl_tuning no-op / facts-only | %.2f | |' % r['sysctl_tuning_noop_over_facts_only'],
              '', 'Ratio beyond facts-only in each round: %s. First (converging) runs, one sample each: '
              'sysctl_tuning %.2f s, posix loop %.2f s.'
              % (', '.join('%.1f' % x for x in round_ratios(cases)),
                 result['fresh_s']['sysctl_tuning_noop'], result['fresh_s']['posix_loop_noop']),
              MARK_END]
    if MARK_BEGIN not in text:
        text = text.rstrip('\n') + '\n\n%s%s\n%s\n' % (SECTION, MARK_BEGIN, MARK_END)
    before, _, rest = text.partition(MARK_BEGIN)
    _, _, after = rest.partition(MARK_END)
    doc.write_text(before + '\n'.join(lines) + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=9)
    parser.add_argument('--no-docs', action='store_true', help='write the JSON only, leave docs/benchmarks.md alone')
    parser.add_argument('--docs-from', metavar='JSON', help='measure nothing: write docs/benchmarks.md from a '
                                                            'results file of an earlier run')
    args = parser.parse_args()
    if args.docs_from:
        write_docs(json.loads(Path(args.docs_from).read_text()))
        return
    waited = wait_for_quiet()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        cases, fresh = measure(args.runs, workdir)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = 'bench/results/sysctl-%s.json' % now.strftime('%Y%m%dT%H%M%SZ')
    result = {'date': now.strftime('%Y-%m-%d %H:%M UTC'), 'machine': platform.machine(), 'cpus': os.cpu_count(),
              'load_average': round(load, 2), 'waited_for_quiet_s': waited, 'runs': args.runs, 'file': name,
              'keys': SIX_KEYS,
              'cases': cases, 'fresh_s': fresh, 'ratios': ratios(cases),
              'command': '.venv/bin/python -m scripts.bench_sysctl'
                         + (' --runs %d' % args.runs if args.runs != 9 else '')}
    (ROOT / 'bench/results').mkdir(parents=True, exist_ok=True)
    (ROOT / name).write_text(json.dumps(result, indent=2) + '\n')
    if not args.no_docs:
        write_docs(result)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
