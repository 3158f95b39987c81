#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""go-cache-server-evict: count the requests of the fleet's Go build cache server and keep its store small.

Installed by the go_cache_server role of go-buildhost and run as root by go-cache-server-evict.timer.
Needs Python 3.9+ and its standard library only.

The server is the distribution's nginx in the layout of bazel-remote's HTTP cache: GET/HEAD/PUT
/ac/<64 hex> and /cas/<64 hex>, stored by nginx's WebDAV module as plain files <store>/ac/<hex> and
<store>/cas/<hex> (a PUT body goes to a temporary file under <store>/.tmp/, nginx's own, never
touched here, then is renamed into place). nginx writes a dedicated access log, one request a line:

    $msec $request_method $status $body_bytes_sent $request_length $uri

Each run:

- reads the access log from where the last run stopped (the inode and offset in the state file).
  After logrotate renamed the log to <log>.1 (Debian's nginx rotation, uncompressed until the next
  one) it first reads the rest of <log>.1, then the new log from its start; a log that shrank was
  truncated and is read from its start; a missing log is read as empty. An incomplete last line
  (nginx is writing it) is left for the next run; lines that are not access log lines are skipped
  and counted;
- adds the requests to cumulative counters kept in the state file: requests by method (GET, HEAD,
  PUT, other) and status, bytes sent, bytes of PUT requests received, hits (GET or HEAD answered 200
  of an object), misses (404), puts (2xx), and requests refused with 401 or 403;
- records each hit as a use of its object: nginx serves a GET without changing the file, so the
  object's mtime (and atime) is moved to the time of its latest hit, never backwards, never through
  a symlink;
- walks <store>/ac and <store>/cas (regular files named by 64 hex digits only, sizes in allocated
  blocks like du, symlinks neither followed nor counted) and, above max_bytes, deletes the least
  recently used objects (oldest mtime first; an mtime more than an hour ahead, which the Date header
  of a PUT can set, counts as the oldest) until the store is at its low-water mark;
- writes Prometheus textfile metrics and the state file atomically and logs one JSON line.

Configuration: a JSON file, the only argument. Keys:

    store            the directory nginx stores the objects in, with ac/ and cas/ (absolute)
    max_bytes        store size above which the run evicts; 0 never evicts
    low_water_bytes  size the eviction brings the store down to (default: 80% of max_bytes)
    access_log       nginx's access log in the format above (absolute)
    state_file       JSON file of the log position and the counters (absolute, written 0600)
    metrics_file     Prometheus textfile (absolute, written 0644)

--dry-run reads and counts, but changes nothing: no utime, no deletion, no state or metrics file; it
prints the JSON line, the objects it would delete and the metrics it would write.

Exit status: 0 whenever the run completed; 1 on its own errors (unreadable or incomplete
configuration, an unreadable access log or store, metrics or state file not writable, another run
in progress). A damaged state file is not an error: the counters start again from zero.
"""

import argparse
import errno
import fcntl
import heapq
import json
import math
import os
import re
import stat
import sys
import tempfile
import time

EVENT = 'go-cache-server-evict'
KINDS = ('ac', 'cas')
METHODS = ('GET', 'HEAD', 'PUT')
OBJECT_NAME = re.compile(r'[0-9a-f]{64}')
OBJECT_PATH = re.compile(r'/(ac|cas)/([0-9a-f]{64})')
STATUS = re.compile(r'[0-9]{3}')
MSEC = re.compile(r'([0-9]{1,12})(?:\.([0-9]{1,9}))?')
WHOLE = re.compile(r'[0-9]{1,18}')
REQUEST_KEY = re.compile(r'(GET|HEAD|PUT|other) ([0-9]{3}|other)')
CHUNK = 1024 * 1024
MAX_LINE = 64 * 1024  # a longer "line" is no line of this log: skipped without holding it in memory
FUTURE_SLACK_NS = 3600 * 10 ** 9  # an mtime further ahead than this is no time of use (see objects)
COUNTER_MAX = 2 ** 63  # a state file value at or above it is damage, not a count
# The cumulative counters of the state file.
COUNTERS = ('hits', 'misses', 'puts', 'unauthorized', 'sent_bytes', 'received_bytes', 'skipped_lines',
            'evicted_objects', 'evicted_bytes')

METRICS = (
    ('go_cache_server_requests_total', 'counter',
     'Requests nginx answered, by method (GET, HEAD, PUT or other) and status code.'),
    ('go_cache_server_hits_total', 'counter', 'GET and HEAD requests of an /ac/ or /cas/ object answered 200.'),
    ('go_cache_server_misses_total', 'counter', 'GET and HEAD requests of an /ac/ or /cas/ object answered 404.'),
    ('go_cache_server_puts_total', 'counter', 'PUT requests of an /ac/ or /cas/ object answered 2xx (stored).'),
    ('go_cache_server_unauthorized_total', 'counter', 'Requests refused with 401 or 403.'),
    ('go_cache_server_sent_bytes_total', 'counter', 'Bytes of response bodies sent (body_bytes_sent).'),
    ('go_cache_server_received_bytes_total', 'counter',
     'Bytes of PUT requests received, request line, headers and body (request_length).'),
    ('go_cache_server_log_skipped_lines_total', 'counter',
     'Lines of the access log that were not access log lines in the expected format, skipped.'),
    ('go_cache_server_evicted_objects_total', 'counter',
     'Objects deleted, least recently used first, to bring the store down to its low-water mark.'),
    ('go_cache_server_evicted_bytes_total', 'counter',
     'Disk space the eviction freed, in bytes of allocated blocks.'),
    ('go_cache_server_bytes', 'gauge',
     'Disk space the objects of the store use after the run, in bytes of allocated blocks (like du).'),
    ('go_cache_server_objects', 'gauge', 'Objects in the store after the run.'),
    ('go_cache_server_max_bytes', 'gauge', 'Store size above which the run evicts objects; 0 when it never does.'),
    ('go_cache_server_last_run_timestamp_seconds', 'gauge', 'When the run last completed, in Unix time.'),
    ('go_cache_server_run_duration_seconds', 'gauge', 'How long the last run took.'),
    ('go_cache_server_hit_ratio', 'gauge', 'hits / (hits + misses) since the counters started; 0 before any.'),
)


class EvictError(Exception):
    """An error of the program itself: exit status 1."""


# ---- configuration and state --------------------------------------------------------------

def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < COUNTER_MAX


def load_config(path):
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise EvictError('cannot read the configuration %s: %s' % (path, exc)) from exc
    if not isinstance(config, dict):
        raise EvictError('the configuration %s is not a JSON object' % path)
    for key in ('store', 'max_bytes', 'access_log', 'state_file', 'metrics_file'):
        if key not in config:
            raise EvictError('the configuration %s has no %r' % (path, key))
    for key in ('store', 'access_log', 'state_file', 'metrics_file'):
        if not isinstance(config[key], str) or not os.path.isabs(config[key]):
            raise EvictError('%s %r in %s is not an absolute path' % (key, config[key], path))
    if not _whole(config['max_bytes']):
        raise EvictError('max_bytes %r in %s is not a whole number >= 0' % (config['max_bytes'], path))
    config.setdefault('low_water_bytes', int(config['max_bytes'] * 0.8))
    low = config['low_water_bytes']
    if not _whole(low):
        raise EvictError('low_water_bytes %r in %s is not a whole number >= 0' % (low, path))
    if config['max_bytes'] and low > config['max_bytes']:
        raise EvictError('low_water_bytes %d in %s is above max_bytes %d' % (low, path, config['max_bytes']))
    return config


def empty_state():
    return {'log': {}, 'counters': dict.fromkeys(COUNTERS, 0), 'requests': {}}


def load_state(path):
    """The state file's log position and counters; an empty state when it is missing or damaged in any way
    (the counters then start again, which Prometheus takes as a counter reset)."""
    try:
        with open(path) as handle:
            raw = json.load(handle)
    except (OSError, ValueError, RecursionError):
        return empty_state()
    state = empty_state()
    try:
        log, counters, requests = raw['log'], raw['counters'], raw['requests']
        if log:
            if set(log) != {'inode', 'offset'} or not all(_whole(v) for v in log.values()):
                return empty_state()
            state['log'] = {'inode': log['inode'], 'offset': log['offset']}
        for key in COUNTERS:
            if not _whole(counters[key]):
                return empty_state()
            state['counters'][key] = counters[key]
        for key, value in requests.items():
            if not REQUEST_KEY.fullmatch(key) or not _whole(value):
                return empty_state()
            state['requests'][key] = value
    except (TypeError, KeyError, AttributeError):
        return empty_state()
    return state


def write_atomic(path, text, mode=0o644):
    """Write through a temporary file in the same directory and a rename: readers never see half a file."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def lock(state_file):
    """Hold an exclusive lock on the state file's directory (created if missing) for the rest of the process:
    a run started by hand while the timer's runs would count the same lines twice."""
    directory = os.path.dirname(state_file)
    try:
        os.makedirs(directory, 0o755, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EvictError('cannot create or open the state directory %s: %s' % (directory, exc)) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise EvictError('another run holds the lock on %s' % directory) from exc
        raise EvictError('cannot lock %s: %s' % (directory, exc)) from exc
    return fd


# ---- the access log ---------------------------------------------------------------------

def parse(raw):
    """(time in ns, method, status, body_bytes_sent, request_length, uri) of one access log line, or None."""
    fields = raw.decode('utf-8', 'replace').split(' ', 5)  # $uri, decoded, may hold spaces: the rest
    if len(fields) != 6:
        return None
    msec, method, status, sent, length, uri = fields
    when = MSEC.fullmatch(msec)
    if not when or not method or not status or not uri or not WHOLE.fullmatch(sent) \
            or not WHOLE.fullmatch(length):
        return None
    ns = int(when.group(1)) * 10 ** 9 + int((when.group(2) or '').ljust(9, '0'))
    return ns, method, status, int(sent), int(length), uri


class Tally:
    """What this run's lines add to the counters, and the latest hit of each object."""

    def __init__(self):
        self.lines = 0
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.requests = {}
        self.hits = {}  # (kind, hex) -> ns of its latest hit

    def skip(self):
        self.lines += 1
        self.counters['skipped_lines'] += 1

    def line(self, raw):
        fields = parse(raw)
        if fields is None:
            self.skip()
            return
        self.lines += 1
        ns, method, status, sent, length, uri = fields
        method = method if method in METHODS else 'other'
        status = status if STATUS.fullmatch(status) else 'other'
        key = '%s %s' % (method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.counters['sent_bytes'] += sent
        if method == 'PUT':
            self.counters['received_bytes'] += length
        if status in ('401', '403'):
            self.counters['unauthorized'] += 1
        path = OBJECT_PATH.fullmatch(uri)
        if path is None:
            return
        if method in ('GET', 'HEAD') and status == '200':
            self.counters['hits'] += 1
            obj = (path.group(1), path.group(2))
            self.hits[obj] = max(self.hits.get(obj, 0), ns)
        elif method in ('GET', 'HEAD') and status == '404':
            self.counters['misses'] += 1
        elif method == 'PUT' and status.startswith('2'):
            self.counters['puts'] += 1


def _open_log(path):
    """(fd, stat) of the regular file at path, or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EvictError('cannot open the access log %s: %s' % (path, exc)) from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def consume(fd, offset, tally, final=False):
    """Hand the lines of fd from offset to tally; the offset after the last line consumed.

    An incomplete last line is left for the next run, unless final (a rotated log nginx has left):
    then it is skipped."""
    os.lseek(fd, offset, os.SEEK_SET)
    carry = b''
    oversize = False
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            break
        lines = (carry + chunk).split(b'\n')
        carry = lines.pop()
        for line in lines:
            if oversize:
                tally.skip()  # the end of a line too long to be one
                oversize = False
            else:
                tally.line(line)
            offset += len(line) + 1
        if len(carry) > MAX_LINE:
            offset += len(carry)
            carry = b''
            oversize = True
    if final and (carry or oversize):
        tally.skip()
        offset += len(carry)
    return offset


def read_log(path, position, tally):
    """Read the access log from position ({'inode', 'offset'} or {}); the new position and what happened."""
    saved_inode = position.get('inode')
    saved_offset = position.get('offset', 0)
    info = {'rotated': False, 'truncated': False, 'missing': False}
    current = _open_log(path)
    try:
        if current is not None and current[1].st_ino == saved_inode:
            fd, st = current
            offset = saved_offset
            if st.st_size < offset:
                info['truncated'] = True
                offset = 0
            return {'inode': st.st_ino, 'offset': consume(fd, offset, tally)}, info
        if saved_inode is not None:
            rotated = _open_log(path + '.1')
            if rotated is not None:
                fd, st = rotated
                try:
                    if st.st_ino == saved_inode:
                        info['rotated'] = True
                        offset = saved_offset if st.st_size >= saved_offset else 0
                        # The log is gone and not yet recreated: its rotated copy is still the one nginx
                        # writes to, so it keeps its incomplete last line and stays the position.
                        end = consume(fd, offset, tally, final=current is not None)
                        if current is None:
                            info['missing'] = True
                            return {'inode': st.st_ino, 'offset': end}, info
                finally:
                    os.close(fd)
        if current is None:
            info['missing'] = True
            return dict(position), info
        fd, st = current
        return {'inode': st.st_ino, 'offset': consume(fd, 0, tally)}, info
    finally:
        if current is not None:
            os.close(current[0])


# ---- the store ------------------------------------------------------------------------------

def _open_dir(name, dir_fd=None, follow=False):
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    return os.open(name, flags, dir_fd=dir_fd)


def open_store(store):
    """{kind: descriptor of <store>/<kind>, or None when it is missing or not a directory}.

    The store itself is the administrator's path and may be a symlink; ac/ and cas/ below it, where nginx
    writes, are opened without following one."""
    fds = dict.fromkeys(KINDS)
    try:
        top = _open_dir(store, follow=True)
    except (FileNotFoundError, NotADirectoryError):
        return fds
    except OSError as exc:
        raise EvictError('cannot open the store %s: %s' % (store, exc)) from exc
    try:
        for kind in KINDS:
            try:
                fds[kind] = _open_dir(kind, dir_fd=top)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    close_store(fds)
                    raise EvictError('cannot open %s/%s: %s' % (store, kind, exc)) from exc
    finally:
        os.close(top)
    return fds


def close_store(fds):
    for fd in fds.values():
        if fd is not None:
            os.close(fd)


def touch(fds, hits, dry_run=False):
    """Move the mtime and atime of each hit object to the time of its latest hit (never backwards), without
    following a symlink; (objects whose times moved, objects whose times could not be set)."""
    moved = errors = 0
    for (kind, name), ns in sorted(hits.items()):
        fd = fds[kind]
        if fd is None:
            continue
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime_ns >= ns:
                continue
            if not dry_run:
                os.utime(name, ns=(ns, ns), dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # evicted or never stored: nothing to keep
        except OSError:
            errors += 1  # an immutable file, a read-only filesystem: the eviction will say more
            continue
        moved += 1
    return moved, errors


def objects(fd, kind, last_use, now_ns):
    """(last use in ns, kind, name, inode, mtime in ns, bytes) of each object in the directory fd: regular files
    named by 64 hex digits, never followed through a symlink. last_use: {(kind, name): ns} known to be later than
    the mtime (a dry run's touches).

    The last use is the mtime, except one more than an hour ahead of now: nginx sets the mtime of an upload to
    the Date header of the PUT when there is one, and a far-future Date would keep an object forever. Such an
    object counts as the least recently used of all."""
    with os.scandir(fd) as listing:
        for entry in listing:
            if not OBJECT_NAME.fullmatch(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            used = max(st.st_mtime_ns, last_use.get((kind, entry.name), 0))
            if used > now_ns + FUTURE_SLACK_NS:
                used = 0
            yield used, kind, entry.name, st.st_ino, st.st_mtime_ns, st.st_blocks * 512


def measure(fds, store):
    """{kind: [bytes, objects]} of the store."""
    sizes = dict((kind, [0, 0]) for kind in KINDS)
    for kind in KINDS:
        if fds[kind] is None:
            continue
        try:
            for obj in objects(fds[kind], kind, {}, 0):
                sizes[kind][0] += obj[5]
                sizes[kind][1] += 1
        except OSError as exc:
            raise EvictError('cannot walk %s/%s: %s' % (store, kind, exc)) from exc
    return sizes


def oldest(fds, store, last_use, now_ns, need):
    """The least recently used objects that together use at least need bytes, oldest first: held in a heap that
    drops the most recent one whenever the others suffice, so memory goes with the eviction, not the store."""
    heap = []
    held = 0
    for kind in KINDS:
        if fds[kind] is None:
            continue
        try:
            for used, kind_, name, inode, mtime, size in objects(fds[kind], kind, last_use, now_ns):
                heapq.heappush(heap, (-used, kind_, name, inode, mtime, size))
                held += size
                while heap and held - heap[0][5] >= need:
                    held -= heapq.heappop(heap)[5]
        except OSError as exc:
            raise EvictError('cannot walk %s/%s: %s' % (store, kind, exc)) from exc
    return sorted((-used, kind, name, inode, mtime, size) for used, kind, name, inode, mtime, size in heap)


def evict(fds, config, sizes, last_use, now_ns, *, dry_run=False):
    """Delete the least recently used objects until the store is at its low-water mark, when it is above
    max_bytes. Each one is looked at again first and left alone when it is no longer the regular file the walk
    saw (nginx renamed a new upload over it, or something swapped it)."""
    total = sum(size for size, _count in sizes.values())
    done = {'evicted_objects': 0, 'evicted_bytes': 0, 'reached_low_water': None, 'errors': 0, 'plan': []}
    if not config['max_bytes'] or total <= config['max_bytes']:
        return done
    target = config['low_water_bytes']
    candidates = oldest(fds, config['store'], last_use, now_ns, total - target)
    for used, kind, name, inode, mtime, _walked in candidates:
        if total <= target:
            break
        fd = fds[kind]
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_ino != inode or st.st_mtime_ns > mtime:
            continue
        size = st.st_blocks * 512
        if dry_run:
            done['plan'].append((used, kind, name, size))
        else:
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                continue
            except OSError:
                done['errors'] += 1
                continue
        total -= size
        sizes[kind][0] -= size
        sizes[kind][1] -= 1
        done['evicted_objects'] += 1
        done['evicted_bytes'] += size
    done['reached_low_water'] = total <= target
    return done


# ---- metrics ----------------------------------------------------------------------------

def number(value):
    if isinstance(value, float):
        if math.isnan(value):
            return 'NaN'
        return repr(round(value, 6))
    return str(value)


def render_metrics(config, state, sizes, now, duration):
    counters = state['counters']
    lookups = counters['hits'] + counters['misses']
    samples = dict((name, []) for name, _kind, _text in METRICS)
    for key, value in sorted(state['requests'].items()):
        method, code = key.split(' ')
        samples['go_cache_server_requests_total'].append(('method="%s",code="%s"' % (method, code), value))
    for key in ('hits', 'misses', 'puts', 'unauthorized', 'sent_bytes', 'received_bytes', 'evicted_objects',
                'evicted_bytes'):
        samples['go_cache_server_%s_total' % key].append(('', counters[key]))
    samples['go_cache_server_log_skipped_lines_total'].append(('', counters['skipped_lines']))
    for kind in KINDS:
        samples['go_cache_server_bytes'].append(('kind="%s"' % kind, sizes[kind][0]))
        samples['go_cache_server_objects'].append(('kind="%s"' % kind, sizes[kind][1]))
    samples['go_cache_server_max_bytes'].append(('', config['max_bytes']))
    samples['go_cache_server_last_run_timestamp_seconds'].append(('', round(now, 3)))
    samples['go_cache_server_run_duration_seconds'].append(('', round(duration, 3)))
    samples['go_cache_server_hit_ratio'].append(('', float(counters['hits']) / lookups if lookups else 0.0))
    lines = []
    for name, kind, text in METRICS:
        if not samples[name]:
            continue  # no request counted yet: no family rather than an empty one
        lines.append('# HELP %s %s' % (name, text))
        lines.append('# TYPE %s %s' % (name, kind))
        for labels, value in samples[name]:
            lines.append('%s%s %s' % (name, '{%s}' % labels if labels else '', number(value)))
    return '\n'.join(lines) + '\n'


# ---- the run ----------------------------------------------------------------------------

def utc(ns):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ns // 10 ** 9))


def run(config, dry_run=False, now=None):
    """One run; (the JSON log line as a dict, the metrics text, the lines a dry run prints about its plan)."""
    started = time.monotonic()
    lock_fd = None if dry_run else lock(config['state_file'])
    try:
        state = load_state(config['state_file'])
        tally = Tally()
        try:
            position, log_info = read_log(config['access_log'], state['log'], tally)
        except OSError as exc:
            raise EvictError('cannot read the access log %s: %s' % (config['access_log'], exc)) from exc
        now = time.time() if now is None else now
        # A hit is a use at its time, but never a later one than now (a clock that jumped, a forged line).
        now_ns = int(now * 10 ** 9)
        hits = dict((obj, min(ns, now_ns)) for obj, ns in tally.hits.items())
        fds = open_store(config['store'])
        try:
            touched, touch_errors = touch(fds, hits, dry_run)
            last_use = hits if dry_run else {}  # a dry run's touches, which only happened in its mind
            sizes = measure(fds, config['store'])
            done = evict(fds, config, sizes, last_use, now_ns, dry_run=dry_run)
        finally:
            close_store(fds)
        state['log'] = position
        for key, value in tally.counters.items():
            state['counters'][key] += value
        state['counters']['evicted_objects'] += done['evicted_objects']
        state['counters']['evicted_bytes'] += done['evicted_bytes']
        for key, value in tally.requests.items():
            state['requests'][key] = state['requests'].get(key, 0) + value
        duration = time.monotonic() - started
        metrics = render_metrics(config, state, sizes, now, duration)
        log = {
            'event': EVENT, 'dry_run': dry_run, 'lines_read': tally.lines,
            'lines_skipped': tally.counters['skipped_lines'], 'log': log_info, 'touched': touched,
            'touch_errors': touch_errors,
            'evicted_objects': done['evicted_objects'], 'evicted_bytes': done['evicted_bytes'],
            'evict_errors': done['errors'], 'reached_low_water': done['reached_low_water'],
            'store_bytes': sum(size for size, _count in sizes.values()),
            'store_objects': sum(count for _size, count in sizes.values()),
            'store_missing': all(fd is None for fd in fds.values()),
            'duration_seconds': round(duration, 3),
        }
        plan = ['would evict %s (%d bytes, last used %s)'
                % (os.path.join(config['store'], kind, name), size, utc(used))
                for used, kind, name, size in done['plan']]
        if dry_run:
            return log, metrics, plan
        try:
            for path in (config['state_file'], config['metrics_file']):
                os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            write_atomic(config['state_file'], json.dumps(state, sort_keys=True, indent=1) + '\n', 0o600)
            write_atomic(config['metrics_file'], metrics, 0o644)
        except OSError as exc:
            raise EvictError('cannot write %s: %s' % (getattr(exc, 'filename', '') or 'the output', exc)) from exc
        return log, metrics, plan
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the JSON configuration file')
    parser.add_argument('--dry-run', action='store_true',
                        help='count only: no utime, no deletion, no state or metrics file; print the plan and the '
                             'metrics')
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        log, metrics, plan = run(config, dry_run=args.dry_run)
    except (EvictError, OSError) as exc:
        sys.stderr.write(json.dumps({'event': EVENT, 'error': str(exc)}) + '\n')
        return 1
    sys.stdout.write(json.dumps(log, sort_keys=True) + '\n')
    if args.dry_run:
        sys.stdout.write(''.join(line + '\n' for line in plan))
        sys.stdout.write(metrics)
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
