#!/usr/bin/env python3
"""The site.yml no-op of this tree against another revision's, alternated on the same converged hosts.

Issue 19's quick loop: `make bench` measures everything on fresh hosts; this measures one step of the
no-op work in a few minutes, each figure next to its baseline's from the same run.

- Over `docker exec`: one fresh Debian 12 container per ansible-core (2.19 from .venv and, when
  .cache/venv-2.17 exists, 2.17), converged by this tree, then this tree's no-op and the baseline's,
  alternated --runs times.
- Over SSH (--fleet N, default 12; 0 skips it): N sshd containers converged by this tree, then the two
  no-ops alternated; with --floor, also stock Ansible's floor plays (scripts/bench.py: five builtin
  module calls after the min facts, and without facts) and a facts-only play on the same fleet.

Each run's controller CPU is split between ansible-playbook's main process (the strategy: variables,
templating and queueing for every task and host) and its children (a forked worker per task and host,
and ssh or docker exec). Both come from getrusage in a wrapper that runs ansible-playbook's own
entry point. The containers' CPU is not in either.

Reproduce: `.venv/bin/python -m scripts.bench_noop --baseline REV [--runs N] [--fleet N] [--floor]`.
Writes bench/results/noop-<UTC time>.json and prints a Markdown table.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# Run as `python -m scripts.<name>` from the repository's root, which puts the root on the path.
from scripts.bench import MIRROR, VENV_2_17_BIN, VENV_BIN, write_floor_plays
from tests.harness import BenchHost, Fleet

ROOT = Path(__file__).resolve().parents[1]

# ansible-playbook's own entry point, with the main process's and the children's CPU on stderr at exit.
WRAPPER = '''
import os, resource, sys
pid = os.getpid()
sys.argv[0] = 'ansible-playbook'
from ansible.cli.playbook import main
try:
    main()
finally:
    if os.getpid() == pid:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        sys.stderr.write('\\nRUSAGE %.3f %.3f\\n' % (s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime))
'''


def run_play(tree, bin_dir, inventory, extra_vars, playbook='site.yml'):
    """One ansible-playbook run: {'wall_s', 'main_cpu_s', 'children_cpu_s', 'changed', 'tasks'}."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(Path(tree) / 'ansible.cfg'),
               PATH='%s:%s' % (bin_dir, os.environ['PATH']))
    command = [str(bin_dir / 'python'), '-c', WRAPPER, '-i', str(inventory), '-e', json.dumps(extra_vars),
               str(playbook)]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('%s in %s failed:\n%s\n%s' % (playbook, tree, proc.stdout[-3000:], proc.stderr[-3000:]))
    main_cpu, children_cpu = (float(x) for x in proc.stderr.rsplit('RUSAGE ', 1)[1].split())
    recap = [line for line in proc.stdout.splitlines() if ' changed=' in line]
    count = lambda key: sum(int(line.split(key + '=')[1].split()[0]) for line in recap)  # noqa: E731
    return {'wall_s': round(wall, 2), 'main_cpu_s': round(main_cpu, 2), 'children_cpu_s': round(children_cpu, 2),
            'changed': count('changed'), 'tasks': count('ok') + count('skipped')}


def alternate(cases, runs, plays):
    """plays: {case: callable returning one run}; each round runs every case once, in order."""
    for _ in range(runs):
        for case, play in plays.items():
            cases.setdefault(case, []).append(play())


def summary(cases, hosts):
    rows = {}
    for case, results in cases.items():
        median = {key: statistics.median(r[key] for r in results)
                  for key in ('wall_s', 'main_cpu_s', 'children_cpu_s')}
        cpu = median['main_cpu_s'] + median['children_cpu_s']
        rows[case] = dict(median, cpu_s=round(cpu, 2), cpu_per_host_s=round(cpu / hosts[case], 3),
                          tasks_per_host=results[0]['tasks'] // hosts[case],
                          changed=[r['changed'] for r in results], runs=len(results))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--baseline', required=True, help='a revision to compare with (git worktree)')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--fleet', type=int, default=12)
    parser.add_argument('--floor', action='store_true')
    args = parser.parse_args()
    index = json.loads((MIRROR / 'index.json').read_text())
    our_vars = {'go_toolchain_version': index[0]['version'][2:],
                'go_toolchain_release_index': str(MIRROR / 'index.json'),
                'go_toolchain_mirror': 'http://127.0.0.1:8080/', 'build_cgroups_require_unified': False,
                'go_env_modcache_shared': True, 'go_cache_alert_rules_enabled': False}
    cores = {'2.19': VENV_BIN}
    if (VENV_2_17_BIN / 'ansible-playbook').exists():
        cores['2.17'] = VENV_2_17_BIN
    cases, hosts = {}, {}
    with tempfile.TemporaryDirectory(prefix='gbh-bench-noop-') as workdir:
        baseline = Path(workdir) / 'baseline'
        subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', str(baseline), args.baseline],
                       check=True, capture_output=True)
        try:
            trees = {'this': ROOT, 'baseline': baseline}
            for core, bin_dir in cores.items():
                host = BenchHost(workdir, with_mirror=True)
                try:
                    run_play(ROOT, bin_dir, host.inventory, our_vars)
                    plays = {'docker_%s_%s' % (core, name):
                             (lambda t=tree, b=bin_dir, h=host: run_play(t, b, h.inventory, our_vars))
                             for name, tree in trees.items()}
                    alternate(cases, args.runs, plays)
                    hosts.update(dict.fromkeys(plays, 1))
                finally:
                    host.remove()
            if args.fleet:
                fleet_vars = dict(our_vars, ansible_become=True, go_toolchain_download_on_controller=True,
                                  go_toolchain_mirror='file://%s/' % MIRROR,
                                  go_toolchain_controller_cache=str(ROOT / '.cache' / 'controller'))
                fleet = Fleet(args.fleet, workdir)
                try:
                    run_play(ROOT, VENV_BIN, fleet.all, fleet_vars)
                    plays = {'ssh%d_%s' % (args.fleet, name):
                             (lambda t=tree: run_play(t, VENV_BIN, fleet.all, fleet_vars))
                             for name, tree in trees.items()}
                    if args.floor:
                        floor, floor_no_facts = write_floor_plays(workdir)
                        facts = Path(workdir) / 'facts.yml'
                        facts.write_text('- name: Facts only\n  hosts: all\n  gather_facts: true\n  tasks: []\n')
                        for name, play in (('floor', floor), ('floor_no_facts', floor_no_facts), ('facts_only', facts)):
                            plays['ssh%d_%s' % (args.fleet, name)] = (
                                lambda p=play: run_play(ROOT, VENV_BIN, fleet.all, {}, playbook=p))
                    alternate(cases, args.runs, plays)
                    hosts.update(dict.fromkeys(plays, args.fleet))
                finally:
                    fleet.remove()
        finally:
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(baseline)],
                           check=False, capture_output=True)
    rows = summary(cases, hosts)
    head = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                          check=True).stdout.strip()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    out = ROOT / 'bench' / 'results' / ('noop-%s.json' % stamp)
    out.write_text(json.dumps({'this': head, 'baseline': args.baseline, 'cores': sorted(cores), 'rows': rows,
                               'runs': cases}, indent=2) + '\n')
    print('_`.venv/bin/python -m scripts.bench_noop --baseline %s --runs %d --fleet %d%s` on %s, this tree at %s, '
          'median of %d runs; raw figures: `%s`._\n' % (args.baseline, args.runs, args.fleet,
                                                        ' --floor' if args.floor else '', stamp, head, args.runs,
                                                        out.relative_to(ROOT)))
    print('| case | tasks per host | wall | controller CPU: main process | workers, ssh | per host | changed |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for case, row in rows.items():
        print('| %s | %d | %.2f s | %.2f s | %.2f s | %.3f s | %s |' % (
            case, row['tasks_per_host'], row['wall_s'], row['main_cpu_s'], row['children_cpu_s'],
            row['cpu_per_host_s'], ', '.join(str(c) for c in row['changed'])))


if __name__ == '__main__':
    main()
