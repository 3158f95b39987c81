"""The go-cache-health program against temporary caches: metrics, audit, cleanup, webhook, exit codes."""

# ruff: noqa: S103 - these tests make permissive and broken modes on purpose, to audit and repair them

import grp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from .conftest import ROOT, load_health_program

PROGRAM = ROOT / 'roles/go_cache/files/go_cache_health.py'
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='chown and ACLs of other groups need root')

GROUP = 'users'
GID = grp.getgrnam(GROUP).gr_gid
OTHER_UID = 65534
MIB = 1024 * 1024
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def load():
    return load_health_program()


health = load()
audit = health.audit


def parse(text):
    samples = {}
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        match = SAMPLE.match(line)
        assert match, 'not an exposition-format sample: %r' % line
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group('labels') or ''))
        samples[(match.group('name'), tuple(sorted(labels.items())))] = float(match.group('value'))
    return samples


def sample(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def entry(cache, subdir, number, size, age_days, *, directory=False):
    """A Go cache entry <subdir>/<hash>-a (or an executable -d directory) with real blocks and an old mtime."""
    os.makedirs(cache / subdir, exist_ok=True)
    name = cache / subdir / ('%064x-%s' % (number, 'd' if directory else 'a'))
    target = name / 'prog' if directory else name
    if directory:
        name.mkdir()
    with open(target, 'wb') as out:
        out.write(b'\1' * size)
    when = time.time() - age_days * 86400
    os.utime(target, (when, when))
    os.utime(name, (when, when))
    return name


def tier_entry(tier, kind, number, size, age_days):
    """An entry of the GOCACHEPROG helper's local tier, <kind>/<2 hex>/<64 hex>, with real blocks and an old mtime."""
    hex_id = hashlib.sha256(b'%d' % number).hexdigest()
    os.makedirs(tier / kind / hex_id[:2], exist_ok=True)
    name = tier / kind / hex_id[:2] / hex_id
    name.write_bytes(b'\2' * size)
    when = time.time() - age_days * 86400
    os.utime(name, (when, when))
    return name


class Receiver:
    """A webhook endpoint on the loopback that records requests and answers with scripted statuses."""

    def __init__(self, statuses=()):
        self.requests = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers['Content-Length']))
                receiver.requests.append((self.path, self.headers['Content-Type'], json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/hook' % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def env(tmp_path):
    build = tmp_path / 'cache/build'
    mod = tmp_path / 'cache/mod'
    for path, kind in ((build, 'build'), (mod, 'mod')):
        audit.make_top(str(path), audit.Policy(GID, kind, 0))
    (tmp_path / 'metrics').mkdir()
    (tmp_path / 'state').mkdir()
    config = {
        'group': GROUP, 'owner': 'root',
        'caches': [
            {'name': 'build', 'path': str(build), 'kind': 'build', 'max_bytes': 0, 'low_water_bytes': 0,
             'cleanup': 'trim'},
            {'name': 'mod', 'path': str(mod), 'kind': 'mod', 'max_bytes': 0, 'low_water_bytes': 0,
             'cleanup': 'empty'}],
        'metrics_file': str(tmp_path / 'metrics/go_cache.prom'),
        'state_file': str(tmp_path / 'state/state.json'),
        'webhook': {'url_file': None, 'retries': 3, 'backoff_seconds': 2, 'timeout_seconds': 5},
    }
    config_path = tmp_path / 'health.json'

    class Env:
        root = tmp_path
        metrics = tmp_path / 'metrics/go_cache.prom'

        def __init__(self):
            self.build, self.mod, self.config = build, mod, config
            self.sleeps = []

        def write_config(self):
            config_path.write_text(json.dumps(self.config))
            return str(config_path)

        def run(self, **kwargs):
            log, text = health.run(health.load_config(self.write_config()), sleep=self.sleeps.append,
                                   host='ci-1.example.com', **kwargs)
            return log, parse(text)

        def webhook(self, url):
            url_file = tmp_path / 'webhook.url'
            url_file.write_text(url + '\n')
            self.config['webhook']['url_file'] = str(url_file)

    return Env()


def test_metrics_of_a_healthy_cache(env):
    entry(env.build, 'ab', 1, 100000, age_days=3)
    entry(env.build, 'cd', 2, 5000, age_days=1)
    entry(env.build, 'ef', 3, 2 * MIB, age_days=0.5, directory=True)
    log, samples = env.run()
    build = dict(cache='build', path=str(env.build))
    expected = sum(os.lstat(os.path.join(d, n)).st_blocks * 512 for d, dirs, files in os.walk(env.build)
                   for n in dirs + files) + os.lstat(env.build).st_blocks * 512
    assert sample(samples, 'go_cache_bytes', **build) == expected
    assert sample(samples, 'go_cache_files', **build) == 3
    assert 3 * 86400 - 60 < sample(samples, 'go_cache_oldest_entry_age_seconds', **build) < 3 * 86400 + 60
    assert 0.5 * 86400 - 60 < sample(samples, 'go_cache_newest_entry_age_seconds', **build) < 0.5 * 86400 + 60
    for name in ('go_cache_fs_bytes_used_ratio', 'go_cache_fs_inodes_used_ratio'):
        assert 0 < sample(samples, name, **build) < 1
    problems = dict((dict(labels)['problem'], v) for (name, labels), v in samples.items()
                    if name == 'go_cache_permission_problems' and dict(labels)['cache'] == 'build')
    assert sorted(problems) == sorted(audit.PROBLEMS + ('missing',)) and not any(problems.values())
    assert sample(samples, 'go_cache_cleanup_freed_bytes_total', **build) == 0
    assert abs(sample(samples, 'go_cache_last_run_timestamp_seconds') - time.time()) < 30
    assert log['conditions'] == [] and log['webhook'] == {'sent': False}
    text = env.metrics.read_text()
    for name, kind, _help in health.METRICS:
        if name.startswith('go_cacheprog_'):
            assert '%s ' % name not in text, 'no GOCACHEPROG tier configured, no family'
        else:
            assert '# HELP %s ' % name in text and '# TYPE %s %s\n' % (name, kind) in text
    assert sorted(os.listdir(env.root / 'metrics')) == ['go_cache.prom'], 'a temporary file was left behind'
    assert os.stat(env.metrics).st_mode & 0o777 == 0o644
    assert os.stat(env.root / 'state/state.json').st_mode & 0o777 == 0o600


def test_label_values_are_escaped():
    assert health.label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_permission_problems_and_the_affected_uid(env):
    broken = env.build / 'ab'
    broken.mkdir()
    (broken / 'entry').write_text('x')
    os.removexattr(broken, audit.DEFAULT)
    os.chown(broken, OTHER_UID, OTHER_UID)
    os.chmod(broken, 0o700)
    log, samples = env.run()
    labels = dict(cache='build', path=str(env.build))
    for problem in ('wrong_group', 'no_setgid', 'not_group_writable', 'missing_default_acl', 'member_cannot_write'):
        assert sample(samples, 'go_cache_permission_problems', problem=problem, **labels) == 1, problem
    assert log['conditions'] == ['build:permissions']
    assert log['caches']['build']['permission_problems'] == 5


def test_a_missing_cache_is_a_finding_not_an_error(env):
    os.rmdir(env.mod)
    log, samples = env.run()
    assert sample(samples, 'go_cache_permission_problems', cache='mod', path=str(env.mod), problem='missing') == 1
    assert 'mod:missing' in log['conditions']


def test_trim_removes_the_least_recently_used_entries_down_to_the_low_water_mark(env):
    oldest = [entry(env.build, '%02x' % n, n, MIB, age_days=10 - n) for n in range(6)]
    newest = entry(env.build, 'ff', 99, MIB, age_days=0.01)
    exe = entry(env.build, 'ee', 98, MIB, age_days=20, directory=True)
    (env.build / 'README').write_text('not an entry')
    (env.build / 'trim.txt').write_text('1')
    os.utime(env.build / 'trim.txt', (0, 0))
    env.config['caches'][0].update(max_bytes=5 * MIB, low_water_bytes=4 * MIB + MIB // 2)  # + directories
    log, samples = env.run()
    cleanup = log['caches']['build']['cleanup']
    assert cleanup['method'] == 'trim' and cleanup['reached_low_water']
    assert not exe.exists(), 'the oldest entry, an executable directory, goes first'
    assert [p.exists() for p in oldest] == [False, False, False, True, True, True]
    assert newest.exists() and (env.build / 'README').exists() and (env.build / 'trim.txt').exists()
    labels = dict(cache='build', path=str(env.build))
    assert sample(samples, 'go_cache_bytes', **labels) <= 4 * MIB + MIB // 2
    assert sample(samples, 'go_cache_cleanup_freed_bytes_total', **labels) == cleanup['freed_bytes'] >= 4 * MIB
    assert log['conditions'] == []
    again, samples = env.run()
    assert again['caches']['build']['cleanup'] is None
    assert sample(samples, 'go_cache_cleanup_freed_bytes_total', **labels) == cleanup['freed_bytes'], \
        'the counter survives runs'


def test_trim_counts_a_read_by_another_member_as_a_use(env):
    # Go refreshes an entry's mtime only in files it owns (os.Chtimes); when a member reads an entry
    # that someone else wrote, only the atime moves (relatime: at most daily). Either is a use.
    read_lately = entry(env.build, '01', 1, MIB, age_days=9)
    os.utime(read_lately, (time.time() - 3600, read_lately.stat().st_mtime))
    unused = [entry(env.build, '%02x' % n, n, MIB, age_days=5) for n in (2, 3)]
    env.config['caches'][0].update(max_bytes=2 * MIB, low_water_bytes=MIB + MIB // 2)
    log, _samples = env.run()
    assert log['caches']['build']['cleanup']['reached_low_water']
    assert read_lately.exists()
    assert [p.exists() for p in unused] == [False, False]


def test_trim_never_follows_a_symlinked_subdirectory(env, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    victim = entry(outside, 'x', 1, MIB, age_days=30).parent
    (env.build / 'aa').symlink_to(victim)
    entry(env.build, 'bb', 2, 3 * MIB, age_days=1)
    env.config['caches'][0].update(max_bytes=2 * MIB, low_water_bytes=MIB)
    env.run()
    assert len(os.listdir(victim)) == 1


def test_go_clean_method(env, tmp_path):
    fake = tmp_path / 'go'
    fake.write_text('#!/bin/sh\necho "$@" > %s/args; env > %s/env; rm -rf "$GOCACHE"/[0-9a-f][0-9a-f]\n'
                    % (tmp_path, tmp_path))
    os.chmod(fake, 0o755)
    entry(env.build, 'ab', 1, 3 * MIB, age_days=1)
    env.config['go'] = str(fake)
    env.config['caches'][0].update(max_bytes=2 * MIB, low_water_bytes=MIB, cleanup='go_clean')
    log, _samples = env.run()
    assert (tmp_path / 'args').read_text() == 'clean -cache\n'
    assert 'GOCACHE=%s\n' % env.build in (tmp_path / 'env').read_text()
    cleanup = log['caches']['build']['cleanup']
    assert cleanup['method'] == 'go clean -cache' and cleanup['freed_bytes'] >= 3 * MIB


def test_a_failing_go_clean_is_an_error_of_the_health_check(env, tmp_path):
    entry(env.build, 'ab', 1, 3 * MIB, age_days=1)
    env.config['go'] = str(tmp_path / 'no-such-go')
    env.config['caches'][0].update(max_bytes=2 * MIB, cleanup='go_clean')
    with pytest.raises(health.HealthError, match='cannot run .*no-such-go clean -cache'):
        env.run()


@pytest.fixture
def tier(env):
    """The build cache with a GOCACHEPROG local tier at remote/, its stats file inside."""
    path = env.build / 'remote'
    for kind in ('a', 'o'):
        os.makedirs(path / kind)
    env.config['caches'][0]['remote'] = {'dir': str(path), 'stats_file': str(path / 'stats.json')}
    return path


def remote_counters(samples, cache):
    return dict((name[len('go_cacheprog_'):-len('_total')], value) for (name, labels), value in samples.items()
                if name.startswith('go_cacheprog_') and name.endswith('_total') and dict(labels)['cache'] == cache)


def test_trim_takes_the_tier_entries_and_go_entries_together_least_recently_used_first(env, tier):
    order = [entry(env.build, 'ab', 1, MIB, age_days=10), tier_entry(tier, 'o', 2, MIB, age_days=9),
             entry(env.build, 'cd', 3, MIB, age_days=5), tier_entry(tier, 'a', 4, MIB, age_days=4),
             tier_entry(tier, 'o', 5, MIB, age_days=0.5), entry(env.build, 'ef', 6, MIB, age_days=0.2)]
    (tier / 'stats.json').write_text('{"puts": 2}\n')
    (tier / 'breaker.json').write_text('{}\n')
    temporary = order[1].parent / (order[1].name + '.tmp-1-abcdef')
    temporary.write_text('a put in progress')
    for path in (tier / 'stats.json', tier / 'breaker.json', temporary):
        os.utime(path, (0, 0))
    env.config['caches'][0].update(max_bytes=5 * MIB, low_water_bytes=3 * MIB + MIB // 2)
    log, samples = env.run()
    cleanup = log['caches']['build']['cleanup']
    assert cleanup['reached_low_water'] and cleanup['removed_entries'] == 3
    assert [p.exists() for p in order] == [False, False, False, True, True, True]
    assert (tier / 'stats.json').exists() and (tier / 'breaker.json').exists() and temporary.exists()
    labels = dict(cache='build', path=str(env.build))
    expected = sum(os.lstat(os.path.join(d, n)).st_blocks * 512 for d, dirs, files in os.walk(tier)
                   for n in dirs + files) + os.lstat(tier).st_blocks * 512
    assert sample(samples, 'go_cacheprog_tier_bytes', **labels) == expected
    assert sample(samples, 'go_cacheprog_tier_files', **labels) == 5  # two entries, stats, breaker, temporary
    assert sample(samples, 'go_cache_bytes', **labels) > expected


@pytest.mark.parametrize('planted', ['o', 'o/xx'])
def test_trim_never_follows_a_symlink_planted_in_the_tier(env, tier, tmp_path, planted):
    removed = tier_entry(tier, 'a', 1, MIB, age_days=20)
    swapped = tier_entry(tier, 'o', 2, MIB, age_days=10)
    outside = tmp_path / 'outside'
    victim = tier_entry(outside, 'o', 2, MIB, age_days=10)
    env.config['caches'][0].update(max_bytes=MIB, low_water_bytes=0)
    cache = health.load_config(env.write_config())['caches'][0]
    report = health.measure(cache, None, collect_candidates=True)
    # A member swaps a directory of the tier for a symlink between the walk and the removal.
    moved = swapped.parent if planted == 'o/xx' else tier / 'o'
    os.rename(moved, tmp_path / 'moved')
    moved.symlink_to(victim.parent if planted == 'o/xx' else outside / 'o')
    done = health.trim(report)
    assert not removed.exists() and done['removed_entries'] == 1
    assert victim.exists()


def test_go_clean_also_empties_the_tier(env, tier, tmp_path):
    fake = tmp_path / 'go'
    fake.write_text('#!/bin/sh\nrm -rf "$GOCACHE"/[0-9a-f][0-9a-f]\n')
    os.chmod(fake, 0o755)
    entry(env.build, 'ab', 1, MIB, age_days=1)
    objects = [tier_entry(tier, 'o', n, MIB, age_days=1) for n in (2, 3)]
    tier_entry(tier, 'a', 4, 1000, age_days=1)
    (objects[0].parent / '.fetch-abc').write_text('a download in progress')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep').write_text('x')
    (tier / 'o' / 'ff').symlink_to(outside)
    (tier / 'stats.json').write_text('{"puts": 2}\n')
    (tier / 'breaker.json').write_text('{}\n')
    env.config['go'] = str(fake)
    env.config['caches'][0].update(max_bytes=2 * MIB, low_water_bytes=MIB, cleanup='go_clean')
    log, samples = env.run()
    cleanup = log['caches']['build']['cleanup']
    assert cleanup['method'] == 'go clean -cache' and cleanup['freed_bytes'] >= 3 * MIB
    assert os.listdir(tier / 'a') == [] and os.listdir(tier / 'o') == []
    assert sorted(os.listdir(tier)) == ['a', 'breaker.json', 'o', 'stats.json']
    assert (outside / 'keep').exists(), 'the symlink is removed, not followed'
    assert sample(samples, 'go_cacheprog_tier_files', cache='build', path=str(env.build)) == 2


def test_tier_metrics_from_the_stats_file(env, tier):
    counters = dict(local_hits=5, remote_hits=3, misses=2, bytes_fetched=12345, breaker_opens=1, processes=7)
    rejected = dict(corrupt=True, puts=-1, uploads=1.5, upload_errors='4', bytes_uploaded=2 ** 70)
    (tier / 'stats.json').write_text(json.dumps(dict(counters, other=9, **rejected)))
    log, samples = env.run()
    expected = dict.fromkeys(rejected, 0)
    expected.update(counters)
    assert remote_counters(samples, 'build') == expected
    assert remote_counters(samples, 'mod') == {}, 'a cache without a tier has no remote samples'
    text = env.metrics.read_text()
    for name, kind, _help in health.METRICS:
        assert text.count('# HELP %s ' % name) == 1 and text.count('# TYPE %s %s\n' % (name, kind)) == 1, name
    assert '# TYPE go_cacheprog_local_hits_total counter\n' in text
    assert 'go_cacheprog_other' not in text


@pytest.mark.parametrize('content', [b'not json', b'[1, 2]', b'"local_hits"', b'[' * 60000, b'\xff\xfe{}',
                                     b'{"local_hits": 5, "pad": "' + b'x' * 70000 + b'"}'],
                         ids=['text', 'list', 'string', 'deep', 'binary', 'over_64_KiB'])
def test_a_garbage_stats_file_counts_zero(env, tier, content):
    (tier / 'stats.json').write_bytes(content)
    log, samples = env.run()
    counters = remote_counters(samples, 'build')
    assert len(counters) == 11 and not any(counters.values())
    assert log['conditions'] == []


def test_a_fifo_in_place_of_the_stats_file_does_not_hang_the_run(env, tier):
    fifo = tier / 'stats.json'
    os.mkfifo(fifo, 0o660)
    result = {}
    worker = threading.Thread(target=lambda: result.update(samples=env.run()[1]), daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_RDWR))  # a writer comes and goes: the blocked reader gets its end of file
        worker.join(30)
        pytest.fail('the run waited for a writer of the FIFO')
    counters = remote_counters(result['samples'], 'build')
    assert len(counters) == 11 and not any(counters.values())


def test_a_symlinked_stats_file_is_not_followed(env, tier, tmp_path):
    outside = tmp_path / 'outside.json'
    outside.write_text(json.dumps({'local_hits': 5, 'processes': 1}))
    (tier / 'stats.json').symlink_to(outside)
    _log, samples = env.run()
    counters = remote_counters(samples, 'build')
    assert len(counters) == 11 and not any(counters.values())
    assert sample(samples, 'go_cacheprog_tier_files', cache='build', path=str(env.build)) == 0


def test_a_tier_directory_swapped_for_a_symlink_is_not_followed_to_the_stats(env, tier, tmp_path):
    # A member renames the tier away and plants a symlink to a directory of their choosing: root must not read it.
    outside = tmp_path / 'planted'
    outside.mkdir()
    (outside / 'stats.json').write_text(json.dumps({'local_hits': 5, 'processes': 1}))
    tier.rename(tier.with_name('moved'))
    tier.symlink_to(outside)
    _log, samples = env.run()
    counters = remote_counters(samples, 'build')
    assert len(counters) == 11 and not any(counters.values())


@pytest.mark.parametrize('remote, error', [
    ({'dir': 'remote', 'stats_file': '/tmp/stats.json'}, 'remote dir .* is not an absolute path'),
    ({'dir': '{build}/remote', 'stats_file': 'stats.json'}, 'remote stats_file .* is not an absolute path'),
    ({'dir': '{build}/remote'}, 'remote stats_file None .* is not an absolute path'),
    ({'dir': '{root}/elsewhere', 'stats_file': '/tmp/stats.json'}, 'is not inside the cache'),
    ({'dir': '{build}-remote', 'stats_file': '/tmp/stats.json'}, 'is not inside the cache'),
    ({'dir': '{build}/../mod/remote', 'stats_file': '/tmp/stats.json'}, 'is not inside the cache'),
    ({'dir': '{build}', 'stats_file': '/tmp/stats.json'}, 'is not inside the cache'),
    ({'dir': '{build}/remote', 'stats_file': '/tmp/stats.json'}, 'remote stats_file .* is not inside the cache'),
    ('{build}/remote', 'is not an object'),
], ids=['relative_dir', 'relative_stats_file', 'no_stats_file', 'outside', 'sibling', 'dot_dot', 'the_cache',
        'stats_outside', 'not_an_object'])
def test_a_bad_remote_is_a_configuration_error(env, remote, error):
    def fill(value):
        return value.format(build=env.build, root=env.root) if isinstance(value, str) else value
    remote = dict((k, fill(v)) for k, v in remote.items()) if isinstance(remote, dict) else fill(remote)
    env.config['caches'][0]['remote'] = remote
    with pytest.raises(health.HealthError, match=error):
        health.load_config(env.write_config())


def test_only_a_build_cache_has_a_remote(env):
    env.config['caches'][1]['remote'] = {'dir': str(env.mod / 'remote'), 'stats_file': '/tmp/stats.json'}
    with pytest.raises(health.HealthError, match="cache 'mod' .* has a remote, which only a build cache can have"):
        health.load_config(env.write_config())
    env.config['caches'][1]['remote'] = None
    assert health.load_config(env.write_config())['caches'][1]['remote'] is None


def test_the_module_cache_is_emptied_but_keeps_its_directory(env):
    module = env.mod / 'example.com/greet@v1.0.0'
    module.mkdir(parents=True)
    (module / 'greet.go').write_bytes(b'x' * 3 * MIB)
    os.chmod(module / 'greet.go', 0o444)
    os.chmod(module, 0o555)
    env.config['caches'][1].update(max_bytes=2 * MIB)
    log, _samples = env.run()
    assert os.listdir(env.mod) == []
    assert log['caches']['mod']['cleanup']['method'] == 'empty'
    assert audit.read_acl(str(env.mod), audit.DEFAULT) is not None
    assert os.stat(env.mod).st_mode & 0o7777 == 0o2770


def test_cleanup_none_only_reports(env):
    entry(env.build, 'ab', 1, 3 * MIB, age_days=1)
    env.config['caches'][0].update(max_bytes=2 * MIB, cleanup='none')
    log, _samples = env.run()
    assert log['caches']['build']['cleanup']['method'] == 'none'
    assert log['conditions'] == ['build:size']


def test_dry_run_changes_nothing(env):
    entry(env.build, 'ab', 1, 3 * MIB, age_days=1)
    env.config['caches'][0].update(max_bytes=2 * MIB)
    log, samples = env.run(dry_run=True)
    assert log['caches']['build']['cleanup'] is None and 'webhook' not in log
    assert not env.metrics.exists() and not (env.root / 'state/state.json').exists()
    assert os.listdir(env.build / 'ab'), 'no cleanup in a dry run'
    assert sample(samples, 'go_cache_files', cache='build', path=str(env.build)) == 1


def test_one_webhook_message_per_change_of_condition(env):
    receiver = Receiver()
    try:
        env.webhook(receiver.url)
        env.run()
        assert receiver.requests == [], 'nothing to say about a healthy host'
        broken = env.build / 'ab'
        broken.mkdir()
        os.chown(broken, OTHER_UID, OTHER_UID)
        os.chmod(broken, 0o700)
        log, _samples = env.run()
        assert log['webhook'] == {'sent': True, 'new': ['build:permissions'], 'resolved': []}
        env.run()
        env.run()
        assert len(receiver.requests) == 1
        path, content_type, payload = receiver.requests[0]
        assert (path, content_type) == ('/hook', 'application/json')
        assert payload['text'] == 'go-cache-health on ci-1.example.com: %s permission problems' % env.build
        attachment = payload['attachments'][0]
        fields = dict((f['title'], f['value']) for f in attachment['fields'])
        assert fields['Host'] == 'ci-1.example.com'
        assert fields['Cache'] == '%s (build)' % env.build
        assert fields['Affected UID'].startswith('%d (' % OTHER_UID)
        assert re.match(r'^[0-9.]+ (B|KiB) \(\d+ bytes\)$', fields['Size'])
        assert 'ab (uid %d): wrong_group' % OTHER_UID in fields['Examples']
        ls = subprocess.run(['ls', '-ldL', str(env.build)], capture_output=True, text=True, check=True).stdout
        assert attachment['text'] == '```\n$ ls -ldL %s\n%s\n```' % (env.build, ls.strip())
        os.chown(broken, 0, GID)
        os.chmod(broken, 0o2770)
        os.setxattr(broken, audit.DEFAULT, audit.build_acl(audit.Policy(GID).default_acl))
        log, _samples = env.run()
        assert log['webhook']['resolved'] == ['build:permissions'] and len(receiver.requests) == 2
        assert receiver.requests[1][2]['attachments'][0]['color'] == 'good'
        assert receiver.requests[1][2]['attachments'][0]['title'].startswith('Resolved: ')
    finally:
        receiver.close()


def test_webhook_retries_with_exponential_backoff(env):
    receiver = Receiver(statuses=[500, 503])
    try:
        env.webhook(receiver.url)
        os.rmdir(env.mod)
        log, samples = env.run()
        assert log['webhook']['sent'] is True and len(receiver.requests) == 3
        assert env.sleeps == [2.0, 4.0]
        assert sample(samples, 'go_cache_webhook_failures_total') == 0
    finally:
        receiver.close()


def test_an_undelivered_message_is_sent_at_the_next_run(env):
    receiver = Receiver(statuses=[500, 500, 500, 500])
    try:
        env.webhook(receiver.url)
        os.rmdir(env.mod)
        log, samples = env.run()
        assert log['webhook'] == {'sent': False, 'error': 'HTTP 500', 'new': ['mod:missing'], 'resolved': []}
        assert sample(samples, 'go_cache_webhook_failures_total') == 1
        log, samples = env.run()
        assert log['webhook']['sent'] is True and len(receiver.requests) == 5
        assert sample(samples, 'go_cache_webhook_failures_total') == 1
    finally:
        receiver.close()


def test_a_client_error_is_not_retried(env):
    receiver = Receiver(statuses=[404])
    try:
        env.webhook(receiver.url)
        os.rmdir(env.mod)
        log, _samples = env.run()
        assert log['webhook']['error'] == 'HTTP 404' and len(receiver.requests) == 1 and env.sleeps == []
    finally:
        receiver.close()


def test_an_unreachable_webhook_does_not_fail_the_run(env):
    env.webhook('http://127.0.0.1:9/hook')
    env.config['webhook'].update(retries=1, timeout_seconds=1)
    os.rmdir(env.mod)
    log, samples = env.run()
    assert log['webhook']['sent'] is False and 'refused' in log['webhook']['error'].lower()
    assert env.metrics.exists()


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The program installed as the role installs it: the collection's go_cache_audit.py beside it."""
    program_dir = tmp_path_factory.mktemp('program')
    shutil.copy(PROGRAM, program_dir / PROGRAM.name)
    shutil.copy(ROOT / 'plugins/module_utils/go_cache_audit.py', program_dir / 'go_cache_audit.py')
    return program_dir / PROGRAM.name


@pytest.fixture
def run_program(installed):
    def run(*args):
        return subprocess.run([sys.executable, str(installed), *args], capture_output=True, text=True, check=False)
    return run


def test_exit_status_zero_whatever_it_finds(env, run_program):
    os.chmod(env.build, 0o777)
    proc = run_program('--config', env.write_config())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, 'exactly one log line'
    log = json.loads(lines[0])
    assert log['event'] == 'go-cache-health' and log['conditions'] == ['build:permissions']


def test_exit_status_one_on_its_own_errors(env, tmp_path, run_program):
    proc = run_program('--config', str(tmp_path / 'missing.json'))
    assert proc.returncode == 1 and 'cannot read the configuration' in json.loads(proc.stderr)['error']
    env.config['metrics_file'] = str(tmp_path / 'health.json/go_cache.prom')  # below a file
    proc = run_program('--config', env.write_config())
    assert proc.returncode == 1 and 'cannot write' in json.loads(proc.stderr)['error']
    env.config['metrics_file'] = str(env.metrics)
    url_file = tmp_path / 'webhook.url'
    url_file.write_text('file:///etc/shadow\n')
    env.config['webhook']['url_file'] = str(url_file)
    proc = run_program('--config', env.write_config())
    assert proc.returncode == 1 and 'does not start with http:// or https://' in proc.stderr
    assert 'shadow' not in proc.stderr, 'the URL is a secret'


def test_dry_run_from_the_command_line_prints_the_metrics(env, run_program):
    proc = run_program('--config', env.write_config(), '--dry-run')
    assert proc.returncode == 0
    assert '# TYPE go_cache_bytes gauge' in proc.stdout and not env.metrics.exists()
