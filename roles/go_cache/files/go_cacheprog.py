#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""go-cacheprog: a GOCACHEPROG helper that shares Go build outputs through a fleet-wide HTTP cache.

Part of the go_cache role of go-buildhost, which installs it when go_cache_remote_url is set. Needs
Python 3.9+ and its standard library only.
`go` (1.24 and later) starts it once per invocation when GOCACHEPROG names it:

    GOCACHEPROG='/usr/local/lib/go-cache-health/go_cacheprog.py /etc/go-cache/cacheprog.json'

and talks to it in JSON lines over stdin/stdout (cmd/go/internal/cacheprog): the helper first
announces the commands it knows (get, put, close); each request then carries ID, Command,
ActionID, OutputID (base64) and BodySize, and a put's body follows on its own line as a base64
JSON string; each response carries the request's ID and Err, Miss, OutputID, Size, Time
(RFC 3339) or DiskPath. Requests are served in worker threads, so responses may come out of order.

Two tiers:

- The local disk tier under `dir`: objects by OutputID in o/<2 hex>/<64 hex>, action entries by
  ActionID in a/<2 hex>/<64 hex> (the JSON body described below). Every DiskPath the helper
  returns is an object file there, which `go` reads, and may move away when it installs a cached
  output (it only copies files under its own GOCACHE), so an entry whose object is missing or of
  the wrong size is a local miss. Writes go to a temporary file in the same directory, then a
  rename. The helper runs with umask 0o007: files are group-readable and -writable, nothing is
  world-writable (a default ACL on `dir` decides instead where there is one).
- The server (`url`), in the layout of bazel-remote's HTTP cache: GET/PUT <url>/ac/<ActionID hex>
  and <url>/cas/<OutputID hex>. The /ac/ body, the same as a local action entry, is one line of
  JSON: {"v": 1, "action": "<ActionID hex>", "output": "<OutputID hex>", "size": <bytes>,
  "time_ns": <put time, ns since the epoch>}. A remote hit stores the object and the entry in the
  local tier; the /cas/ body must hash (sha256) to the OutputID and have the size of the /ac/
  entry, else it is a miss, counted as corrupt. A put is written locally (after checking that the
  body hashes to its OutputID) and answered at once; its upload (/cas/ first, then /ac/) runs in a
  bounded pool in the background, and `close` waits for the uploads at most close_timeout seconds.

A cache failure never fails a build: refused connections, timeouts, HTTP errors, a 401/403 on a
PUT and corrupt objects all become misses or skipped uploads. A failure, for the breaker, is a request
that got no complete HTTP answer, a 5xx, or a 401/403/407/429 on a GET (a 404 is a miss, not a
failure; any answer resets the count). After breaker_failures consecutive failures the circuit
breaker opens: this process sends no more requests, and it records the time
in <dir>/breaker.json, so other processes skip the server until breaker_seconds have passed. A
401 or 403 on a PUT stops this process's PUTs (reads go on).

Configuration: a JSON file, the only argument. Keys:

    dir               local disk tier (required)
    url               server base URL, http:// or https://; "" (default): the local tier only
    token_file        file whose first line is a bearer token, sent with every request as
                      `Authorization: Bearer <token>` (default: none). The token is read from this file
                      only, never from argv or the environment, and never written to stderr or the stats
                      file. An unreadable or empty token file is a bad configuration.
    read_only         true: never PUT to the server (default false)
    timeout           seconds allowed for connecting and for each wait for data of a request (default 5)
    concurrency       at most this many HTTP requests at once (default 8)
    breaker_failures  consecutive failures that open the circuit breaker (default 5)
    breaker_seconds   how long an open breaker keeps every process off the server (default 60)
    close_timeout     seconds `close` waits for pending uploads in all (default 10)
    stats_file        JSON file of cumulative counters this process adds its own to at close,
                      under an fcntl lock, written atomically (default: none)

A bad configuration (unreadable, not JSON, an unknown key, a value of the wrong type) never fails a
build either: the helper then says why once on stderr and serves the local tier only (under `dir`,
or $XDG_CACHE_HOME or ~/.cache's go-cacheprog when `dir` is unusable, or else a temporary directory
that lives as long as the process). The server is never asked anything then.

Counters (stats_file): local_hits, remote_hits, misses, corrupt, puts, uploads, upload_errors,
bytes_fetched, bytes_uploaded, breaker_opens, plus processes (the runs added up).

Exit status: 0 after `close` or the end of stdin; 1 when a request cannot be parsed (a protocol
error, which no cache failure can cause).
"""

import base64
import binascii
import concurrent.futures
import contextlib
import datetime
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import urllib.parse

KNOWN_COMMANDS = ('get', 'put', 'close')
DEFAULTS = {
    'dir': None,
    'url': '',
    'token_file': None,
    'read_only': False,
    'timeout': 5.0,
    'concurrency': 8,
    'breaker_failures': 5,
    'breaker_seconds': 60.0,
    'close_timeout': 10.0,
    'stats_file': None,
}
COUNTERS = ('local_hits', 'remote_hits', 'misses', 'corrupt', 'puts', 'uploads', 'upload_errors',
            'bytes_fetched', 'bytes_uploaded', 'breaker_opens')
HASH_HEX = 64
MAX_AC_BODY = 4096
CHUNK = 1 << 20
BREAKER_FILE = 'breaker.json'
UMASK = 0o007


class ConfigError(Exception):
    pass


def _number(config, key, minimum, kind=float):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError('%s must be a number of at least %s, not %r' % (key, minimum, value))
    if kind is int and value != int(value):
        raise ConfigError('%s must be a whole number, not %r' % (key, value))
    return kind(value)


def parse_config(raw):
    """The configuration from the decoded JSON file: a dict with every key, or ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError('the configuration must be a JSON object')
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError('unknown keys: %s' % ', '.join(unknown))
    config = dict(DEFAULTS, **raw)
    if not isinstance(config['dir'], str) or not os.path.isabs(config['dir']):
        raise ConfigError('dir must be an absolute path')
    for key in ('token_file', 'stats_file'):
        if config[key] is not None and not (isinstance(config[key], str) and os.path.isabs(config[key])):
            raise ConfigError('%s must be an absolute path' % key)
    if not isinstance(config['url'], str):
        raise ConfigError('url must be a string')
    if config['url']:
        parts = urllib.parse.urlsplit(config['url'])
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise ConfigError('url must be an http:// or https:// URL')
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigError('url must not carry credentials, a query or a fragment (use token_file)')
    if not isinstance(config['read_only'], bool):
        raise ConfigError('read_only must be true or false')
    config['timeout'] = _number(config, 'timeout', 0.001)
    config['concurrency'] = _number(config, 'concurrency', 1, int)
    config['breaker_failures'] = _number(config, 'breaker_failures', 1, int)
    config['breaker_seconds'] = _number(config, 'breaker_seconds', 0)
    config['close_timeout'] = _number(config, 'close_timeout', 0)
    return config


def read_token(path):
    """The bearer token in path: its first line, stripped. Errors never quote the file's content."""
    try:
        with open(path, encoding='utf-8') as f:
            token = f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError('token_file %s is not readable (%s)' % (path, type(e).__name__)) from None
    if not token or any(c in token for c in '\r\n\0') or not token.isprintable():
        raise ConfigError('token_file %s holds no usable token' % path)
    return token


def load_config(path):
    """(config, problem): the configuration in path and None, or when it is unusable, why and a
    configuration of the defaults with its dir (or None when that is unusable too)."""
    try:
        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
    except OSError as e:
        return None, 'cannot read %s: %s' % (path, e.strerror or e)
    except ValueError as e:
        return None, '%s is not valid JSON: %s' % (path, e)
    try:
        config = parse_config(raw)
        config['token'] = read_token(config['token_file']) if config['token_file'] else None
    except ConfigError as e:
        # Keep a usable dir: the local tier stays where it would have been.
        directory = raw.get('dir') if isinstance(raw, dict) else None
        if isinstance(directory, str) and os.path.isabs(directory):
            return dict(DEFAULTS, dir=directory), '%s: %s' % (path, e)
        return None, '%s: %s' % (path, e)
    return config, None


def rfc3339(time_ns):
    """Go's time.Time JSON form (RFC 3339, UTC, nanoseconds) of a time in ns since the epoch."""
    seconds, nanos = divmod(int(time_ns), 10 ** 9)
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return stamp.strftime('%Y-%m-%dT%H:%M:%S') + '.%09dZ' % nanos


def entry_body(action_hex, output_hex, size, time_ns):
    """The /ac/ body and local action entry: one line of JSON."""
    return (json.dumps({'v': 1, 'action': action_hex, 'output': output_hex, 'size': size, 'time_ns': time_ns},
                       sort_keys=True) + '\n').encode()


def parse_entry(data, action_hex):
    """(output_hex, size, time_ns) of an action entry for action_hex, or None when it is not one."""
    try:
        entry = json.loads(data)
        output, size, time_ns = entry['output'], entry['size'], entry['time_ns']
        ok = (entry.get('v') == 1 and entry.get('action') == action_hex and _is_hex(output)
              and _count(size) and _count(time_ns))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return (output, size, time_ns) if ok else None


def _count(value):
    """Whether value is a whole number of at least 0 in JSON (true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_regular(path, limit):
    """At most limit bytes of the regular file at path, not through a symlink; OSError otherwise.

    The tier is shared by a group: a member could leave a FIFO (a read that never ends, so go would wait
    for its answer forever) or a symlink where an entry or the breaker's state belongs."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, 'not a regular file', path)
        return os.read(fd, limit)
    finally:
        os.close(fd)


def write_private(directory, prefix, data):
    """A new file in directory holding data, under a name nobody could have planted; its path."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _is_hex(text):
    return isinstance(text, str) and len(text) == HASH_HEX and all(c in '0123456789abcdef' for c in text)


def _id_hex(value, name):
    """The hex of a base64 ActionID/OutputID of a request."""
    try:
        raw = base64.b64decode(value or '', validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError('%s is not base64' % name) from None
    if len(raw) != HASH_HEX // 2:
        raise ValueError('%s is not a SHA-256 hash' % name)
    return raw.hex()


def _b64(hex_id):
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def decode_body(line):
    """The bytes of a put's body line: a JSON string of base64."""
    text = line.strip()
    if len(text) >= 2 and text[:1] == b'"' and text[-1:] == b'"' and b'\\' not in text:
        text = text[1:-1]
    else:
        text = json.loads(text).encode('ascii')
    return base64.b64decode(text, validate=True)


class LocalTier:
    """Objects and action entries on disk under root."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        for sub in ('o', 'a'):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)

    def path(self, kind, hex_id):
        return os.path.join(self.root, kind, hex_id[:2], hex_id)

    def write(self, kind, hex_id, chunks):
        """Write the byte chunks atomically to the kind's file of hex_id; its path."""
        final = self.path(kind, hex_id)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = '%s.tmp-%d-%s' % (final, os.getpid(), os.urandom(6).hex())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, 'wb') as f:
                for chunk in chunks:
                    f.write(chunk)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return final

    def object_size(self, output_hex):
        """The size of a usable object: a regular file (not a symlink) this process can read; else None.

        go may chmod and move an object away when it installs an output (it only copies files under its
        own GOCACHE), so an object can also be gone or unreadable for other members."""
        path = self.path('o', output_hex)
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or not os.access(path, os.R_OK):
            return None
        return info.st_size

    def get(self, action_hex):
        """(output_hex, size, time_ns, disk_path) of a usable local entry, or None."""
        try:
            entry = parse_entry(read_regular(self.path('a', action_hex), MAX_AC_BODY), action_hex)
        except OSError:
            return None
        if entry is None or self.object_size(entry[0]) != entry[1]:
            return None
        return entry + (self.path('o', entry[0]),)


class Breaker:
    """Consecutive failures open it for this process, and for others through a state file."""

    def __init__(self, failures, seconds, state_file):
        self.limit, self.seconds, self.state_file = failures, seconds, state_file
        self.lock = threading.Lock()
        self.failures = 0
        self.open = False
        self.checked = 0.0

    def shared_open(self):
        """Whether another process opened the breaker less than breaker_seconds ago."""
        try:
            until = float(json.loads(read_regular(self.state_file, 4096))['open_until'])
        except (OSError, ValueError, TypeError, KeyError):
            return False
        now = time.time()
        # Written by any member of the group: a time further ahead than this process's own breaker would
        # set is not believed (a stray or hostile file cannot switch the server off for good).
        return now < until <= now + self.seconds + 1

    def allows(self):
        with self.lock:
            if self.open:
                return False
            now = time.monotonic()
            if now - self.checked < 1.0 and self.checked:
                return True
            self.checked = now
        if self.shared_open():
            with self.lock:
                self.open = True
            return False
        return True

    def success(self):
        with self.lock:
            self.failures = 0

    def failure(self, shared=True):
        """Count a failure; True when it opened the breaker. shared: also keep other processes off the
        server (not for what is this process's own doing, such as its credentials)."""
        with self.lock:
            self.failures += 1
            if self.open or self.failures < self.limit:
                return False
            self.open = True
        if not shared:
            return True
        state = json.dumps({'open_until': time.time() + self.seconds}).encode()
        with contextlib.suppress(OSError):
            tmp = write_private(os.path.dirname(self.state_file), '.%s.tmp-' % BREAKER_FILE, state)
            try:
                os.chmod(tmp, 0o666 & ~UMASK)
                os.replace(tmp, self.state_file)
            except OSError:
                os.unlink(tmp)
                raise
        return True


class RemoteError(Exception):
    """A failed request: counts toward the breaker."""


def _http():
    """http.client, imported when the server is first asked: a go command that finds everything in the
    local tier never pays for it (nor for ssl)."""
    import http.client  # noqa: PLC0415 - see the docstring
    return http.client


class Remote:
    """The HTTP cache server: one keep-alive connection per thread, at most `concurrency` requests."""

    def __init__(self, url, token, timeout, concurrency):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == 'https'
        self.host, self.port = parts.hostname, parts.port
        self.prefix = parts.path.rstrip('/')
        self.headers = {'Authorization': 'Bearer ' + token} if token else {}
        self.timeout = timeout
        self.slots = threading.BoundedSemaphore(concurrency)
        self.local = threading.local()
        self.context = None
        self.context_lock = threading.Lock()

    def _connection(self):
        conn = getattr(self.local, 'conn', None)
        if conn is None:
            if self.https:
                with self.context_lock:
                    if self.context is None:
                        import ssl  # noqa: PLC0415 - as _http: only when the server is asked
                        self.context = ssl.create_default_context()
                conn = _http().HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                conn = _http().HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def _drop(self):
        conn = getattr(self.local, 'conn', None)
        self.local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def request(self, method, path, *, body=None, length=None, sink=None, limit=None):
        """(status, data): data is the body (at most limit bytes) unless sink takes it chunk by chunk.

        Raises RemoteError for anything but an HTTP answer read in full."""
        headers = dict(self.headers)
        if body is not None:
            headers['Content-Length'] = str(length)
            headers['Content-Type'] = 'application/octet-stream'
        try:
            reused = getattr(self.local, 'conn', None) is not None
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
            except (_http().RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # The server closed the idle keep-alive connection: once more on a new one.
                self._drop()
                if hasattr(body, 'seek'):
                    body.seek(0)
                conn = self._connection()
                conn.request(method, self.prefix + path, body=body, headers=headers)
                response = conn.getresponse()
            status = response.status
            if status != 200 or sink is None:
                data = response.read(limit + 1 if limit is not None else None)
                if limit is not None and len(data) > limit:
                    self._drop()
                    return status, None
                if not response.isclosed():
                    response.read()
            else:
                data = None
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    if sink(chunk) is False:
                        self._drop()
                        break
            if response.will_close:
                self._drop()
            return status, data
        except (OSError, _http().HTTPException, ValueError) as e:
            self._drop()
            raise RemoteError(type(e).__name__) from None


class Helper:
    """The state of one helper process: its tiers, pools, breaker and counters."""

    def __init__(self, config, out, problem=None):
        self.out = out
        self.out_lock = threading.Lock()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.count_lock = threading.Lock()
        self.said = set()
        self.said_lock = threading.Lock()
        self.scratch = None
        self.pending = []
        self.pending_lock = threading.Lock()
        self.config = config or dict(DEFAULTS)
        if problem:
            self.say('config', 'go-cacheprog: %s; serving the local disk tier only' % problem)
        self.local = self._local_tier(self.config.get('dir'))
        self.remote = None
        self.puts_allowed = not self.config['read_only']
        if not problem and self.config['url']:
            self.remote = Remote(config['url'], config.get('token'), config['timeout'], config['concurrency'])
        self.breaker = Breaker(self.config['breaker_failures'], self.config['breaker_seconds'],
                               os.path.join(self.local.root, BREAKER_FILE))
        self.workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=2 * self.config['concurrency'] + 4, thread_name_prefix='serve')
        self.uploads = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.config['concurrency'], thread_name_prefix='upload')

    def _local_tier(self, directory):
        candidates = [directory] if directory else []
        home = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
        candidates.append(os.path.join(home, 'go-cacheprog'))
        for candidate in candidates:
            try:
                tier = LocalTier(candidate)
                probe = os.path.join(tier.root, 'o', '.probe-%d-%s' % (os.getpid(), os.urandom(6).hex()))
                os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                os.unlink(probe)
                return tier
            except OSError as e:
                self.say('dir-' + candidate, 'go-cacheprog: local disk tier %s unusable (%s)' % (
                    candidate, e.strerror or e))
        return self._scratch_tier()

    def say(self, key, message):
        """Write message to stderr once per key."""
        with self.said_lock:
            if key in self.said:
                return
            self.said.add(key)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(message + '\n')
            sys.stderr.flush()

    def count(self, name, n=1):
        with self.count_lock:
            self.counts[name] += n

    def respond(self, response):
        line = (json.dumps(response, separators=(',', ':')) + '\n').encode()
        with self.out_lock:
            self.out.write(line)
            self.out.flush()

    # The server, through the breaker.

    def _remote_ok(self):
        return self.remote is not None and self.breaker.allows()

    def _call(self, method, path, **kwargs):
        """The server's (status, data), or None after a failure (counted toward the breaker) or when the
        breaker opened while this request waited for its turn."""
        with self.remote.slots:
            if not self.breaker.allows():
                return None
            try:
                status, data = self.remote.request(method, path, **kwargs)
            except RemoteError as e:
                self._failed('%s %s: %s' % (method, path.split('/')[1], e))
                return None
        if status >= 500 or (status in (401, 403, 407, 429) and method == 'GET'):
            # Refused credentials are this process's own: they open its breaker, not everyone's.
            self._failed('%s %s: HTTP %d' % (method, path.split('/')[1], status), shared=status not in (401, 403))
            return status, None
        self.breaker.success()
        return status, data

    def _failed(self, what, shared=True):
        if self.breaker.failure(shared):
            self.count('breaker_opens')
            self.say('breaker', 'go-cacheprog: %d cache server failures in a row (last: %s); using the '
                     'local disk tier only for %gs' % (self.breaker.limit, what, self.breaker.seconds))

    # get

    def get(self, req_id, action_hex):
        hit = self.local.get(action_hex)
        if hit is not None:
            self.count('local_hits')
        elif self._remote_ok():
            hit = self._remote_get(action_hex)
        if hit is None:
            self.count('misses')
            return {'ID': req_id, 'Miss': True}
        return self.hit_response(req_id, hit)

    @staticmethod
    def hit_response(req_id, hit):
        output_hex, size, time_ns, disk_path = hit
        response = {'ID': req_id, 'OutputID': _b64(output_hex), 'Time': rfc3339(time_ns), 'DiskPath': disk_path}
        if size:
            response['Size'] = size
        return response

    def local_answer(self, request):
        """The answer to a get the local tier holds, served by the reading thread itself (no hand-off to
        a worker: a warm build is thousands of these); None for everything else."""
        if request.get('Command') != 'get':
            return None
        try:
            hit = self.local.get(_id_hex(request.get('ActionID'), 'ActionID'))
        except (ValueError, OSError):
            return None  # the worker answers it, with the error
        if hit is None:
            return None
        self.count('local_hits')
        return self.hit_response(request.get('ID', 0), hit)

    def _remote_get(self, action_hex):
        answer = self._call('GET', '/ac/' + action_hex, limit=MAX_AC_BODY)
        if answer is None or answer[0] != 200:
            return None
        entry = parse_entry(answer[1] or b'', action_hex)
        if entry is None:
            self.count('corrupt')
            return None
        output_hex, size, time_ns = entry
        if self.local.object_size(output_hex) != size and not self._fetch_object(output_hex, size):
            return None
        try:
            self.local.write('a', action_hex, [entry_body(action_hex, output_hex, size, time_ns)])
        except OSError as e:
            self.say('write', 'go-cacheprog: cannot write to %s: %s' % (self.local.root, e.strerror or e))
        self.count('remote_hits')
        return entry + (self.local.path('o', output_hex),)

    def _fetch_object(self, output_hex, size):
        """Fetch and verify the /cas/ object into the local tier; whether it is there."""
        digest = hashlib.sha256()
        state = {'bytes': 0}
        directory = os.path.dirname(self.local.path('o', output_hex))
        try:
            os.makedirs(directory, exist_ok=True)
            tmp_file = tempfile.NamedTemporaryFile(dir=directory, prefix='.fetch-', delete=False)  # noqa: SIM115
        except OSError as e:
            self.say('write', 'go-cacheprog: cannot write to %s: %s' % (self.local.root, e.strerror or e))
            return False
        tmp = tmp_file.name

        def sink(chunk):
            state['bytes'] += len(chunk)
            if state['bytes'] > size:
                return False
            digest.update(chunk)
            try:
                tmp_file.write(chunk)
            except OSError as e:  # the local disk's problem, not the server's: no failure for the breaker
                state['write_error'] = e
                return False
            return True

        try:
            with tmp_file:
                answer = self._call('GET', '/cas/' + output_hex, sink=sink)
            if 'write_error' in state:
                raise state['write_error']
            if answer is None or answer[0] != 200:
                return False
            self.count('bytes_fetched', state['bytes'])
            if state['bytes'] != size or digest.hexdigest() != output_hex:
                self.count('corrupt')
                return False
            os.chmod(tmp, 0o666 & ~UMASK)
            os.replace(tmp, self.local.path('o', output_hex))
            tmp = None
            return True
        except OSError as e:
            self.say('write', 'go-cacheprog: cannot write to %s: %s' % (self.local.root, e.strerror or e))
            return False
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    # put

    def put(self, req_id, action_hex, output_hex, body_line, body_size):
        body = decode_body(body_line) if body_size else b''
        if len(body) != body_size:
            raise ValueError('put body has %d bytes, BodySize says %d' % (len(body), body_size))
        if hashlib.sha256(body).hexdigest() != output_hex:
            raise ValueError('put body does not hash to its OutputID')
        time_ns = time.time_ns()
        try:
            # Written even when an object of that size is there: the body is verified, the file may not be.
            disk_path = self.local.write('o', output_hex, [body])
            self.local.write('a', action_hex, [entry_body(action_hex, output_hex, body_size, time_ns)])
        except OSError as e:
            # go needs a DiskPath for every put: a disk problem costs the caching, not the build.
            self.say('write', 'go-cacheprog: cannot write to %s: %s' % (self.local.root, e.strerror or e))
            return {'ID': req_id, 'DiskPath': self._scratch_tier().write('o', output_hex, [body])}
        self.count('puts')
        if self.puts_allowed and self._remote_ok():
            future = self.uploads.submit(self._upload, action_hex, output_hex, body_size, time_ns)
            with self.pending_lock:
                self.pending.append(future)
        return {'ID': req_id, 'DiskPath': disk_path}

    def _upload(self, action_hex, output_hex, size, time_ns):
        if not (self.puts_allowed and self._remote_ok()):
            return
        # What goes to the fleet is a private copy that hashes to its OutputID: the shared object may have
        # been changed or replaced by another member of the group since the put.
        try:
            with self._verified_copy(output_hex, size) as body:
                if body is None:
                    self.count('upload_errors')
                    return
                answer = self._call('PUT', '/cas/' + output_hex, body=body, length=size)
        except OSError:
            self.count('upload_errors')
            return
        if self._put_refused(answer):
            return
        answer = self._call('PUT', '/ac/' + action_hex, body=entry_body(action_hex, output_hex, size, time_ns),
                            length=len(entry_body(action_hex, output_hex, size, time_ns)))
        if self._put_refused(answer):
            return
        self.count('uploads')
        self.count('bytes_uploaded', size)

    @contextlib.contextmanager
    def _verified_copy(self, output_hex, size):
        """An unnamed temporary file holding the object if it hashes to output_hex (at its start), else None."""
        with tempfile.TemporaryFile() as copy:
            digest = hashlib.sha256()
            fd = os.open(self.local.path('o', output_hex), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, 'rb') as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    yield None
                    return
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    copy.write(chunk)
            if copy.tell() != size or digest.hexdigest() != output_hex:
                yield None
                return
            copy.seek(0)
            yield copy

    def _put_refused(self, answer):
        if answer is not None and 200 <= answer[0] < 300:
            return False
        self.count('upload_errors')
        if answer is not None and answer[0] in (401, 403):
            self.puts_allowed = False
            self.say('put-refused', 'go-cacheprog: the cache server refused an upload (HTTP %d): no more '
                     'uploads from this process' % answer[0])
        return True

    def _scratch_tier(self):
        with self.pending_lock:
            if self.scratch is None:
                self.scratch = tempfile.mkdtemp(prefix='go-cacheprog-')
            return LocalTier(self.scratch)

    # close

    def finish(self):
        """Wait for the requests being served and (at most close_timeout) for uploads; save the counters."""
        self.workers.shutdown(wait=True)
        with self.pending_lock:
            pending = list(self.pending)
        if pending:
            done, late = concurrent.futures.wait(pending, timeout=self.config['close_timeout'])
            if late:
                self.count('upload_errors', len(late))
                self.puts_allowed = False
                self.say('late', 'go-cacheprog: %d uploads unfinished after %gs; given up' % (
                    len(late), self.config['close_timeout']))
                for future in late:
                    future.cancel()
        self.uploads.shutdown(wait=False)
        if self.config.get('stats_file'):
            try:
                add_stats(self.config['stats_file'], self.counts)
            except (OSError, ValueError) as e:
                self.say('stats', 'go-cacheprog: cannot update %s: %s' % (self.config['stats_file'], e))
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # requests

    def serve_one(self, request, body_line):
        req_id = request.get('ID', 0)
        try:
            command = request.get('Command')
            if command == 'get':
                response = self.get(req_id, _id_hex(request.get('ActionID'), 'ActionID'))
            elif command == 'put':
                response = self.put(req_id, _id_hex(request.get('ActionID'), 'ActionID'),
                                    _id_hex(request.get('OutputID'), 'OutputID'), body_line,
                                    int(request.get('BodySize') or 0))
            else:
                response = {'ID': req_id, 'Err': 'unknown command %r' % command}
        except Exception as e:  # every request gets its answer, or go waits for it forever
            response = {'ID': req_id, 'Err': 'go-cacheprog: %s' % e}
        self.respond(response)


def add_stats(path, counts):
    """Add counts to the cumulative counters in path, under an fcntl lock, atomically."""
    lock_fd = os.open(path + '.lock', os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
    with os.fdopen(lock_fd, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            total = json.loads(read_regular(path, 1 << 20))
            if not isinstance(total, dict):
                total = {}
        except (OSError, ValueError):
            total = {}
        for name, value in list(counts.items()) + [('processes', 1)]:
            old = total.get(name, 0)
            total[name] = (old if isinstance(old, int) and not isinstance(old, bool) else 0) + value
        tmp = write_private(os.path.dirname(path) or '.', '.%s.tmp-' % os.path.basename(path),
                            (json.dumps(total, indent=1, sort_keys=True) + '\n').encode())
        try:
            os.chmod(tmp, 0o666 & ~UMASK)
            os.replace(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise


def serve(helper, stdin):
    """Read requests until close or the end of stdin; the exit status."""
    helper.respond({'ID': 0, 'KnownCommands': list(KNOWN_COMMANDS)})
    status, close_id = 0, None
    while True:
        line = stdin.readline()
        if not line:
            break
        if not line.strip():
            continue  # go writes a blank line after each request (its JSON encoder's newline, then one more)
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError('not a JSON object')
        except ValueError as e:
            helper.say('protocol', 'go-cacheprog: cannot parse a request: %s' % e)
            status = 1
            break
        if request.get('Command') == 'close':
            close_id = request.get('ID', 0)
            break
        answer = helper.local_answer(request)
        if answer is not None:
            helper.respond(answer)
            continue
        body_line = None
        if request.get('Command') == 'put' and request.get('BodySize'):
            body_line = stdin.readline()
            while body_line and not body_line.strip():
                body_line = stdin.readline()
        helper.workers.submit(helper.serve_one, request, body_line)
    helper.finish()
    if close_id is not None:
        helper.respond({'ID': close_id})
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    os.umask(UMASK)
    if len(argv) == 1:
        config, problem = load_config(argv[0])
    else:
        config, problem = None, 'usage: go_cacheprog.py CONFIG.json (got %d arguments)' % len(argv)
    helper = Helper(config, sys.stdout.buffer, problem)
    try:
        status = serve(helper, sys.stdin.buffer)
    except BrokenPipeError:
        status = 0
    # Not sys.exit: that would join an upload still stuck in the server after close_timeout.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(status)


if __name__ == '__main__':
    main()
