#!/usr/bin/env python3
"""Measure the fleet cache (issue 17): the first build of cmd/go on a fresh host, cold and warm.

Standalone: needs Docker (scripts/ensure-docker.sh), the image go-buildhost/debian:12
(scripts/build-image.sh), the Go mirror fixture .cache/go-mirror (`make mirror`, its newest release is
used) and the project's .venv. The server is the real one: the go_cache_server role (nginx WebDAV)
converged on a fresh Debian 12 systemd container, on port 9090, with one write token. The builders
run on this machine, each with a GOCACHE and a local tier of its own in a temporary directory, like
tests/integration/test_go_cacheprog_real_go.py's: GOTOOLCHAIN=local, GOPROXY=off, CGO_ENABLED=0, and,
with the helper, GOCACHEPROG='python3 roles/go_cache/files/go_cacheprog.py <config>' (the role's
defaults: timeout 5, concurrency 8; the token in a 0600 file).

Cases, each --runs times (median, min and max reported), the wall time of the go command only (and
its CPU time, with the processes it waited for); the server's store is emptied at the start of every
run, which starts on a quiet machine; the three cold builds run one after another, in reverse order
every other run:

- build_cold: `go build -o <out> cmd/go` with a fresh GOCACHE, no helper;
- build_local_warm: the same builder again (a plain warm local cache);
- build_cold_helper: a fresh builder with the helper, the server empty: it fills the server;
- build_fleet_warm: a fresh builder with the helper, the server holding everything: its compiles
  are counted, its binary compared with build_cold's (sha256);
- build_local_warm_helper: the build_fleet_warm builder again (its local tier warm);
- build_server_down: a fresh builder whose helper points at a closed port of 127.0.0.1;
- test_cold: `go test <packages>` with a fresh GOCACHE, no helper; test_local_warm: the same again;
- test_fill_helper: a fresh builder with the helper runs the tests (the server already holds
  cmd/go's packages); test_fleet_warm: another fresh builder with the helper, which should find
  every result "(cached)".

Ratios from the same run: build_fleet_warm / build_cold (target at most 0.25),
build_local_warm_helper / build_local_warm (at most 1.3), build_server_down / build_cold (a few
percent over 1), build_cold_helper / build_cold, test_fleet_warm / test_cold. Also the server's
store after the runs: the bytes under ac/ and cas/ and the number of objects.

Writes bench/results/fleet_cache-<UTC>.json and the section of docs/benchmarks.md between
<!-- bench-fleet-cache:begin --> and <!-- bench-fleet-cache:end --> (appended under
"## Fleet cache (issue 17)" when the markers are missing).
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

# Run as `python -m scripts.<name>` from the repository's root, which puts the root on the path.
from tests.harness import MIRROR, Target, docker, start_systemd_container, wait_for_quiet

ROOT = Path(__file__).resolve().parents[1]

HELPER = ROOT / 'roles/go_cache/files/go_cacheprog.py'
IMAGE = 'go-buildhost/debian:12'
PLAYBOOK = 'playbooks/go_cache_server.yml'
PORT = 9090
STORE = '/var/cache/go-cache-server'
TARGET = 'cmd/go'
PACKAGES = 'strings bytes encoding/json unicode/utf8'
MARK_BEGIN = '<!-- bench-fleet-cache:begin -->'
MARK_END = '<!-- bench-fleet-cache:end -->'
HEADING = '## Fleet cache (issue 17)'
BUILD_CASES = ('build_cold', 'build_local_warm', 'build_cold_helper', 'build_fleet_warm', 'build_local_warm_helper',
               'build_server_down')
TEST_CASES = ('test_cold', 'test_local_warm', 'test_fill_helper', 'test_fleet_warm')
# (key, numerator, denominator, target, target text): the figures issue 17 asks for.
RATIOS = (
    ('fleet_warm_over_cold', 'build_fleet_warm', 'build_cold', 0.25, 'at most 0.25'),
    ('helper_local_warm_over_local_warm', 'build_local_warm_helper', 'build_local_warm', 1.3, 'at most 1.3'),
    ('server_down_over_cold', 'build_server_down', 'build_cold', 1.05, 'a few percent over 1 (at most 1.05)'),
    ('cold_helper_over_cold', 'build_cold_helper', 'build_cold', None, ''),
    ('test_fleet_warm_over_test_cold', 'test_fleet_warm', 'test_cold', None, ''),
    ('test_local_warm_over_test_cold', 'test_local_warm', 'test_cold', None, ''),
)


def unpack_go(workdir):
    """GOROOT of the mirror fixture's newest release, unpacked under workdir."""
    index = MIRROR / 'index.json'
    if not index.exists():
        raise SystemExit('no Go mirror fixture at %s: run `make mirror`' % MIRROR)
    newest = json.loads(index.read_text())[0]['files'][0]['filename']
    if not (MIRROR / newest).exists():
        raise SystemExit('%s is not in the Go mirror fixture: run `make mirror`' % newest)
    with tarfile.open(MIRROR / newest) as tar:
        tar.extractall(workdir, filter='data')  # noqa: S202 - the checksum-verified release of the project's own mirror
    return workdir / 'go'


def closed_port():
    """A port of 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Builder:
    """A fresh host's go: its own GOCACHE, and with url its own local tier and the GOCACHEPROG helper."""

    def __init__(self, base, goroot, tmp, url=None, token=None):
        base.mkdir()
        self.base, self.goroot = base, goroot
        self.env = {
            'PATH': '%s:/usr/bin:/bin' % (goroot / 'bin'),
            'HOME': str(base / 'home'),
            'GOCACHE': str(base / 'gocache'),
            'GOTOOLCHAIN': 'local', 'GOFLAGS': '', 'GOPROXY': 'off', 'GOENV': 'off', 'GOTELEMETRY': 'off',
            'CGO_ENABLED': '0', 'GOPATH': str(base / 'gopath'),
            # One TMPDIR for every builder: a test that reads it sees the same value on each.
            'TMPDIR': str(tmp),
        }
        if url is not None:
            config = {'dir': str(base / 'tier'), 'url': url, 'stats_file': str(base / 'stats.json')}
            if token:
                config['token_file'] = str(base / 'token')
                fd = os.open(base / 'token', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, 'w') as out:
                    out.write(token + '\n')
            (base / 'cacheprog.json').write_text(json.dumps(config))
            self.env['GOCACHEPROG'] = '%s %s %s' % (shlex.quote(sys.executable), shlex.quote(str(HELPER)),
                                                    shlex.quote(str(base / 'cacheprog.json')))

    def go(self, *args):
        """(wall seconds, CPU seconds of go and every process it waited for (compilers, linker, the helper),
        its CompletedProcess). The page cache's dirty data (the previous case's cache writes) goes to disk
        first, outside the measured time."""
        os.sync()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        run = subprocess.run([str(self.goroot / 'bin/go'), *args], cwd=self.base, env=self.env, capture_output=True,
                             text=True, check=False, timeout=1800)
        elapsed = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if run.returncode != 0:
            raise SystemExit('go %s failed (%d) in %s:\n%s\n%s' % (' '.join(args), run.returncode, self.base,
                                                                   run.stdout[-3000:], run.stderr[-3000:]))
        return elapsed, cpu, run

    def build(self, name):
        """go build -x -o <name> cmd/go: a dict of the wall time, compile actions, binary's sha256, helper lines."""
        elapsed, cpu, run = self.go('build', '-x', '-o', name, TARGET)
        lines = run.stderr.splitlines()
        return {'s': elapsed, 'cpu_s': cpu,
                'compiles': sum(1 for line in lines if '/compile ' in line and ' -o ' in line),
                'sha256': hashlib.sha256((self.base / name).read_bytes()).hexdigest(),
                'helper_messages': [line for line in lines if 'go-cacheprog' in line][:5], 'stats': self.stats()}

    def test(self, packages):
        """go test <packages>: a dict of the wall time, how many results were "(cached)", helper lines."""
        elapsed, cpu, run = self.go('test', *packages)
        results = [line for line in run.stdout.splitlines() if line.startswith(('ok ', 'ok\t'))]
        return {'s': elapsed, 'cpu_s': cpu, 'packages': len(results),
                'cached': sum(1 for line in results if '(cached)' in line),
                'helper_messages': [line for line in run.stderr.splitlines() if 'go-cacheprog' in line][:5],
                'stats': self.stats()}

    def stats(self):
        path = self.base / 'stats.json'
        return json.loads(path.read_text()) if path.exists() else None


class Server:
    """The go_cache_server role converged on a fresh Debian 12 container; remove() at the end."""

    def __init__(self, workdir):
        self.name = 'gbh-fleet-bench-%s' % uuid.uuid4().hex[:6]
        self.token = secrets.token_hex(24)
        try:
            self._start(workdir)
        except BaseException:
            self.remove()
            raise

    def _start(self, workdir):
        start_systemd_container(self.name, image=IMAGE)
        self.host = Target(self.name, workdir)
        inventory = json.loads(self.host.inventory.read_text())
        inventory['all']['children'] = {'go_cache_servers': inventory['all']['children']['go_buildhosts']}
        self.host.inventory.write_text(json.dumps(inventory))
        started = time.monotonic()
        result = self.host.play({'go_cache_server_write_tokens': [self.token], 'go_cache_server_port': PORT},
                                playbook=PLAYBOOK)
        self.converge_s = time.monotonic() - started
        if result.failed or result.rc != 0:
            failed = ['%s: %s %s' % (name, task.get('msg', ''), task.get('stderr', ''))
                      for name, task in result.tasks.items() if task.get('failed')]
            raise SystemExit('converging %s failed: %s %s' % (PLAYBOOK, ' | '.join(failed), result.stderr[-2000:]))
        address = docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', self.name).stdout.strip()
        self.url = 'http://%s:%d' % (address, PORT)

    def empty(self):
        self.host.sh('find %s/ac %s/cas -mindepth 1 -delete' % (STORE, STORE))

    def store(self):
        """The bytes and objects under ac/ and cas/."""
        out = {}
        for part in ('ac', 'cas'):
            size = int(self.host.sh('du -sb %s/%s | cut -f1' % (STORE, part)))
            files = int(self.host.sh('find %s/%s -type f | wc -l' % (STORE, part)))
            out[part] = {'bytes': size, 'objects': files}
        out['bytes'] = out['ac']['bytes'] + out['cas']['bytes']
        largest = self.host.sh('ls -S %s/cas | head -1' % STORE)
        out['largest_cas_bytes'] = int(self.host.sh('stat -c %%s %s/cas/%s' % (STORE, largest))) if largest else 0
        return out

    def remove(self):
        docker('rm', '-f', self.name, check=False)


def summary(values):
    return {'median_s': round(statistics.median(values), 3), 'min_s': round(min(values), 3),
            'max_s': round(max(values), 3), 'runs_s': [round(v, 3) for v in values]}


def log(text):
    print(text, file=sys.stderr, flush=True)


def measure(args, workdir, goroot, server):
    packages = args.packages.split()
    tmp = workdir / 'tmp'
    tmp.mkdir()
    times = {case: [] for case in BUILD_CASES + TEST_CASES}
    details = {case: [] for case in BUILD_CASES + TEST_CASES}

    def record(case, result):
        times[case].append(result.pop('s'))
        details[case].append(result)
        log('  %-24s %7.2f s  %s' % (case, times[case][-1], {k: v for k, v in result.items()
                                                              if k in ('compiles', 'packages', 'cached')}))

    waited = []
    for run in range(args.runs):
        # The converge's (or the previous run's) processes and writes settle first.
        waited.append(wait_for_quiet())
        log('run %d/%d (waited %.0f s for a quiet machine)' % (run + 1, args.runs, waited[-1]))
        base = workdir / ('run%d' % run)
        base.mkdir()
        down_url = 'http://127.0.0.1:%d' % closed_port()
        server.empty()

        # The cases a ratio compares run next to each other; the three cold builds in turn (the server-down
        # build in the middle) so that a machine getting slower or faster within a run favours none of them.
        cold = Builder(base / 'cold', goroot, tmp)
        filler = Builder(base / 'cold_helper', goroot, tmp, server.url, server.token)
        down = Builder(base / 'down', goroot, tmp, down_url, server.token)
        colds = [('build_cold', cold, 'cold.bin'), ('build_server_down', down, 'down.bin'),
                 ('build_cold_helper', filler, 'cold_helper.bin')]
        for case, builder, name in colds if run % 2 == 0 else reversed(colds):
            record(case, builder.build(name))
        cold_sha = details['build_cold'][-1]['sha256']
        fleet = Builder(base / 'fleet', goroot, tmp, server.url, server.token)
        record('build_fleet_warm', fleet.build('fleet.bin'))
        record('build_local_warm_helper', fleet.build('again.bin'))
        record('build_local_warm', cold.build('again.bin'))
        for case in BUILD_CASES:
            details[case][-1]['same_binary_as_build_cold'] = details[case][-1].pop('sha256') == cold_sha

        test_cold = Builder(base / 'test_cold', goroot, tmp)
        record('test_cold', test_cold.test(packages))
        record('test_local_warm', test_cold.test(packages))
        record('test_fill_helper', Builder(base / 'test_fill', goroot, tmp, server.url, server.token).test(
            packages))
        record('test_fleet_warm', Builder(base / 'test_fleet', goroot, tmp, server.url, server.token).test(
            packages))
        if not args.keep:
            shutil.rmtree(base)
    cases = {case: summary(values) for case, values in times.items()}
    for case in BUILD_CASES + TEST_CASES:
        cases[case]['cpu_median_s'] = round(statistics.median(d['cpu_s'] for d in details[case]), 3)
    for case in BUILD_CASES:
        cases[case]['compiles'] = [d['compiles'] for d in details[case]]
        cases[case]['same_binary_as_build_cold'] = all(d['same_binary_as_build_cold'] for d in details[case])
    for case in TEST_CASES:
        cases[case]['packages'] = [d['packages'] for d in details[case]]
        cases[case]['cached'] = [d['cached'] for d in details[case]]
        cases[case]['all_cached'] = all(d['cached'] == d['packages'] == len(packages) for d in details[case])
    for case in BUILD_CASES + TEST_CASES:
        if details[case][-1]['stats'] is not None:
            cases[case]['helper_stats_last_run'] = details[case][-1]['stats']
        messages = sorted({m for d in details[case] for m in d['helper_messages']})
        if messages:
            cases[case]['helper_messages'] = messages
    ratios = {}
    for key, numerator, denominator, target, _text in RATIOS:
        value = round(cases[numerator]['median_s'] / cases[denominator]['median_s'], 3)
        ratios[key] = {'value': value, 'target': target, 'pass': None if target is None else value <= target,
                       'cpu': round(cases[numerator]['cpu_median_s'] / cases[denominator]['cpu_median_s'], 3),
                       'per_run': [round(a / b, 3) for a, b in zip(times[numerator], times[denominator])]}
    return cases, ratios, waited


def cpu_model():
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def mib(size):
    return '%.1f MiB' % (size / (1 << 20))


def render_block(result):
    cases, ratios, store = result['cases'], result['ratios'], result['store']
    uploaded = cases['build_cold_helper']['helper_stats_last_run']
    fetched = cases['build_fleet_warm']['helper_stats_last_run']
    lines = [MARK_BEGIN,
             '_Generated by `%s` on %s (%s, %d CPUs, %s, load average %s at the start, %s, %d run%s per case). '
             'The server: the go_cache_server role (nginx WebDAV) on a fresh Debian 12 container, port %d, one '
             'write token; the builders on this machine, each with a fresh GOCACHE and local tier. Raw figures: '
             '`%s`._' % (result['command'], result['date'], result['machine'], result['cpus'], result['cpu_model'],
                         result['load'], result['go_version'], result['runs'], '' if result['runs'] == 1 else 's',
                         PORT, result['file']),
             '', '| case | median | min | max | CPU (median) | compiles | same binary as build_cold |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for case in BUILD_CASES:
        c = cases[case]
        lines.append('| %s | %.2f s | %.2f s | %.2f s | %.1f s | %s | %s |' % (
            case, c['median_s'], c['min_s'], c['max_s'], c['cpu_median_s'], ', '.join(str(n) for n in c['compiles']),
            'yes' if c['same_binary_as_build_cold'] else '**no**'))
    lines += ['', '| case (`go test %s`) | median | min | max | CPU (median) | results "(cached)" |'
              % result['packages'], '| --- | --- | --- | --- | --- | --- |']
    for case in TEST_CASES:
        c = cases[case]
        lines.append('| %s | %.2f s | %.2f s | %.2f s | %.1f s | %s |' % (
            case, c['median_s'], c['min_s'], c['max_s'], c['cpu_median_s'],
            ', '.join('%d of %d' % pair for pair in zip(c['cached'], c['packages']))))
    lines += ['', '| ratio of medians | wall time | target | CPU time |', '| --- | --- | --- | --- |']
    for key, numerator, denominator, _target, text in RATIOS:
        r = ratios[key]
        verdict = '' if r['pass'] is None else (' (pass)' if r['pass'] else ' (**miss**)')
        lines.append('| %s / %s | %.2f | %s%s | %.2f |' % (numerator, denominator, r['value'], text, verdict,
                                                            r['cpu']))
    lines += ['', 'The server\'s store after the runs (the last run\'s builds and tests; it is emptied at the start '
              'of each run): %s in %d objects, %s in cas/ (%d objects, the largest %s) and %s in ac/ (%d entries).'
              % (mib(store['bytes']), store['ac']['objects'] + store['cas']['objects'], mib(store['cas']['bytes']),
                 store['cas']['objects'], mib(store['largest_cas_bytes']), mib(store['ac']['bytes']),
                 store['ac']['objects']),
              '', 'One cold build of %s through the helper uploads %s for %d cache entries (a /cas/ and an /ac/ PUT '
              'each); the fleet-warm build fetches %s.' % (result['target'], mib(uploaded['bytes_uploaded']),
                                                           uploaded['uploads'], mib(fetched['bytes_fetched'])),
              '', 'Each run starts on a quiet machine (tests.harness.wait_for_quiet) and each go command after a '
              '`sync`; the three cold builds run one after another, in reverse order every other run. CPU: go and '
              'the processes it waited for (compilers, linker, the helper). '
              '`build_cold_helper` includes the uploads: `go` waits for the helper\'s `close`, which waits for '
              'them. `build_server_down`\'s helper gets refused connections until its breaker opens. '
              '`test_fill_helper` fills the server for `test_fleet_warm` (cmd/go\'s packages are already there).',
              MARK_END]
    return '\n'.join(lines)


def write_docs(result):
    doc = ROOT / 'docs' / 'benchmarks.md'
    text = doc.read_text()
    section = render_block(result)
    if MARK_BEGIN in text:
        before, _, rest = text.partition(MARK_BEGIN)
        _, _, after = rest.partition(MARK_END)
        doc.write_text(before + section + after)
    elif HEADING in text:
        before, _, after = text.partition(HEADING)
        head, sep, rest = after.partition('\n\n')
        doc.write_text(before + HEADING + head + sep + section + '\n\n' + rest if sep else
                       text.rstrip('\n') + '\n\n' + section + '\n')
    else:
        doc.write_text(text.rstrip('\n') + '\n\n' + HEADING + '\n\n' + section + '\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--packages', default=PACKAGES, help='the packages of the test cases (default: %(default)s)')
    parser.add_argument('--keep', action='store_true', help='keep the temporary directories (their path is printed)')
    parser.add_argument('--no-docs', action='store_true', help='do not touch docs/benchmarks.md')
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit('--runs must be at least 1')
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        raise SystemExit('no Docker engine: run `make docker` (scripts/ensure-docker.sh)')
    if docker('image', 'inspect', IMAGE, check=False).returncode != 0:
        raise SystemExit('no image %s: run `make images`' % IMAGE)
    load = '%.2f' % os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix='bench-fleet-cache-'))
    server = None
    try:
        goroot = unpack_go(workdir)
        go_version = subprocess.run([str(goroot / 'bin/go'), 'version'], capture_output=True, text=True, check=True,
                                    env={'PATH': '/usr/bin:/bin', 'GOTOOLCHAIN': 'local', 'HOME': str(workdir)}
                                    ).stdout.split()[2]
        log('%s in %s; converging %s on a fresh container ...' % (go_version, workdir, PLAYBOOK))
        server = Server(workdir)
        log('server at %s (converged in %.1f s)' % (server.url, server.converge_s))
        cases, ratios, waited = measure(args, workdir, goroot, server)
        store = server.store()
    finally:
        if server is not None:
            server.remove()
        if args.keep:
            log('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = 'bench/results/fleet_cache-%s.json' % now.strftime('%Y%m%dT%H%M%SZ')
    command = '.venv/bin/python -m scripts.bench_fleet_cache --runs %d' % args.runs + (
        ' --packages %s' % shlex.quote(args.packages) if args.packages != PACKAGES else '')
    result = {'date': now.strftime('%Y-%m-%d %H:%M UTC'), 'machine': platform.machine(), 'cpus': os.cpu_count(),
              'cpu_model': cpu_model(), 'load': load, 'go_version': go_version, 'runs': args.runs,
              'packages': args.packages, 'target': TARGET, 'server_converge_s': round(server.converge_s, 1),
              'quiet_wait_s': waited, 'file': name, 'command': command, 'cases': cases, 'ratios': ratios,
              'store': store}
    (ROOT / 'bench/results').mkdir(parents=True, exist_ok=True)
    (ROOT / name).write_text(json.dumps(result, indent=2) + '\n')
    if not args.no_docs:
        write_docs(result)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
