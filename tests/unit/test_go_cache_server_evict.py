"""The go-cache-server-evict program against a temporary store and access log: counters, LRU, eviction, metrics."""

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import pytest

from .conftest import ROOT

PROGRAM = ROOT / 'roles/go_cache_server/files/go_cache_server_evict.py'
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')
KIB = 1024
NOW = time.time()
DAY = 86400


def load():
    spec = importlib.util.spec_from_file_location('go_cache_server_evict', PROGRAM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


evict = load()


def digest(n):
    return hashlib.sha256(b'object %d' % n).hexdigest()


def line(method='GET', status=200, path=None, *, when=None, sent=0, length=150):
    when = NOW - 60 if when is None else when
    return '%.3f %s %s %d %d %s\n' % (when, method, status, sent, length, path or '/cas/%s' % digest(0))


def parse(text):
    samples = {}
    for row in text.splitlines():
        if row.startswith('#'):
            continue
        match = SAMPLE.match(row)
        assert match, 'not an exposition-format sample: %r' % row
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group('labels') or ''))
        key = (match.group('name'), tuple(sorted(labels.items())))
        assert key not in samples, 'a sample twice: %r' % row
        samples[key] = float(match.group('value'))
    return samples


def sample(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def tree(path, atimes=False):
    """{relative path: (mode, size, mtime_ns[, atime_ns])} of everything under path, symlinks not followed.
    With atimes, the atime of each regular file (reading a directory or the log moves theirs)."""
    found = {}
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            found[os.path.relpath(os.path.join(top, name), path)] = (
                (st.st_mode, st.st_size, st.st_mtime_ns) + ((st.st_atime_ns,) if atimes and name in files else ()))
    return found


@pytest.fixture
def env(tmp_path):
    store = tmp_path / 'store'
    for sub in ('ac', 'cas', '.tmp'):
        (store / sub).mkdir(parents=True)
    (tmp_path / 'log').mkdir()
    config = {
        'store': str(store), 'max_bytes': 0, 'low_water_bytes': 0,
        'access_log': str(tmp_path / 'log/cache.access.log'),
        'state_file': str(tmp_path / 'state/state.json'),
        'metrics_file': str(tmp_path / 'metrics/go_cache_server.prom'),
    }
    config_path = tmp_path / 'evict.json'

    class Env:
        root = tmp_path
        log = tmp_path / 'log/cache.access.log'
        state = tmp_path / 'state/state.json'
        metrics = tmp_path / 'metrics/go_cache_server.prom'

        def __init__(self):
            self.store, self.config = store, config

        def write_config(self):
            config_path.write_text(json.dumps(self.config))
            return str(config_path)

        def append(self, *lines, log=None):
            with open(log or self.log, 'a') as out:
                out.write(''.join(lines))

        def obj(self, kind, n, size=4 * KIB, age_days=10.0):
            """An object <store>/<kind>/<64 hex> with real blocks and an old mtime."""
            path = store / kind / digest(n)
            path.write_bytes(b'\1' * size)
            when = NOW - age_days * DAY
            os.utime(path, (when, when))
            return path

        def run(self, **kwargs):
            log, text, _plan = evict.run(evict.load_config(self.write_config()), now=NOW, **kwargs)
            return log, parse(text)

    return Env()


def blocks(*paths):
    return sum(os.lstat(p).st_blocks * 512 for p in paths)


# ---- reading the access log --------------------------------------------------------------

def test_the_second_run_reads_only_the_new_lines(env):
    env.append(line(), line(status=404), line('PUT', 201, length=5000))
    log, samples = env.run()
    assert log['lines_read'] == 3
    assert sample(samples, 'go_cache_server_requests_total', method='GET', code='200') == 1
    env.append(line(), line('HEAD', 200))
    log, samples = env.run()
    assert log['lines_read'] == 2
    assert sample(samples, 'go_cache_server_requests_total', method='GET', code='200') == 2
    assert sample(samples, 'go_cache_server_requests_total', method='HEAD', code='200') == 1
    assert sample(samples, 'go_cache_server_requests_total', method='PUT', code='201') == 1
    assert sample(samples, 'go_cache_server_hits_total') == 3
    log, samples = env.run()
    assert log['lines_read'] == 0 and sample(samples, 'go_cache_server_hits_total') == 3
    state = json.loads(env.state.read_text())
    assert state['log'] == {'inode': os.stat(env.log).st_ino, 'offset': os.path.getsize(env.log)}


def test_an_incomplete_last_line_is_left_for_the_next_run(env):
    whole = line('PUT', 201, length=777)
    env.append(line(status=404), whole[:20])
    log, samples = env.run()
    assert log['lines_read'] == 1 and log['lines_skipped'] == 0
    assert json.loads(env.state.read_text())['log']['offset'] == len(line(status=404))
    assert sample(samples, 'go_cache_server_puts_total') == 0
    env.append(whole[20:])
    log, samples = env.run()
    assert log['lines_read'] == 1 and log['lines_skipped'] == 0
    assert sample(samples, 'go_cache_server_puts_total') == 1
    assert sample(samples, 'go_cache_server_received_bytes_total') == 777


def test_after_rotation_the_rest_of_the_rotated_log_then_the_new_one(env):
    env.append(line())
    env.run()
    env.append(line(status=404), line(status=404), '1764560000.1')  # before the rotation, and a last line cut
    os.rename(env.log, str(env.log) + '.1')                         # short that nginx will never finish
    env.append(line('PUT', 201), line('PUT', 204), line('PUT', 201))
    log, samples = env.run()
    assert log['log']['rotated'] and log['lines_read'] == 6 and log['lines_skipped'] == 1
    assert sample(samples, 'go_cache_server_misses_total') == 2
    assert sample(samples, 'go_cache_server_puts_total') == 3
    assert json.loads(env.state.read_text())['log']['inode'] == os.stat(env.log).st_ino
    env.append(line())
    log, samples = env.run()
    assert not log['log']['rotated'] and log['lines_read'] == 1
    assert sample(samples, 'go_cache_server_hits_total') == 2


def test_a_rotated_log_not_yet_recreated_stays_the_position(env):
    env.append(line())
    env.run()
    rotated = str(env.log) + '.1'
    os.rename(env.log, rotated)
    env.append(line(status=404), line(status=404)[:10], log=rotated)  # nginx still writes to it
    log, samples = env.run()
    assert log['log'] == {'rotated': True, 'truncated': False, 'missing': True}
    assert log['lines_read'] == 1 and log['lines_skipped'] == 0
    env.append(line(status=404)[10:], log=rotated)  # nginx finishes its line, then reopens its log
    env.append(line('PUT', 201))
    log, samples = env.run()
    assert log['lines_read'] == 2 and log['lines_skipped'] == 0
    assert sample(samples, 'go_cache_server_misses_total') == 2
    assert sample(samples, 'go_cache_server_puts_total') == 1


def test_a_rotated_log_that_is_not_the_saved_one_is_not_read(env):
    env.append(line())
    env.run()
    os.rename(env.log, str(env.log) + '.2')  # two rotations between runs: the rest is lost
    env.append(line(), log=str(env.log) + '.1')
    env.append(line(status=404))
    log, samples = env.run()
    assert not log['log']['rotated'] and log['lines_read'] == 1
    assert sample(samples, 'go_cache_server_hits_total') == 1


def test_a_truncated_log_is_read_from_its_start(env):
    env.append(*[line()] * 5)
    env.run()
    inode = os.stat(env.log).st_ino
    env.log.write_text(line('PUT', 201))
    assert os.stat(env.log).st_ino == inode
    log, samples = env.run()
    assert log['log']['truncated'] and log['lines_read'] == 1
    assert sample(samples, 'go_cache_server_puts_total') == 1
    assert sample(samples, 'go_cache_server_hits_total') == 5


def test_a_missing_log_is_not_an_error(env):
    log, samples = env.run()
    assert log['log']['missing'] and log['lines_read'] == 0
    assert sample(samples, 'go_cache_server_hits_total') == 0
    assert 'go_cache_server_requests_total' not in {name for name, _labels in samples}


def test_garbage_lines_are_skipped_and_counted(env):
    garbage = ['', 'hello world', '\x00\xff binary', 'nan GET 200 1 1 /ac/x', '1764560000.123 GET 200 -1 5 /x',
               '1764560000.123 GET 200 5 5', '1764560000.123  GET 200 5 5 /x', 'x' * 200000]
    env.append(line(), *[g + '\n' for g in garbage], line(status=404))
    log, samples = env.run()
    assert log['lines_read'] == 2 + len(garbage) and log['lines_skipped'] == len(garbage)
    assert sample(samples, 'go_cache_server_log_skipped_lines_total') == len(garbage)
    assert sample(samples, 'go_cache_server_hits_total') == 1 and sample(samples, 'go_cache_server_misses_total') == 1
    assert sum(v for (name, _l), v in samples.items() if name == 'go_cache_server_requests_total') == 2


def test_what_each_counter_counts(env):
    ac, cas = '/ac/%s' % digest(1), '/cas/%s' % digest(2)
    env.append(
        line('GET', 200, cas, sent=5000), line('HEAD', 200, ac), line('GET', 200, '/cas/notahash', sent=10),
        line('GET', 200, cas.upper()), line('GET', 404, ac), line('HEAD', 404, cas), line('GET', 404, '/'),
        line('PUT', 201, cas, length=9000), line('PUT', 204, ac, length=300), line('PUT', 500, ac, length=40),
        line('PUT', 401, ac, length=50), line('GET', 403, cas), line('DELETE', 405, cas),
        line('PROPFIND', 401, '/'), line('GET', 'abc', cas), line('GET', 200, cas + '/x'),
        line('GET', 200, '/ac/%s /x' % digest(3)),
    )
    log, samples = env.run()
    assert log['lines_skipped'] == 0 and log['lines_read'] == 17
    assert sample(samples, 'go_cache_server_hits_total') == 2
    assert sample(samples, 'go_cache_server_misses_total') == 2
    assert sample(samples, 'go_cache_server_puts_total') == 2
    assert sample(samples, 'go_cache_server_unauthorized_total') == 3
    assert sample(samples, 'go_cache_server_sent_bytes_total') == 5010
    assert sample(samples, 'go_cache_server_received_bytes_total') == 9390
    requests = dict((dict(labels)['method'] + ' ' + dict(labels)['code'], v) for (name, labels), v in samples.items()
                    if name == 'go_cache_server_requests_total')
    assert requests == {'GET 200': 5, 'HEAD 200': 1, 'GET 404': 2, 'HEAD 404': 1, 'PUT 201': 1, 'PUT 204': 1,
                        'PUT 500': 1, 'PUT 401': 1, 'GET 403': 1, 'other 405': 1, 'other 401': 1, 'GET other': 1}


def test_hit_ratio(env):
    _log, samples = env.run()
    assert sample(samples, 'go_cache_server_hit_ratio') == 0
    env.append(line(), line('HEAD', 200), line(), line(status=404), line('PUT', 201))
    _log, samples = env.run()
    assert sample(samples, 'go_cache_server_hit_ratio') == 0.75
    env.append(line(status=404), line(status=404), line(status=404))
    _log, samples = env.run()
    assert sample(samples, 'go_cache_server_hit_ratio') == pytest.approx(3 / 7, abs=1e-6)


# ---- LRU and eviction --------------------------------------------------------------------

def test_hits_keep_objects_and_eviction_deletes_the_least_recently_used_down_to_low_water(env):
    old = [env.obj('cas', n, age_days=30 - n) for n in range(6)]  # 30 .. 25 days old
    read = [env.obj('cas', 10, age_days=40), env.obj('ac', 11, age_days=40)]
    newer = [env.obj('ac', n, age_days=1) for n in (20, 21)]
    size = blocks(old[0])
    hit_at = NOW - 3600.5
    env.append(line('GET', 200, '/cas/%s' % digest(10), when=hit_at - 100), line('GET', 200, '/cas/%s' % digest(10),
               when=hit_at), line('HEAD', 200, '/ac/%s' % digest(11), when=hit_at - 200),
               line('GET', 200, '/ac/%s' % digest(11), when=NOW - 50 * DAY),  # older than its mtime: no move
               line('GET', 200, '/cas/%s' % digest(99), when=hit_at))  # an object that is not there
    env.config.update(max_bytes=7 * size, low_water_bytes=5 * size)
    log, samples = env.run()
    assert log['touched'] == 2
    assert os.stat(read[0]).st_mtime_ns == os.stat(read[0]).st_atime_ns == int(round(hit_at * 1000)) * 10 ** 6
    assert abs(os.stat(read[1]).st_mtime - (hit_at - 200)) < 0.01
    assert [p.exists() for p in old] == [False, False, False, False, False, True]
    assert all(p.exists() for p in read + newer)
    assert log['evicted_objects'] == 5 and log['evicted_bytes'] == 5 * size and log['reached_low_water']
    assert log['store_bytes'] == 5 * size == blocks(old[5], *read, *newer)
    assert sample(samples, 'go_cache_server_evicted_objects_total') == 5
    assert sample(samples, 'go_cache_server_evicted_bytes_total') == 5 * size
    assert sample(samples, 'go_cache_server_bytes', kind='cas') == 2 * size
    assert sample(samples, 'go_cache_server_bytes', kind='ac') == 3 * size
    assert sample(samples, 'go_cache_server_objects', kind='cas') == 2
    assert sample(samples, 'go_cache_server_objects', kind='ac') == 3
    assert sample(samples, 'go_cache_server_max_bytes') == 7 * size
    log, samples = env.run()
    assert log['evicted_objects'] == 0 and log['reached_low_water'] is None
    assert sample(samples, 'go_cache_server_evicted_objects_total') == 5, 'the counter survives runs'


def test_the_time_of_a_hit_moves_forward_only_and_never_past_now(env):
    future, recent = env.obj('cas', 1), env.obj('cas', 2, age_days=1)
    before = os.stat(recent).st_mtime_ns
    env.append(line(path='/cas/%s' % digest(1), when=NOW + 10 * 365 * DAY),
               line(path='/cas/%s' % digest(2), when=NOW - 5 * DAY))  # before the object's mtime
    log, _samples = env.run()
    assert log['touched'] == 1
    assert abs(os.stat(future).st_mtime - NOW) < 0.01
    assert os.stat(recent).st_mtime_ns == before


def test_an_object_dated_in_the_future_counts_as_the_least_recently_used(env):
    # nginx dates an upload by the Date header of its PUT: a far-future one must not keep it forever.
    objs = [env.obj('cas', n, age_days=age) for n, age in enumerate((10, 5, -30, 1))]
    env.config.update(max_bytes=3 * blocks(objs[0]), low_water_bytes=2 * blocks(objs[0]))
    log, _samples = env.run()
    assert [p.exists() for p in objs] == [False, True, False, True]
    assert log['evicted_objects'] == 2


def test_a_symlink_is_neither_followed_nor_counted_nor_deleted_through(env, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    target = outside / digest(1)
    target.write_bytes(b'\1' * 64 * KIB)
    os.utime(target, (NOW - 100 * DAY, NOW - 100 * DAY))
    before = os.stat(target)
    link = env.store / 'ac' / digest(1)
    link.symlink_to(target)
    (env.store / 'cas' / digest(2)).symlink_to(outside)  # a symlink to a directory
    kept = env.obj('cas', 3, age_days=1)
    env.append(line(path='/ac/%s' % digest(1)))
    env.config.update(max_bytes=1, low_water_bytes=0)
    log, samples = env.run()
    assert log['touched'] == 0 and log['evicted_objects'] == 1 and not kept.exists()
    assert link.is_symlink() and target.exists()
    assert os.stat(target).st_mtime_ns == before.st_mtime_ns, 'the hit did not reach through the symlink'
    assert sample(samples, 'go_cache_server_objects', kind='ac') == 0
    assert sample(samples, 'go_cache_server_bytes', kind='ac') == 0


def test_a_symlinked_kind_directory_is_not_followed(env, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    victim = outside / digest(1)
    victim.write_bytes(b'\1' * 64 * KIB)
    os.utime(victim, (NOW - 100 * DAY, NOW - 100 * DAY))
    os.rmdir(env.store / 'ac')
    (env.store / 'ac').symlink_to(outside)
    env.append(line(path='/ac/%s' % digest(1)))
    env.config.update(max_bytes=1, low_water_bytes=0)
    log, samples = env.run()
    assert victim.exists() and abs(os.stat(victim).st_mtime - (NOW - 100 * DAY)) < 1
    assert log['touched'] == 0 and sample(samples, 'go_cache_server_objects', kind='ac') == 0


def test_max_bytes_zero_never_evicts(env):
    objs = [env.obj('cas', n, size=64 * KIB, age_days=400) for n in range(4)]
    env.config.update(max_bytes=0, low_water_bytes=0)
    log, samples = env.run()
    assert all(p.exists() for p in objs)
    assert log['evicted_objects'] == 0 and log['reached_low_water'] is None
    assert sample(samples, 'go_cache_server_max_bytes') == 0
    assert sample(samples, 'go_cache_server_bytes', kind='cas') == blocks(*objs)


def test_names_that_are_not_objects_and_the_tmp_directory_are_left_alone(env):
    temporary = env.store / '.tmp' / '0000000001'
    temporary.write_bytes(b'\1' * 64 * KIB)
    strays = [env.store / 'cas' / (digest(5) + '.part'), env.store / 'cas' / digest(6).upper(),
              env.store / 'ac' / 'README']
    for path in [temporary, *strays]:
        path.write_bytes(b'\1' * 8 * KIB)
        os.utime(path, (0, 0))
    (env.store / 'cas' / digest(7)).mkdir()
    obj = env.obj('cas', 1, age_days=1)
    env.config.update(max_bytes=1, low_water_bytes=0)
    log, samples = env.run()
    assert not obj.exists() and log['evicted_objects'] == 1 and log['store_objects'] == 0
    assert temporary.exists() and all(p.exists() for p in strays) and (env.store / 'cas' / digest(7)).is_dir()
    assert sample(samples, 'go_cache_server_bytes', kind='cas') == 0


def test_an_object_replaced_or_used_since_the_walk_is_not_evicted(env, monkeypatch):
    objs = [env.obj('cas', n, age_days=10 - n) for n in range(3)]
    env.config.update(max_bytes=1, low_water_bytes=0)
    real = evict.oldest

    def then_replaced(*args):
        found = real(*args)
        fresh = env.root / 'fresh'
        fresh.write_bytes(b'\2' * 4 * KIB)
        os.utime(fresh, (0, 0))  # dated by the Date header of its PUT: older than the walk saw
        os.rename(fresh, objs[1])  # nginx renames a new upload into place
        os.utime(objs[2], (NOW, NOW))  # used since the walk
        return found

    monkeypatch.setattr(evict, 'oldest', then_replaced)
    log, _samples = env.run()
    assert [p.exists() for p in objs] == [False, True, True]
    assert log['evicted_objects'] == 1 and not log['reached_low_water']


def test_a_missing_store_is_empty(env):
    env.config['store'] = str(env.root / 'no-such-store')
    env.append(line())
    log, samples = env.run()
    assert log['store_missing'] and log['store_bytes'] == 0
    assert sample(samples, 'go_cache_server_objects', kind='cas') == 0


# ---- metrics, state and the command line ---------------------------------------------------

def test_metrics_file_format(env):
    env.append(line(), line(status=404), line('PUT', 201))
    env.obj('ac', 1)
    env.run()
    text = env.metrics.read_text()
    samples = parse(text)
    for name, kind, _help in evict.METRICS:
        assert text.count('# HELP %s ' % name) == 1, name
        assert text.count('# TYPE %s %s\n' % (name, kind)) == 1, name
        assert any(sample_name == name for sample_name, _labels in samples), name
    assert {name for name, _labels in samples} == {name for name, _kind, _help in evict.METRICS}
    assert len({name for name, _kind, _help in evict.METRICS}) == len(evict.METRICS)
    for name, kind, _help in evict.METRICS:
        assert name.endswith('_total') == (kind == 'counter'), name
    assert abs(sample(samples, 'go_cache_server_last_run_timestamp_seconds') - NOW) < 1
    assert sample(samples, 'go_cache_server_run_duration_seconds') >= 0
    assert sorted(os.listdir(env.metrics.parent)) == ['go_cache_server.prom'], 'a temporary file was left behind'
    assert sorted(os.listdir(env.state.parent)) == ['state.json']
    assert os.stat(env.metrics).st_mode & 0o777 == 0o644
    assert os.stat(env.state).st_mode & 0o777 == 0o600


def test_dry_run_changes_nothing_on_disk(env, capsys):
    objs = [env.obj('cas', n, age_days=10 - n) for n in range(4)]
    env.append(line(path='/cas/%s' % digest(0)), line('PUT', 201))
    env.config.update(max_bytes=3 * blocks(objs[0]), low_water_bytes=2 * blocks(objs[0]))
    config = env.write_config()
    before, store = tree(env.root), tree(env.store, atimes=True)
    assert evict.main([config, '--dry-run']) == 0
    out = capsys.readouterr().out.splitlines()
    assert tree(env.root) == before and tree(env.store, atimes=True) == store
    assert not env.state.exists() and not env.metrics.exists()
    log = json.loads(out[0])
    assert log['dry_run'] and log['touched'] == 1 and log['evicted_objects'] == 2
    # objs[0] is the oldest but was just read: the plan takes its hit into account.
    assert out[1:3] == ['would evict %s (%d bytes, last used %s)' % (p, blocks(p),
                                                                     evict.utc(os.stat(p).st_mtime_ns))
                        for p in objs[1:3]]
    assert '# TYPE go_cache_server_hits_total counter' in out
    assert 'go_cache_server_hits_total 1' in out


def test_a_damaged_state_file_restarts_the_counters(env):
    env.append(line(), line())
    env.run()
    env.append(line())
    for damage in ('{not json', '[]', '{"log": {"inode": "x", "offset": 1}, "counters": {}, "requests": {}}',
                   json.dumps({'log': {}, 'counters': dict.fromkeys(evict.COUNTERS, 1),
                               'requests': {'GET 200': -4}})):
        env.state.write_text(damage)
        log, samples = env.run()
        assert log['lines_read'] == 3, 'the position is lost too: the whole log again'
        assert sample(samples, 'go_cache_server_hits_total') == 3
        assert sample(samples, 'go_cache_server_requests_total', method='GET', code='200') == 3
    state = json.loads(env.state.read_text())
    assert state['counters']['hits'] == 3 and state['log']['offset'] == os.path.getsize(env.log)


def test_low_water_defaults_to_80_percent(env):
    del env.config['low_water_bytes']
    env.config['max_bytes'] = 1000
    assert evict.load_config(env.write_config())['low_water_bytes'] == 800


@pytest.mark.parametrize('change, error', [
    ({'store': None}, "has no 'store'"),
    ({'max_bytes': None}, "has no 'max_bytes'"),
    ({'state_file': None}, "has no 'state_file'"),
    ({'access_log': 'relative.log'}, 'access_log .* is not an absolute path'),
    ({'max_bytes': -1}, 'max_bytes -1 .* is not a whole number'),
    ({'max_bytes': '20G'}, 'max_bytes .* is not a whole number'),
    ({'max_bytes': 100, 'low_water_bytes': 200}, 'low_water_bytes 200 .* is above max_bytes 100'),
    ({'metrics_file': '{root}/evict.json/x.prom'}, 'cannot write'),  # below a file
    ({'state_file': '{root}/evict.json/state.json'}, 'cannot create or open the state directory'),
], ids=['no_store', 'no_max_bytes', 'no_state_file', 'relative_log', 'negative', 'string', 'low_above_max',
        'metrics_not_writable', 'state_not_writable'])
def test_its_own_errors_exit_1(env, capsys, change, error):
    for key, value in change.items():
        if value is None:
            del env.config[key]
        else:
            env.config[key] = value.format(root=env.root) if isinstance(value, str) else value
    assert evict.main([env.write_config()]) == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert re.search(error, json.loads(captured.err)['error'])


def test_an_unreadable_configuration_exits_1(env, capsys):
    assert evict.main([str(env.root / 'missing.json')]) == 1
    assert 'cannot read the configuration' in json.loads(capsys.readouterr().err)['error']
    (env.root / 'bad.json').write_text('{"store": ')
    assert evict.main([str(env.root / 'bad.json')]) == 1
    assert 'cannot read the configuration' in json.loads(capsys.readouterr().err)['error']


def test_a_second_run_at_the_same_time_is_refused(env, capsys):
    env.state.parent.mkdir()
    holder = evict.lock(str(env.state))
    try:
        assert evict.main([env.write_config()]) == 1
        assert 'another run holds the lock' in json.loads(capsys.readouterr().err)['error']
    finally:
        os.close(holder)
    assert evict.main([env.write_config()]) == 0


def test_the_command_line_logs_one_json_line(env):
    env.append(line(), 'garbage\n')
    proc = subprocess.run([sys.executable, str(PROGRAM), env.write_config()], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    log = json.loads(lines[0])
    assert log['event'] == 'go-cache-server-evict' and log['lines_read'] == 2 and log['lines_skipped'] == 1
    for key in ('touched', 'evicted_objects', 'evicted_bytes', 'store_bytes', 'duration_seconds'):
        assert key in log, key
    assert env.metrics.exists()
