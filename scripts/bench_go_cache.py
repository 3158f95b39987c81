#!/usr/bin/env python3
"""Measure the go_cache repair on a generated Go build cache of --files files (default 100,000).

Standalone: needs root (chown, ACLs), setfacl/getfacl (Debian's acl package)
and the project's .venv (ansible-core, ansible.posix). Every case runs on this
machine against a cache generated in --dir, with the GOCACHE layout (256
subdirectories 00..ff, <hash>-a and <hash>-d files), owned by --group.

Cases, each --runs times (median reported):

- module_repair_all: one go_cache_perms call (through `ansible localhost`) on a
  tree where every entry is wrong (wrong group, 0700/0600, no ACLs);
- module_noop: the same call right after: nothing to do, the whole tree walked;
- module_repair_1pct: the same call after breaking 1% of the files;
- health_check: the go-cache-health program (--dry-run) on the same tree:
  size, ages and the permission audit, what the timer runs every 5 minutes;
- shell_repair: chgrp -R, chmod -R g+rwX,o-w, chmod g+s on directories,
  setfacl -R -m and setfacl -R -d -m: the naive recursive repair, which
  rewrites every entry on every run, changed or not;
- setfacl_test: setfacl --test -R, the detection ansible.posix.acl relies on;
- posix_acl_noop: ansible.posix.acl (recursive, access and default entry, two
  calls) and ansible.builtin.file (recurse, group and mode) on the repaired
  tree: the module-based alternative, nothing to change.
- ansible_ping: `ansible localhost -m ping`, the fixed cost of one call.

With --playbook-runs N (default 5; 0 skips it), also on a fresh Debian 12
systemd container (docker connection, like scripts/bench.py): the median of N
no-op runs of playbooks/go_cache.yml after a converge (with the role
defaults, and with go_env given the cache paths as site.yml's inventories
do), against the median of N plays that only gather facts.

Writes bench/results/go_cache-<UTC>.json and the "go_cache" section of
docs/benchmarks.md (between <!-- bench-go-cache:begin --> and
<!-- bench-go-cache:end -->, appended if the markers are missing).
"""

import argparse
import datetime
import grp
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as `python -m scripts.<name>` from the repository's root, which puts the root on the path.
from tests.harness import BenchHost

ROOT = Path(__file__).resolve().parents[1]

VENV_BIN = ROOT / '.venv' / 'bin'
MARK_BEGIN = '<!-- bench-go-cache:begin -->'
MARK_END = '<!-- bench-go-cache:end -->'
PROGRAM = ROOT / 'roles/go_cache/files/go_cache_health.py'
# The modules run under the distribution's Python, as on a managed host.
PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_LOCALHOST_WARNING='false',
                ANSIBLE_INVENTORY_UNPARSED_WARNING='false', PATH='%s:%s' % (VENV_BIN, os.environ['PATH']))


def timed(command, env=None, check=True):
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise SystemExit('%s failed (%d):\n%s\n%s' % (command[:4], proc.returncode, proc.stdout[-3000:],
                                                       proc.stderr[-3000:]))
    return elapsed, proc


def ansible_module(name, args, check=False):
    """One module call through `ansible localhost`; returns (wall seconds, result dict)."""
    command = [str(VENV_BIN / 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,', '-m', name,
               '-e', 'ansible_python_interpreter=%s' % PYTHON] + (['-a', json.dumps(args)] if args else []) + (
                   ['--check'] if check else [])
    env = dict(ansible_env(), ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='ansible.posix.json')
    elapsed, proc = timed(command, env=env)
    return elapsed, json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']


def generate(cache, files, seed=42):
    """A GOCACHE-shaped tree: 256 subdirectories, -a index entries and -d outputs of a few hundred bytes."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    cache.mkdir(parents=True)
    for index in range(256):
        (cache / ('%02x' % index)).mkdir()
    (cache / 'README').write_text('This directory holds cached build artifacts from the Go build system.\n')
    (cache / 'trim.txt').write_text('%d' % int(time.time()))
    now = time.time()
    for number in range(files):
        digest = '%064x' % rng.getrandbits(256)
        path = cache / digest[:2] / ('%s-%s' % (digest, 'a' if number % 2 else 'd'))
        with open(path, 'wb') as out:
            out.write(b'v1 ' * rng.randint(20, 200))
        when = now - rng.randint(0, 5 * 86400)
        os.utime(path, (when, when))


def drift_all(cache):
    """Every entry wrong: group root, 0700 directories and 0600 files, no ACLs at all."""
    subprocess.run(['setfacl', '-R', '-b', str(cache)], check=True)
    subprocess.run(['chgrp', '-R', 'root', str(cache)], check=True)
    subprocess.run(['find', str(cache), '-type', 'd', '-exec', 'chmod', '0700', '{}', '+'], check=True)
    subprocess.run(['find', str(cache), '-type', 'f', '-exec', 'chmod', '0600', '{}', '+'], check=True)


def drift_some(cache, share, seed):
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    broken = 0
    for directory in sorted(cache.iterdir()):
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if rng.random() < share:
                os.chmod(entry, 0o600)
                broken += 1
    return broken


def shell_repair(cache, group):
    commands = [
        ['chgrp', '-R', group, str(cache)],
        ['chmod', '-R', 'g+rwX,o-w', str(cache)],
        ['find', str(cache), '-type', 'd', '-exec', 'chmod', 'g+s', '{}', '+'],
        ['setfacl', '-R', '-m', 'g:%s:rwX' % group, str(cache)],
        ['setfacl', '-R', '-d', '-m', 'u::rwx,g::rwx,g:%s:rwx,m::rwx,o::---' % group, str(cache)],
    ]
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def median_case(values):
    return {'median_s': round(statistics.median(values), 3), 'runs_s': [round(v, 3) for v in values]}


def measure(args, workdir):
    cache = Path(workdir) / 'build'
    caches = [dict(path=str(cache), kind='build')]
    perms = dict(group=args.group, caches=caches, examples=3)
    print('generating %d files in %s ...' % (args.files, cache), file=sys.stderr)
    started = time.perf_counter()
    generate(cache, args.files)
    generated_s = time.perf_counter() - started
    entries = sum(1 for _ in cache.rglob('*')) + 1
    results = {name: [] for name in ('module_repair_all', 'module_noop', 'module_repair_1pct', 'health_check',
                                     'shell_repair', 'setfacl_test', 'posix_acl_noop', 'ansible_ping')}
    inner = {'module_repair_all': [], 'module_noop': [], 'module_repair_1pct': []}
    counts = {}
    config = Path(workdir) / 'health.json'
    config.write_text(json.dumps({
        'group': args.group, 'owner': 'root',
        'caches': [dict(name='build', path=str(cache), kind='build', max_bytes=0, cleanup='none')],
        'metrics_file': str(Path(workdir) / 'go_cache.prom'), 'state_file': str(Path(workdir) / 'state.json')}))
    for run in range(args.runs):
        print('run %d/%d' % (run + 1, args.runs), file=sys.stderr)
        drift_all(cache)
        elapsed, result = ansible_module('go_buildhost.buildhost.go_cache_perms', perms)
        results['module_repair_all'].append(elapsed)
        inner['module_repair_all'].append(result['caches'][0]['seconds'])
        counts['repair_all_repaired'] = result['caches'][0]['repaired']
        assert result['changed'] is True

        elapsed, result = ansible_module('go_buildhost.buildhost.go_cache_perms', perms)
        results['module_noop'].append(elapsed)
        inner['module_noop'].append(result['caches'][0]['seconds'])
        counts['noop_scanned'] = result['caches'][0]['scanned']
        assert result['changed'] is False, result

        counts['broken_1pct'] = drift_some(cache, 0.01, seed=run)
        elapsed, result = ansible_module('go_buildhost.buildhost.go_cache_perms', perms)
        results['module_repair_1pct'].append(elapsed)
        inner['module_repair_1pct'].append(result['caches'][0]['seconds'])
        counts['repair_1pct_repaired'] = result['caches'][0]['repaired']

        elapsed, proc = timed([sys.executable, str(PROGRAM), '--config', str(config), '--dry-run'])
        results['health_check'].append(elapsed)
        counts['health_check_files'] = json.loads(proc.stdout.splitlines()[0])['caches']['build']['files']

        if shutil.which('setfacl'):
            elapsed, _proc = timed(['setfacl', '--test', '-R', '-m', 'g:%s:rwX' % args.group, str(cache)])
            results['setfacl_test'].append(elapsed)
            results['shell_repair'].append(shell_repair(cache, args.group))
            # The shell repair leaves other::r-x on old entries but nothing wrong for the module.
            ansible_module('go_buildhost.buildhost.go_cache_perms', perms)

        total = 0.0
        for name, module_args in (
                ('ansible.posix.acl', dict(path=str(cache), entity=args.group, etype='group', permissions='rwX',
                                           recursive=True, state='present')),
                ('ansible.posix.acl', dict(path=str(cache), entity=args.group, etype='group', permissions='rwX',
                                           default=True, recursive=True, state='present')),
                ('ansible.builtin.file', dict(path=str(cache), state='directory', recurse=True, group=args.group,
                                              mode='g+rwX,o-w'))):
            elapsed, result = ansible_module(name, module_args)
            counts.setdefault('posix_acl_noop_changed', []).append(bool(result.get('changed')))
            total += elapsed
        results['posix_acl_noop'].append(total)

        elapsed, _result = ansible_module('ansible.builtin.ping', {})
        results['ansible_ping'].append(elapsed)
    cases = {name: median_case(values) for name, values in results.items() if values}
    for name, values in inner.items():
        cases[name]['module_walk_median_s'] = round(statistics.median(values), 3)
    return {'files': args.files, 'entries': entries, 'generate_s': round(generated_s, 2), 'cases': cases,
            'counts': counts}


def measure_playbook(runs, workdir):
    """Median no-op run of playbooks/go_cache.yml and of a facts-only play on one fresh container."""
    host = BenchHost(workdir, prefix='gbh-gocache-bench')
    inventory = host.inventory
    try:
        facts = Path(workdir) / 'facts.yml'
        facts.write_text('- name: Facts only\n  hosts: all\n  gather_facts: true\n  tasks: []\n')
        env = dict(ansible_env(), ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'))

        def play(playbook, *extra):
            return timed([str(VENV_BIN / 'ansible-playbook'), '-i', str(inventory), *extra, str(playbook)], env=env)

        converge_s, _proc = play(ROOT / 'playbooks/go_cache.yml')
        cases = {'playbook_facts_only': [], 'playbook_go_cache_noop': []}
        for _ in range(runs):
            cases['playbook_facts_only'].append(play(facts)[0])
            elapsed, proc = play(ROOT / 'playbooks/go_cache.yml')
            if 'changed=0' not in proc.stdout:
                raise SystemExit('the no-op run changed something:\n' + proc.stdout[-3000:])
            cases['playbook_go_cache_noop'].append(elapsed)
    finally:
        host.remove()
    out = {case: median_case(values) for case, values in cases.items()}
    out['playbook_go_cache_converge'] = median_case([converge_s])
    return out


def write_docs(result):
    doc = ROOT / 'docs' / 'benchmarks.md'
    text = doc.read_text()
    cases = result['cases']
    lines = [MARK_BEGIN, '## go_cache', '',
             '_Generated by `%s` on %s (%s, %d CPUs, load average %s at the start, %s, %d runs per case, median '
             'shown). A GOCACHE-shaped tree of %d files (%d entries with the 256 directories) on %s. Raw figures: '
             '`%s`._' % (result['command'], result['date'], result['machine'], result['cpus'], result['load'],
                         result['python'], result['runs'], result['files'], result['entries'], result['filesystem'],
                         result['file']),
             '', '| case | median wall time | of which the walk (module) | runs |', '| --- | --- | --- | --- |']
    for name, case in cases.items():
        walk = '%.2f s' % case['module_walk_median_s'] if 'module_walk_median_s' in case else ''
        lines.append('| %s | %.2f s | %s | %s |' % (name, case['median_s'], walk,
                                                     ', '.join('%.2f' % x for x in case['runs_s'])))
    if 'playbook_go_cache_noop' in cases:
        lines += ['', '| ratio | value |', '| --- | --- |',
                  '| playbooks/go_cache.yml no-op / facts-only play | %.2f |' % result['noop_over_facts_only'],
                  '', '`playbook_go_cache_noop` uses the role defaults: one go_cache_perms and one file_bundle '
                  'call (go_cache publishes its caches; go_env, a play of its own, follows them). '
                  '`playbook_go_cache_converge` is the first run on the fresh container (apt included).']
    lines += ['', 'Every `module_*` and `posix_acl_noop` figure includes the fixed cost of starting `ansible` '
              '(`ansible_ping`). `module_noop` is the whole repair of an already right tree in one module call; '
              '`shell_repair` rewrites every entry whether or not it is wrong, on every run; `setfacl_test` only '
              'detects, for the group entry alone.', MARK_END]
    section = '\n'.join(lines)
    if MARK_BEGIN in text:
        before, _, rest = text.partition(MARK_BEGIN)
        _, _, after = rest.partition(MARK_END)
        doc.write_text(before + section + after)
    else:
        doc.write_text(text.rstrip('\n') + '\n\n' + section + '\n')


def filesystem_of(path):
    try:
        return subprocess.run(['findmnt', '-no', 'FSTYPE', '--target', path], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--files', type=int, default=100000)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--group', default='users', help='an existing group other than root (default: users)')
    parser.add_argument('--dir', default='/var/tmp', help='where the cache is generated (needs POSIX ACLs)')
    parser.add_argument('--playbook-runs', type=int, default=5,
                        help='no-op runs of playbooks/go_cache.yml on a container (0: skip)')
    parser.add_argument('--no-docs', action='store_true', help='do not touch docs/benchmarks.md')
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: the repair changes owners and ACLs')
    grp.getgrnam(args.group)
    load = '%.2f' % os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix='bench-go-cache-', dir=args.dir) as workdir:
        fstype = filesystem_of(workdir)
        measured = measure(args, workdir)
        if args.playbook_runs:
            print('playbook no-op runs on a container ...', file=sys.stderr)
            measured['cases'].update(measure_playbook(args.playbook_runs, workdir))
            for key, case in (('noop_over_facts_only', 'playbook_go_cache_noop'),):
                measured[key] = round(measured['cases'][case]['median_s']
                                      / measured['cases']['playbook_facts_only']['median_s'], 2)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = 'bench/results/go_cache-%s.json' % now.strftime('%Y%m%dT%H%M%SZ')
    result = dict(measured, date=now.strftime('%Y-%m-%d %H:%M UTC'), machine=platform.machine(),
                  cpus=os.cpu_count(), load=load, python='Python %s' % platform.python_version(), runs=args.runs,
                  filesystem=fstype, file=name,
                  command='.venv/bin/python -m scripts.bench_go_cache' + (
                      ' --files %d' % args.files if args.files != 100000 else '') + (
                      ' --runs %d' % args.runs if args.runs != 3 else '') + (
                      ' --playbook-runs %d' % args.playbook_runs if args.playbook_runs != 5 else ''))
    (ROOT / 'bench/results').mkdir(parents=True, exist_ok=True)
    (ROOT / name).write_text(json.dumps(result, indent=2) + '\n')
    if not args.no_docs:
        write_docs(result)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
