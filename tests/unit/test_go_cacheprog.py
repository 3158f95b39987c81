"""go_cache's GOCACHEPROG helper (roles/go_cache/files/go_cacheprog.py), driven the way go drives it.

The requests are written as cmd/go/internal/cache/prog.go writes them: each Request (cacheprog.go) JSON
encoded on a line of its own and followed by an empty line, a put's body after it as a line holding a
base64 JSON string. The server is tests/cacheprog_server.py on 127.0.0.1.
"""

import base64
import datetime
import hashlib
import importlib.util
import json
import os
import queue
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cacheprog_server import CacheServer
from tests.unit.conftest import ROOT

HELPER = ROOT / 'roles/go_cache/files/go_cacheprog.py'
TOKEN = 'sekrit-token-7f3a9c'  # noqa: S105 - a test token, looked for where it must not appear


def load_helper():
    spec = importlib.util.spec_from_file_location('go_cacheprog', HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def action(n):
    return hashlib.sha256(b'action %d' % n).digest()


def b64(raw):
    return base64.b64encode(raw).decode()


class Go:
    """One helper process and the go side of its protocol."""

    def __init__(self, tmp_path, name='go', **config):
        self.dir = tmp_path / name
        config.setdefault('dir', str(self.dir))
        config.setdefault('stats_file', str(tmp_path / ('%s-stats.json' % name)))
        self.stats_file = config['stats_file']
        self.config_file = tmp_path / ('%s.json' % name)
        self.config_file.write_text(json.dumps(config))
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, str(HELPER), str(self.config_file)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.answers = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.next_id = 0
        self.hello = self.answer()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(json.loads(line))
        self.answers.put(None)

    def answer(self, timeout=10):
        return self.answers.get(timeout=timeout)

    def send(self, request, body=None):
        self.next_id += 1
        request = dict({'ID': self.next_id}, **request)
        data = json.dumps(request, separators=(',', ':')).encode() + b'\n\n'
        if body:
            data += b'"' + base64.b64encode(body) + b'"\n'
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return self.next_id

    def get(self, action_id):
        return self.send({'Command': 'get', 'ActionID': b64(action_id)})

    def put(self, action_id, body):
        request = {'Command': 'put', 'ActionID': b64(action_id), 'OutputID': b64(hashlib.sha256(body).digest())}
        if body:
            request['BodySize'] = len(body)
        return self.send(request, body)

    def answers_for(self, ids):
        got = {}
        while len(got) < len(ids):
            response = self.answer()
            assert response is not None, 'the helper exited early: %s' % self.proc.stderr.read().decode()
            got[response['ID']] = response
        assert sorted(got) == sorted(ids)
        return got

    def call(self, method, *args):
        request_id = getattr(self, method)(*args)
        return self.answers_for([request_id])[request_id]

    def close(self):
        close_id = self.send({'Command': 'close'})
        response = self.answer()
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=20)
        self.stderr = self.proc.stderr.read().decode()
        self.elapsed = time.monotonic() - self.started
        assert response == {'ID': close_id}
        assert self.answer() is None  # stdout closed after the close response
        return rc

    def stats(self):
        with open(self.stats_file) as f:
            return json.load(f)


@pytest.fixture
def server():
    with CacheServer(token=TOKEN) as running:
        yield running


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / 'token'
    path.write_text(TOKEN + '\n')
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# The protocol


def test_announces_commands_then_miss_put_hit_and_close(tmp_path):
    go = Go(tmp_path)
    assert go.hello == {'ID': 0, 'KnownCommands': ['get', 'put', 'close']}
    assert go.call('get', action(1)) == {'ID': 1, 'Miss': True}
    body = b'compiled package\n' * 100
    put = go.call('put', action(1), body)
    assert set(put) == {'ID', 'DiskPath'}
    hit = go.call('get', action(1))
    assert base64.b64decode(hit['OutputID']) == hashlib.sha256(body).digest()
    assert hit['Size'] == len(body)
    assert hit['DiskPath'] == put['DiskPath']
    assert os.path.isabs(hit['DiskPath'])
    with open(hit['DiskPath'], 'rb') as f:
        assert f.read() == body
    put_time = datetime.datetime.strptime(hit['Time'][:26] + 'Z', '%Y-%m-%dT%H:%M:%S.%fZ')
    assert abs(put_time - datetime.datetime.utcnow()).total_seconds() < 60
    assert hit['Time'].endswith('Z') and len(hit['Time']) == len('2006-01-02T15:04:05.000000000Z')
    assert go.close() == 0
    assert go.stderr == ''
    assert go.stats()['local_hits'] == 1
    assert go.stats()['misses'] == 1
    assert go.stats()['puts'] == 1


def test_put_with_body_size_zero_has_no_body_line(tmp_path):
    go = Go(tmp_path)
    put = go.call('put', action(2), b'')  # no BodySize, no body line: the next request follows at once
    hit = go.call('get', action(2))
    assert hit['DiskPath'] == put['DiskPath']
    assert 'Size' not in hit and 'Miss' not in hit
    assert base64.b64decode(hit['OutputID']) == hashlib.sha256(b'').digest()
    assert os.path.getsize(hit['DiskPath']) == 0
    assert go.close() == 0


def test_put_whose_body_does_not_match_its_output_id_is_an_error(tmp_path):
    go = Go(tmp_path)
    request_id = go.send({'Command': 'put', 'ActionID': b64(action(3)), 'OutputID': b64(b'\0' * 32),
                          'BodySize': 3}, b'abc')
    assert 'Err' in go.answers_for([request_id])[request_id]
    assert go.call('get', action(3)) == {'ID': 2, 'Miss': True}
    assert go.close() == 0


def test_answers_come_out_of_order_a_slow_remote_get_does_not_hold_a_local_hit(tmp_path):
    slow = action(10).hex()
    with CacheServer(delay=lambda path: 3.0 if path == '/ac/' + slow else 0) as server:
        go = Go(tmp_path, url=server.url, timeout=5)
        go.call('put', action(11), b'local')
        slow_id = go.get(action(10))
        fast_id = go.get(action(11))
        first, second = go.answer(), go.answer()
        assert (first['ID'], second['ID']) == (fast_id, slow_id)
        assert 'DiskPath' in first
        assert second == {'ID': slow_id, 'Miss': True}
        assert go.close() == 0


def test_local_tier_layout_and_modes(tmp_path):
    go = Go(tmp_path)
    put = go.call('put', action(4), b'x' * 10)
    assert go.close() == 0
    output = hashlib.sha256(b'x' * 10).hexdigest()
    assert put['DiskPath'] == str(go.dir / 'o' / output[:2] / output)
    entry = go.dir / 'a' / action(4).hex()[:2] / action(4).hex()
    written = json.loads(entry.read_text())
    assert written == {'v': 1, 'action': action(4).hex(), 'output': output, 'size': 10, 'time_ns': written['time_ns']}
    for path in (entry, go.dir / 'o' / output[:2] / output, go.dir / 'a', entry.parent):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o060 == 0o060, (path, oct(mode))
        assert mode & 0o002 == 0, (path, oct(mode))
    leftovers = [p for p in go.dir.rglob('*') if '.tmp-' in p.name or p.name.startswith('.fetch-')]
    assert leftovers == []


def test_an_object_go_moved_away_is_a_miss_not_a_dangling_disk_path(tmp_path):
    go = Go(tmp_path)
    put = go.call('put', action(5), b'linked binary')
    os.rename(put['DiskPath'], str(tmp_path / 'installed'))  # what go's moveOrCopyFile may do
    assert go.call('get', action(5))['Miss'] is True
    assert go.close() == 0


# The server


def test_two_hosts_share_through_the_server(tmp_path, server, token_file):
    bodies = {n: os.urandom(1000 * n) for n in range(1, 4)}
    writer = Go(tmp_path, 'a', url=server.url, token_file=token_file)
    for n, body in bodies.items():
        writer.call('put', action(n), body)
    assert writer.close() == 0
    assert len(server.keys('ac')) == 3 and len(server.keys('cas')) == 3
    assert writer.stats()['uploads'] == 3
    assert writer.stats()['bytes_uploaded'] == sum(map(len, bodies.values()))
    ac = json.loads(server.store['/ac/' + action(1).hex()])
    assert ac['output'] == hashlib.sha256(bodies[1]).hexdigest() and ac['size'] == 1000

    reader = Go(tmp_path, 'b', url=server.url, token_file=token_file)
    for n, body in bodies.items():
        hit = reader.call('get', action(n))
        assert str(tmp_path / 'b') in hit['DiskPath']
        with open(hit['DiskPath'], 'rb') as f:
            assert f.read() == body
    again = reader.call('get', action(1))  # now in b's local tier
    assert again['DiskPath'].startswith(str(tmp_path / 'b'))
    assert reader.close() == 0
    stats = reader.stats()
    assert (stats['remote_hits'], stats['local_hits'], stats['misses']) == (3, 1, 0)
    assert stats['bytes_fetched'] == sum(map(len, bodies.values()))
    assert all(request[2] == 'Bearer ' + TOKEN for request in server.requests)


def test_server_down_gives_misses_fast_and_opens_the_breaker(tmp_path):
    go = Go(tmp_path, url='http://127.0.0.1:%d' % free_port(), breaker_failures=3)
    ids = [go.get(action(n)) for n in range(20)]
    assert all(r.get('Miss') for r in go.answers_for(ids).values())
    go.call('put', action(1), b'still stored locally')
    assert 'DiskPath' in go.call('get', action(1))
    assert go.close() == 0
    # A refused connection fails at once: twenty gets and a put take well under the first timeout (5 s),
    # with room for a loaded machine.
    assert go.elapsed < 10
    assert go.stats()['breaker_opens'] == 1
    assert go.stderr.count('go-cacheprog') == 1 and 'failures in a row' in go.stderr


def test_slow_server_gives_misses_within_a_bounded_time(tmp_path):
    with CacheServer(delay=3.0) as server:
        go = Go(tmp_path, url=server.url, timeout=0.2, breaker_failures=2, concurrency=2, close_timeout=0.5)
        started = time.monotonic()
        ids = [go.get(action(n)) for n in range(10)]
        assert all(r.get('Miss') for r in go.answers_for(ids).values())
        go.call('put', action(1), b'x')
        assert go.close() == 0
        # Waiting for the server would take 15 s (ten gets of 3 s, two at a time): the timeouts and the
        # breaker answer in about 1 s; the bound leaves room for a loaded machine.
        assert time.monotonic() - started < 6
        assert go.stats()['misses'] == 10
        assert len(server.requests) <= 4  # the breaker stopped it after two timeouts (at most two in flight)


def test_corrupt_object_on_the_server_is_a_miss_and_counted(tmp_path, server):
    body = b'the real object'
    output = hashlib.sha256(body).hexdigest()
    server.store['/ac/' + action(1).hex()] = json.dumps(
        {'v': 1, 'action': action(1).hex(), 'output': output, 'size': len(body), 'time_ns': 1}).encode()
    server.store['/cas/' + output] = b'the evil object'  # same size, other content
    server.store['/ac/' + action(2).hex()] = b'not an entry'
    go = Go(tmp_path, url=server.url)
    assert go.call('get', action(1)).get('Miss') is True
    assert go.call('get', action(2)).get('Miss') is True
    assert go.close() == 0
    assert go.stats()['corrupt'] == 2
    assert list((go.dir / 'o').rglob('*' + output)) == []


def test_wrong_token_refuses_the_put_and_the_build_goes_on(tmp_path, server):
    wrong = tmp_path / 'wrong-token'
    wrong.write_text('wrong-' + TOKEN)
    go = Go(tmp_path, url=server.url, token_file=str(wrong), concurrency=1)
    for n in range(5):
        assert 'DiskPath' in go.call('put', action(n), b'body %d' % n)
    assert 'DiskPath' in go.call('get', action(1))
    assert go.close() == 0
    assert server.store == {}
    assert len([r for r in server.requests if r[0] == 'PUT']) == 1  # no PUT after the first 401
    assert 'refused an upload (HTTP 401)' in go.stderr
    assert go.stats()['upload_errors'] >= 1
    text = go.stderr + Path(go.stats_file).read_text() + go.config_file.read_text()
    assert TOKEN not in text


def test_read_only_never_puts(tmp_path, server, token_file):
    go = Go(tmp_path, url=server.url, token_file=token_file, read_only=True)
    go.call('put', action(1), b'mine only')
    assert go.call('get', action(2)).get('Miss') is True
    assert go.close() == 0
    assert server.store == {}
    assert [r[0] for r in server.requests] == ['GET']


def test_breaker_state_file_keeps_a_second_process_off_the_server(tmp_path, server, token_file):
    first = Go(tmp_path, 'shared', url='http://127.0.0.1:%d' % free_port(), breaker_failures=2,
               breaker_seconds=30, token_file=token_file)
    first.answers_for([first.get(action(n)) for n in range(4)])
    assert first.close() == 0
    state = json.loads((tmp_path / 'shared' / 'breaker.json').read_text())
    assert 25 < state['open_until'] - time.time() <= 30

    second = Go(tmp_path, 'shared', url=server.url, token_file=token_file)  # same host, same dir
    assert second.call('get', action(1)).get('Miss') is True
    second.call('put', action(1), b'x')
    assert second.close() == 0
    assert server.requests == []
    for text in (first.stderr, second.stderr, Path(first.stats_file).read_text()):
        assert TOKEN not in text


def test_bad_configuration_serves_the_local_tier_and_says_why_once(tmp_path, server):
    go = Go(tmp_path, url=server.url, timeout='soon')
    go.call('put', action(1), b'kept')
    assert 'DiskPath' in go.call('get', action(1))
    assert go.call('get', action(2)).get('Miss') is True
    assert go.close() == 0
    assert go.stderr.count('\n') == 1 and 'timeout must be a number' in go.stderr
    assert server.requests == []
    assert (tmp_path / 'go' / 'o').is_dir()


def test_unreadable_configuration_still_builds(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    proc = subprocess.run([sys.executable, str(HELPER), str(tmp_path / 'missing.json')],
                          input=b'{"ID":1,"Command":"get","ActionID":"%s"}\n\n{"ID":2,"Command":"close"}\n\n'
                          % b64(action(1)).encode(), capture_output=True, timeout=20, check=False,
                          env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / 'xdg')))
    assert proc.returncode == 0
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines == [{'ID': 0, 'KnownCommands': ['get', 'put', 'close']}, {'ID': 1, 'Miss': True}, {'ID': 2}]
    assert 'cannot read' in proc.stderr.decode() and proc.stderr.decode().count('\n') == 1


# Pieces, in-process


def test_time_is_go_rfc3339_in_utc():
    helper = load_helper()
    assert helper.rfc3339(1_700_000_000_123_456_789) == '2023-11-14T22:13:20.123456789Z'
    assert helper.rfc3339(0) == '1970-01-01T00:00:00.000000000Z'


def test_config_defaults_and_rejections(tmp_path):
    helper = load_helper()
    config = helper.parse_config({'dir': '/var/cache/go-cacheprog'})
    assert (config['url'], config['read_only'], config['timeout'], config['concurrency']) == ('', False, 5.0, 8)
    assert (config['breaker_failures'], config['breaker_seconds'], config['close_timeout']) == (5, 60.0, 10.0)
    for bad in ({}, {'dir': 'relative'}, {'dir': '/d', 'url': 'ftp://x'}, {'dir': '/d', 'concurrency': 0},
                {'dir': '/d', 'url': 'http://user:pw@host'}, {'dir': '/d', 'colour': 1}, {'dir': '/d', 'read_only': 1}):
        with pytest.raises(helper.ConfigError):
            helper.parse_config(bad)
    token = tmp_path / 't'
    token.write_text('')
    (tmp_path / 'c.json').write_text(json.dumps({'dir': str(tmp_path / 'd'), 'token_file': str(token)}))
    config, problem = helper.load_config(str(tmp_path / 'c.json'))
    assert 'no usable token' in problem and config['dir'] == str(tmp_path / 'd')


def test_stats_add_up_across_processes(tmp_path):
    helper = load_helper()
    path = str(tmp_path / 'stats.json')
    helper.add_stats(path, {'puts': 2, 'misses': 1})
    helper.add_stats(path, {'puts': 3})
    assert json.loads(Path(path).read_text()) == {'puts': 5, 'misses': 1, 'processes': 2}


# A tier shared by a group: what another member could leave there


def test_no_usable_directory_still_answers_from_a_scratch_tier(tmp_path, monkeypatch):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    monkeypatch.setenv('XDG_CACHE_HOME', str(blocker / 'cache'))
    go = Go(tmp_path, dir=str(blocker / 'tier'))
    put = go.call('put', action(1), b'kept for this process')
    assert 'DiskPath' in put and not put['DiskPath'].startswith(str(tmp_path))
    assert 'DiskPath' in go.call('get', action(1))
    assert go.close() == 0
    assert 'unusable' in go.stderr
    assert not os.path.exists(put['DiskPath']), 'the scratch tier is removed at close'


def test_a_fifo_or_symlink_in_place_of_an_entry_is_a_miss_not_a_hang(tmp_path):
    tier = tmp_path / 'go'
    fifo = tier / 'a' / action(1).hex()[:2] / action(1).hex()
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    secret = tmp_path / 'secret'
    secret.write_text(json.dumps({'v': 1}))
    link = tier / 'a' / action(2).hex()[:2] / action(2).hex()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    go = Go(tmp_path)
    answers = go.answers_for([go.get(action(1)), go.get(action(2))])
    assert all(answer.get('Miss') for answer in answers.values()), answers
    assert go.close() == 0


def test_a_put_replaces_a_planted_object_of_the_right_size(tmp_path):
    body = b'the real output'
    output = hashlib.sha256(body).hexdigest()
    planted = tmp_path / 'go' / 'o' / output[:2] / output
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b'X' * len(body))
    go = Go(tmp_path)
    put = go.call('put', action(1), body)
    assert Path(put['DiskPath']).read_bytes() == body
    assert go.close() == 0


def test_an_object_changed_before_its_upload_is_not_uploaded(tmp_path, server, token_file):
    first, second = b'first output', b'second output'
    slow = '/cas/' + hashlib.sha256(first).hexdigest()
    server.delay = lambda path: 1.5 if path == slow else 0
    go = Go(tmp_path, url=server.url, token_file=token_file, concurrency=1)
    go.call('put', action(1), first)  # its upload holds the one upload slot for 1.5 s
    put = go.call('put', action(2), second)
    Path(put['DiskPath']).write_bytes(b'tampered by another member')
    assert go.close() == 0
    assert '/cas/' + hashlib.sha256(second).hexdigest() not in server.store
    assert '/ac/' + action(2).hex() not in server.store
    assert server.store[slow] == first
    assert go.stats()['upload_errors'] == 1 and go.stats()['uploads'] == 1


def test_a_breaker_state_too_far_ahead_is_not_believed(tmp_path, server, token_file):
    tier = tmp_path / 'go'
    tier.mkdir()
    (tier / 'breaker.json').write_text(json.dumps({'open_until': time.time() + 10 ** 9}))
    go = Go(tmp_path, url=server.url, token_file=token_file)
    go.call('put', action(1), b'uploaded')
    assert go.close() == 0
    assert go.stats()['uploads'] == 1 and server.keys('ac')


def test_refused_credentials_on_reads_keep_only_this_process_off_the_server(tmp_path):
    refusing = CacheServer(token=TOKEN)
    refusing.httpd.RequestHandlerClass.do_GET = lambda handler: (handler._wait(), handler.send_error(401))
    with refusing:
        go = Go(tmp_path, url=refusing.url, breaker_failures=2)
        answers = [go.call('get', action(n)) for n in range(4)]  # one after the other
        assert go.close() == 0
    assert all(answer.get('Miss') for answer in answers)
    assert go.stats()['breaker_opens'] == 1
    assert len(refusing.requests) == 2
    assert not (tmp_path / 'go' / 'breaker.json').exists(), 'a bad token is this process\'s own problem'


# ---- recorded go sessions (tests/unit/go_sessions) -------------------------------------------------

SESSIONS = ROOT / 'tests/unit/go_sessions'


def replay(tmp_path, name):
    """The helper's answers, by ID, to a recorded session fed as go wrote it; the KnownCommands line."""
    proc = subprocess.run([sys.executable, str(HELPER), str(tmp_path / 'replay.json')], capture_output=True,
                          input=(SESSIONS / name).read_bytes(), timeout=60, check=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    answers = {}
    for line in lines[1:]:
        assert line['ID'] not in answers, 'one answer per request'
        answers[line['ID']] = line
    return lines[0], answers, lines[-1]


def recorded(name):
    requests, bodies = [], {}
    lines = [line for line in (SESSIONS / name).read_bytes().splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if line.startswith(b'{'):
            requests.append(json.loads(line))
        else:
            bodies[requests[-1]['ID']] = base64.b64decode(json.loads(line))
            assert lines[number - 1].startswith(b'{')
    return requests, bodies


def test_recorded_go_sessions_are_answered_as_go_expects(tmp_path):
    (tmp_path / 'replay.json').write_text(json.dumps({'dir': str(tmp_path / 'tier')}))
    cold, bodies = recorded('go1.27.3-build-cold.jsonl')
    hello, answers, last = replay(tmp_path, 'go1.27.3-build-cold.jsonl')
    assert hello == {'ID': 0, 'KnownCommands': ['get', 'put', 'close']}
    assert sorted(answers) == [r['ID'] for r in cold], 'every request answered'
    assert last == {'ID': cold[-1]['ID']} and cold[-1]['Command'] == 'close', 'close answered last'
    outputs = {}
    for request in cold:
        answer = answers[request['ID']]
        assert 'Err' not in answer, answer
        if request['Command'] == 'get':
            assert answer.get('Miss') is True, 'the tier was empty'
        elif request['Command'] == 'put':
            body = bodies.get(request['ID'], b'')
            assert len(body) == request.get('BodySize', 0)
            assert base64.b64decode(request['OutputID']) == hashlib.sha256(body).digest()
            assert Path(answer['DiskPath']).read_bytes() == body
            outputs[request['ActionID']] = request['OutputID']
    assert len(outputs) == 4 and any(r['Command'] == 'put' and 'BodySize' not in r for r in cold), \
        'the recording holds puts with bodies and one without'
    # The build again: every get is a hit on what the cold session put, with a DiskPath go can read.
    warm, _bodies = recorded('go1.27.3-build-warm.jsonl')
    _hello, answers, last = replay(tmp_path, 'go1.27.3-build-warm.jsonl')
    assert last == {'ID': warm[-1]['ID']}
    for request in warm[:-1]:
        answer = answers[request['ID']]
        assert answer['OutputID'] == outputs[request['ActionID']], answer
        body = Path(answer['DiskPath']).read_bytes()
        assert hashlib.sha256(body).digest() == base64.b64decode(answer['OutputID'])
        assert answer.get('Size', 0) == len(body)
        assert answer['Time'].endswith('Z')
