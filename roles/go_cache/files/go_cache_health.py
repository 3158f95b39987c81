#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""go-cache-health: measure, audit and clean up the shared Go caches.

Installed by the go_cache role of go-buildhost and run by go-cache-health.timer.
Needs Python 3 and its standard library only, plus go_cache_audit.py next to
this file (the role installs it from the collection's plugins/module_utils, the same code the
go_cache_perms module repairs with).

For each cache in the configuration it walks the tree once and measures its
size, file count, the age of its oldest and newest files, and the space and
inode usage of its filesystem; it audits permissions (wrong owner or group,
not group-writable, a missing default ACL, world-writable entries, entries a
member cannot write); above max_bytes it cleans up (oldest first down to the
low-water mark, or `go clean -cache`); it writes Prometheus textfile metrics
atomically; it posts one webhook message per change of condition; and it
logs one JSON line (to the journal when run by systemd).

A build cache may hold the local disk tier of the GOCACHEPROG helper (go_cacheprog.py, `remote` in
the configuration: its `dir`, inside the cache, and its `stats_file`). Go never touches that
directory, so the health check does: the tier's entries (a/<2 hex>/<64 hex> and o/<2 hex>/<64 hex>)
are trimmed together with Go's own, least recently used first; after `go clean -cache` it empties
the tier's a/ and o/ too (keeping the tier's directory, stats.json and breaker.json); and it
exports the tier's size and the helper's counters as metrics.

Exit status: 0 whenever the run completed, whatever it found; 1 on its own
errors (unreadable configuration, metrics or state file not writable, ...).
"""

import argparse
import collections
import errno
import grp
import json
import math
import os
import pwd
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# Installed beside this file from the collection's plugins/module_utils/go_cache_audit.py, the one
# source the go_cache_perms module uses too; Python puts a script's own directory first on its path.
import go_cache_audit as audit

CONDITION_TEXT = {
    'missing': 'the cache directory is missing',
    'permissions': 'permission problems',
    'size': 'over its size limit',
    'inodes': 'its filesystem is running out of inodes',
    'space': 'its filesystem is running out of space',
    'stale_members': "members' services or sessions started before their user joined the group (restart them)",
}
GOCACHE_ENTRY = re.compile(r'^[0-9a-f]{2}/[0-9a-f]+-[ad]$')
GOCACHE_SUBDIR = re.compile(r'^[0-9a-f]{2}$')
# The counters go_cacheprog.py adds up in its stats file, and what each counts.
REMOTE_COUNTERS = (
    ('local_hits', 'Gets the GOCACHEPROG helper answered from its local disk tier.'),
    ('remote_hits', 'Gets the GOCACHEPROG helper answered from the cache server.'),
    ('misses', 'Gets neither tier of the GOCACHEPROG helper could answer.'),
    ('corrupt', 'Answers of the cache server the GOCACHEPROG helper refused (bad entry, hash or size).'),
    ('puts', 'Build outputs go stored through the GOCACHEPROG helper.'),
    ('uploads', 'Build outputs the GOCACHEPROG helper uploaded to the cache server.'),
    ('upload_errors', 'Uploads of the GOCACHEPROG helper that failed, were refused or were given up.'),
    ('bytes_fetched', 'Bytes of objects the GOCACHEPROG helper fetched from the cache server.'),
    ('bytes_uploaded', 'Bytes of objects the GOCACHEPROG helper uploaded to the cache server.'),
    ('breaker_opens', "Times the GOCACHEPROG helper's circuit breaker opened (cache server failures in a row)."),
    ('processes', 'GOCACHEPROG helper processes that added their counters to the stats file.'),
)
REMOTE_STATS_LIMIT = 64 * 1024
REMOTE_COUNTER_MAX = 2 ** 63  # above it, a value a member wrote could print as a number no scraper parses

METRICS = (
    ('go_cache_bytes', 'gauge', 'Disk space the cache uses, in bytes of allocated blocks (like du).'),
    ('go_cache_files', 'gauge', 'Regular files in the cache.'),
    ('go_cache_max_bytes', 'gauge', 'Size above which the health check cleans the cache up; 0 when it never does.'),
    ('go_cache_fs_bytes_used_ratio', 'gauge', "Used share of the space of the cache's filesystem (like df)."),
    ('go_cache_fs_inodes_used_ratio', 'gauge', "Used share of the inodes of the cache's filesystem."),
    ('go_cache_oldest_entry_age_seconds', 'gauge',
     'Age of the least recently modified file (Go refreshes the mtime of entries it uses, at most hourly).'),
    ('go_cache_newest_entry_age_seconds', 'gauge', 'Age of the most recently modified file.'),
    ('go_cache_permission_problems', 'gauge', 'Entries with each permission problem (0 everywhere is healthy).'),
    ('go_cache_cleanup_freed_bytes_total', 'counter', 'Bytes the cleanup has freed since the state file was created.'),
    ('go_cache_last_run_timestamp_seconds', 'gauge', 'When the health check last completed, in Unix time.'),
    ('go_cache_health_duration_seconds', 'gauge', 'How long the last health check run took.'),
    ('go_cache_webhook_failures_total', 'counter', 'Webhook messages that could not be delivered after every retry.'),
    ('go_cache_stale_member_processes', 'gauge',
     "Processes of the group's members that lack the group (started before their user joined it): they cannot "
     "write the shared caches until restarted."),
    ('go_cacheprog_tier_bytes', 'gauge',
     "Disk space the GOCACHEPROG helper's local tier uses inside the build cache (part of go_cache_bytes)."),
    ('go_cacheprog_tier_files', 'gauge',
     "Regular files in the GOCACHEPROG helper's local tier (part of go_cache_files)."),
) + tuple(('go_cacheprog_%s_total' % key, 'counter', text) for key, text in REMOTE_COUNTERS)
PROBLEM_NAMES = audit.PROBLEMS + ('missing',)


class HealthError(Exception):
    """An error of the health check itself: exit status 1."""


# ---- configuration -----------------------------------------------------------------

def load_config(path):
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise HealthError('cannot read the configuration %s: %s' % (path, exc)) from exc
    for key in ('group', 'caches', 'metrics_file', 'state_file'):
        if key not in config:
            raise HealthError('the configuration %s has no %r' % (path, key))
    for cache in config['caches']:
        for key in ('name', 'path', 'kind'):
            if key not in cache:
                raise HealthError('a cache in %s has no %r' % (path, key))
        if not os.path.isabs(cache['path']):
            raise HealthError('cache path %r in %s is not absolute' % (cache['path'], path))
        cache.setdefault('max_bytes', 0)
        cache.setdefault('low_water_bytes', int(cache['max_bytes'] * 0.8))
        cache.setdefault('cleanup', 'trim' if cache['kind'] == 'build' else 'none')
        cache['remote'] = check_remote(cache, path)
    config.setdefault('owner', 'root')
    config.setdefault('thresholds', {})
    config['thresholds'].setdefault('fs_inodes_used_ratio', 0.85)
    config['thresholds'].setdefault('fs_bytes_used_ratio', 0.90)
    config.setdefault('webhook', {})
    config['webhook'].setdefault('url_file', None)
    config['webhook'].setdefault('retries', 3)
    config['webhook'].setdefault('backoff_seconds', 2.0)
    config['webhook'].setdefault('timeout_seconds', 10.0)
    config.setdefault('go', '/usr/local/bin/go')
    return config


def check_remote(cache, path):
    """The cache's GOCACHEPROG tier settings, its dir normalized, or None; HealthError when they are wrong."""
    remote = cache.get('remote')
    if remote is None:
        return None
    if not isinstance(remote, dict):
        raise HealthError('the remote of cache %r in %s is not an object' % (cache['name'], path))
    if cache['kind'] != 'build':
        raise HealthError('cache %r in %s has a remote, which only a build cache can have' % (cache['name'], path))
    for key in ('dir', 'stats_file'):
        value = remote.get(key)
        if not isinstance(value, str) or not os.path.isabs(value):
            raise HealthError('remote %s %r of cache %r in %s is not an absolute path'
                              % (key, value, cache['name'], path))
    top = os.path.normpath(cache['path'])
    tier = os.path.normpath(remote['dir'])
    if tier == top or os.path.commonpath([top, tier]) != top:
        raise HealthError('remote dir %r of cache %r in %s is not inside the cache'
                          % (remote['dir'], cache['name'], path))
    stats = os.path.normpath(remote['stats_file'])
    if os.path.commonpath([top, stats]) != top or stats == top:
        raise HealthError('remote stats_file %r of cache %r in %s is not inside the cache'
                          % (remote['stats_file'], cache['name'], path))
    return dict(remote, dir=tier, stats_file=stats)


def cache_stats(cache):
    """read_remote_stats of the cache's stats file, opened one directory at a time from the cache's own
    directory, never through a symlink: members can swap the tier's directory for one."""
    parts = tuple(os.path.relpath(cache['remote']['stats_file'], os.path.normpath(cache['path'])).split('/'))
    top = audit.open_top(cache['path'])
    if top is None:
        return read_remote_stats('/nonexistent')
    fds = {(): top}
    try:
        dir_fd = _open_dir(fds, parts[:-1])
        return read_remote_stats(parts[-1], dir_fd) if dir_fd is not None else read_remote_stats('/nonexistent')
    finally:
        _close_all(fds)


def tier_parts(cache):
    """The path components of the cache's GOCACHEPROG tier below the cache directory, or None."""
    remote = cache.get('remote')
    if not remote:
        return None
    return tuple(os.path.relpath(remote['dir'], os.path.normpath(cache['path'])).split('/'))


def load_state(path):
    try:
        with open(path) as handle:
            state = json.load(handle)
    except FileNotFoundError:
        state = {}
    except (OSError, ValueError):
        state = {}  # a damaged state file costs at most one repeated message and restarted counters
    state.setdefault('freed_bytes_total', {})
    state.setdefault('webhook_failures_total', 0)
    state.setdefault('notified', {})
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


# ---- measuring and auditing ---------------------------------------------------------

class Report:
    def __init__(self, cache):
        self.cache = cache
        self.exists = False
        self.bytes = 0
        self.files = 0
        self.oldest = None
        self.newest = None
        self.problems = collections.Counter()
        self.problem_uids = collections.Counter()
        self.uid_bytes = collections.Counter()
        self.examples = []
        self.candidates = {}
        self.fs_bytes_ratio = 0.0
        self.fs_inodes_ratio = 0.0
        self.remote_bytes = 0
        self.remote_files = 0
        self.remote_stats = dict.fromkeys((key for key, _text in REMOTE_COUNTERS), 0)

    @property
    def problem_total(self):
        return sum(self.problems.values())


def read_remote_stats(path, dir_fd=None):
    """The GOCACHEPROG helper's counters in its stats file: 0 for each one missing or not a whole number >= 0.

    Members write that file: a symlink, a FIFO, a file over 64 KiB or garbage there means zeros, never an error.
    path is relative to dir_fd when that is given.
    """
    counts = dict.fromkeys((key for key, _text in REMOTE_COUNTERS), 0)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return counts
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return counts
        data = b''
        while len(data) < REMOTE_STATS_LIMIT:
            chunk = os.read(fd, REMOTE_STATS_LIMIT - len(data))
            if not chunk:
                break
            data += chunk
        raw = json.loads(data.decode('utf-8'))
    except (OSError, ValueError, RecursionError):  # RecursionError: 64 KiB of [[[[ ...
        return counts
    finally:
        os.close(fd)
    if not isinstance(raw, dict):
        return counts
    for key in counts:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < REMOTE_COUNTER_MAX:
            counts[key] = value
    return counts


def measure(cache, policy, collect_candidates=False):
    """Walk one cache once: size, files, ages, permission problems and (for trimming) its Go cache entries
    and the entries of its GOCACHEPROG tier."""
    report = Report(cache)
    tier = tier_parts(cache)
    if tier is not None:
        tier_rel = '/'.join(tier)
        tier_entry = re.compile(r'^%s/[ao]/[0-9a-f]{2}/[0-9a-f]{64}$' % re.escape(tier_rel))
        report.remote_stats = cache_stats(cache)
    fd = audit.open_top(cache['path'])
    if fd is None:
        report.problems['missing'] = 1
        return report
    report.exists = True
    try:
        for entry in audit.walk(fd, cache['path']):
            st = entry.st
            used = st.st_blocks * 512
            report.bytes += used
            report.uid_bytes[st.st_uid] += used
            if entry.is_file:
                report.files += 1
                mtime = st.st_mtime
                if report.oldest is None or mtime < report.oldest:
                    report.oldest = mtime
                if report.newest is None or mtime > report.newest:
                    report.newest = mtime
            if tier is not None and (entry.rel == tier_rel or entry.rel.startswith(tier_rel + '/')):
                report.remote_bytes += used
                if entry.is_file:
                    report.remote_files += 1
                if collect_candidates and entry.is_file and tier_entry.match(entry.rel):
                    report.candidates[tuple(entry.rel.split('/'))] = [max(st.st_mtime, st.st_atime), used, False]
            elif collect_candidates and entry.depth >= 2:
                key = entry.rel.split('/', 2)
                if entry.depth == 2 and GOCACHE_ENTRY.match(entry.rel) and (entry.is_file or entry.is_dir):
                    # Last use: Go moves the mtime only of entries it owns; a read by another
                    # member moves the atime (daily under relatime; never with noatime).
                    report.candidates[(key[0], key[1])] = [max(st.st_mtime, st.st_atime), used, entry.is_dir]
                elif entry.depth > 2 and (key[0], key[1]) in report.candidates:
                    report.candidates[(key[0], key[1])][1] += used
            if not (entry.is_dir or entry.is_file) or policy is None:
                continue
            found = audit.check(st, entry.access, entry.default, policy, top=entry.top)
            if found:
                report.problems.update(found)
                report.problem_uids[st.st_uid] += 1
                if len(report.examples) < 5:
                    report.examples.append('%s (uid %d): %s' % (entry.rel or '.', st.st_uid, ', '.join(found)))
    finally:
        os.close(fd)
    if policy is None:
        report.problems['wrong_group'] += 1
    try:
        vfs = os.statvfs(cache['path'])
    except OSError:
        return report
    used_blocks = vfs.f_blocks - vfs.f_bfree
    if used_blocks + vfs.f_bavail:
        report.fs_bytes_ratio = used_blocks / float(used_blocks + vfs.f_bavail)
    if vfs.f_files:
        report.fs_inodes_ratio = (vfs.f_files - vfs.f_ffree) / float(vfs.f_files)
    return report


# ---- cleanup --------------------------------------------------------------------------

def _open_subdir(top_fd, name):
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=top_fd)
    return fd


def _open_dir(fds, parts):
    """The descriptor of the directory at the path components parts below fds[()], or None when it cannot be
    opened. Each component is opened relative to the one before it, never through a symlink; fds keeps them all."""
    if parts not in fds:
        parent = _open_dir(fds, parts[:-1])
        try:
            fds[parts] = None if parent is None else _open_subdir(parent, parts[-1])
        except OSError:
            fds[parts] = None
    return fds[parts]


def _close_all(fds):
    for fd in fds.values():
        if fd is not None:
            os.close(fd)


def _rmtree(name, dir_fd):
    """Remove a directory and its content relative to a directory descriptor, never following a symlink.

    shutil.rmtree takes a dir_fd only from Python 3.11 on.
    """
    fd = _open_subdir(dir_fd, name)
    try:
        with os.scandir(fd) as listing:
            children = [(child.name, child.is_dir(follow_symlinks=False)) for child in listing]
        for child, is_dir in children:
            _remove(child, fd, is_dir)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def _remove(name, dir_fd, is_dir):
    """Remove one entry relative to a directory descriptor, never following a symlink."""
    try:
        if is_dir:
            _rmtree(name, dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY, errno.EMFILE):
            return False  # no longer what the walk saw (a member swapped it or wrote into it): left alone
        raise
    except RecursionError:
        return False  # a tree deeper than any Go cache entry: a member planted it; the audit reports it
    return True


def trim(report):
    """Delete Go cache entries and GOCACHEPROG tier entries least recently used first until the cache is at
    its low-water mark."""
    cache = report.cache
    target = cache['low_water_bytes']
    size = report.bytes
    freed = files = 0
    fds = {(): audit.open_top(cache['path'])}
    try:
        for parts, (_used_at, used, is_dir) in sorted(report.candidates.items(), key=lambda kv: kv[1][0]):
            if size <= target:
                break
            dir_fd = _open_dir(fds, parts[:-1])
            if dir_fd is None:
                continue
            if _remove(parts[-1], dir_fd, is_dir):
                size -= used
                freed += used
                files += 1
    finally:
        _close_all(fds)
    return {'method': 'trim', 'freed_bytes': freed, 'removed_entries': files, 'reached_low_water': size <= target}


def empty(report):
    """Remove everything inside the cache directory, keeping the directory itself (its owner, mode and ACLs).

    What `go clean -modcache` does, except that Go also removes the directory,
    which the members cannot recreate under root's /var/cache/go.
    """
    top_fd = audit.open_top(report.cache['path'])
    removed = 0
    try:
        with os.scandir(top_fd) as listing:
            children = [(child.name, child.is_dir(follow_symlinks=False)) for child in listing]
        for name, is_dir in children:
            removed += _remove(name, top_fd, is_dir)
    finally:
        os.close(top_fd)
    return {'method': 'empty', 'removed_entries': removed}


def empty_tier(cache):
    """Remove everything in the a/ and o/ of the cache's GOCACHEPROG tier, never through a symlink; the number
    of entries removed. The tier's directory, a/ and o/ themselves, stats.json and breaker.json stay."""
    fds = {(): audit.open_top(cache['path'])}
    removed = 0
    try:
        for kind in ('a', 'o'):
            fd = _open_dir(fds, tier_parts(cache) + (kind,))
            if fd is None:
                continue
            with os.scandir(fd) as listing:
                children = [(child.name, child.is_dir(follow_symlinks=False)) for child in listing]
            for name, is_dir in children:
                removed += _remove(name, fd, is_dir)
    finally:
        _close_all(fds)
    return removed


def go_clean(report, config, state_dir):
    """`go clean -cache`, then (Go never looks there) empty_tier of the GOCACHEPROG tier."""
    env = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': state_dir, 'GOCACHE': report.cache['path'],
           'GOTOOLCHAIN': 'local', 'GOFLAGS': '-modcacherw', 'GOENV': 'off'}
    try:
        proc = subprocess.run([config['go'], 'clean', '-cache'], env=env, capture_output=True, text=True,
                              timeout=3600, check=False)
    except OSError as exc:
        raise HealthError('cannot run %s clean -cache: %s' % (config['go'], exc)) from exc
    if proc.returncode != 0:
        raise HealthError('%s clean -cache failed (%d): %s' % (config['go'], proc.returncode, proc.stderr.strip()))
    done = {'method': 'go clean -cache'}
    if tier_parts(report.cache) is not None:
        try:
            done['remote_removed_entries'] = empty_tier(report.cache)
        except OSError as exc:
            raise HealthError('cannot empty the GOCACHEPROG tier %s: %s' % (report.cache['remote']['dir'], exc)) \
                from exc
    return done


def cleanup(report, config, state_dir):
    cache = report.cache
    if not report.exists or not cache['max_bytes'] or report.bytes <= cache['max_bytes']:
        return None
    before = report.bytes
    if cache['cleanup'] == 'trim' and cache['kind'] == 'build':
        done = trim(report)
    elif cache['cleanup'] == 'go_clean' and cache['kind'] == 'build':
        done = go_clean(report, config, state_dir)
    elif cache['cleanup'] == 'empty':
        done = empty(report)
    else:
        return {'method': 'none', 'freed_bytes': 0, 'over_by_bytes': before - cache['max_bytes']}
    done['before_bytes'] = before
    return done


# ---- metrics ------------------------------------------------------------------------

def label_value(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def number(value):
    if isinstance(value, float):
        if math.isnan(value):
            return 'NaN'
        return repr(round(value, 6))
    return str(value)


def age(now, then):
    return round(max(now - then, 0.0), 3) if then is not None else 0.0


def render_metrics(reports, state, now, duration, stale=()):
    samples = collections.defaultdict(list)
    samples['go_cache_stale_member_processes'].append(('', sum(len(s['pids']) for s in stale)))
    for report in reports:
        cache = report.cache
        labels = 'cache="%s",path="%s"' % (label_value(cache['name']), label_value(cache['path']))
        samples['go_cache_bytes'].append((labels, report.bytes))
        samples['go_cache_files'].append((labels, report.files))
        samples['go_cache_max_bytes'].append((labels, cache['max_bytes']))
        samples['go_cache_fs_bytes_used_ratio'].append((labels, float(report.fs_bytes_ratio)))
        samples['go_cache_fs_inodes_used_ratio'].append((labels, float(report.fs_inodes_ratio)))
        samples['go_cache_oldest_entry_age_seconds'].append((labels, age(now, report.oldest)))
        samples['go_cache_newest_entry_age_seconds'].append((labels, age(now, report.newest)))
        for problem in PROBLEM_NAMES:
            samples['go_cache_permission_problems'].append(
                ('%s,problem="%s"' % (labels, problem), report.problems.get(problem, 0)))
        samples['go_cache_cleanup_freed_bytes_total'].append(
            (labels, state['freed_bytes_total'].get(cache['name'], 0)))
        if cache.get('remote'):
            samples['go_cacheprog_tier_bytes'].append((labels, report.remote_bytes))
            samples['go_cacheprog_tier_files'].append((labels, report.remote_files))
            for key, _text in REMOTE_COUNTERS:
                samples['go_cacheprog_%s_total' % key].append((labels, report.remote_stats[key]))
    samples['go_cache_last_run_timestamp_seconds'].append(('', round(now, 3)))
    samples['go_cache_health_duration_seconds'].append(('', round(duration, 3)))
    samples['go_cache_webhook_failures_total'].append(('', state['webhook_failures_total']))
    lines = []
    for name, kind, text in METRICS:
        if not samples[name]:
            continue  # the remote metrics of a host without a GOCACHEPROG tier: no family at all
        lines.append('# HELP %s %s' % (name, text))
        lines.append('# TYPE %s %s' % (name, kind))
        for labels, value in samples[name]:
            lines.append('%s%s %s' % (name, '{%s}' % labels if labels else '', number(value)))
    return '\n'.join(lines) + '\n'


# ---- conditions and the webhook ---------------------------------------------------------

def user_text(uid):
    try:
        return '%d (%s)' % (uid, pwd.getpwuid(uid).pw_name)
    except KeyError:
        return '%d (no such user)' % uid


def human(size):
    value = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if value < 1024 or unit == 'TiB':
            return '%.1f %s' % (value, unit) if unit != 'B' else '%d B' % size
        value /= 1024
    return '%d B' % size


def conditions(reports, config, stale=()):
    """{"<cache>:<condition>": details} of everything wrong after this run."""
    found = {}
    if stale:
        found['members:stale_members'] = {'cache': 'members', 'path': config['group'], 'bytes': 0, 'uids': [],
                                          'units': ['%s (%s)' % (s['unit'], s['user']) for s in stale]}
    limits = config['thresholds']
    for report in reports:
        cache = report.cache
        top_owners = [uid for uid, _n in report.uid_bytes.most_common(3)]
        base = {'cache': cache['name'], 'path': cache['path'], 'bytes': report.bytes}
        if not report.exists:
            found['%s:missing' % cache['name']] = dict(base, uids=[])
            continue
        if report.problem_total:
            found['%s:permissions' % cache['name']] = dict(
                base, uids=[uid for uid, _n in report.problem_uids.most_common(5)],
                problems=dict((k, v) for k, v in sorted(report.problems.items()) if v), examples=report.examples)
        if cache['max_bytes'] and report.bytes > cache['max_bytes']:
            found['%s:size' % cache['name']] = dict(base, uids=top_owners, max_bytes=cache['max_bytes'])
        if report.fs_inodes_ratio > limits['fs_inodes_used_ratio']:
            found['%s:inodes' % cache['name']] = dict(base, uids=top_owners, ratio=round(report.fs_inodes_ratio, 4))
        if report.fs_bytes_ratio > limits['fs_bytes_used_ratio']:
            found['%s:space' % cache['name']] = dict(base, uids=top_owners, ratio=round(report.fs_bytes_ratio, 4))
    return found


def ls_snapshot(path):
    try:
        proc = subprocess.run(['ls', '-ldL', '--', path], capture_output=True, text=True, timeout=10, check=False,
                              env={'LC_ALL': 'C', 'PATH': '/usr/bin:/bin'})
    except (OSError, subprocess.SubprocessError) as exc:
        return 'ls -ldL %s: %s' % (path, exc)
    return (proc.stdout or proc.stderr).strip()


def message(host, new, resolved):
    """A Slack-compatible incoming-webhook payload for one change of condition."""
    parts = []
    attachments = []
    for key, details in sorted(new.items()):
        condition = key.split(':', 1)[1]
        parts.append('%s %s' % (details['path'], CONDITION_TEXT[condition]))
        fields = [
            {'title': 'Host', 'value': host, 'short': True},
            {'title': 'Cache', 'value': '%s (%s)' % (details['path'], details['cache']), 'short': True},
            {'title': 'Size', 'value': '%s (%d bytes)' % (human(details['bytes']), details['bytes']), 'short': True},
            {'title': 'Affected UID', 'value': ', '.join(user_text(uid) for uid in details['uids']) or 'none',
             'short': True},
        ]
        if 'problems' in details:
            fields.append({'title': 'Problems', 'short': False,
                           'value': ', '.join('%s: %d' % kv for kv in sorted(details['problems'].items()))})
            fields.append({'title': 'Examples', 'short': False, 'value': '\n'.join(details['examples'])})
        if 'max_bytes' in details:
            fields.append({'title': 'Limit', 'value': human(details['max_bytes']), 'short': True})
        if 'ratio' in details:
            fields.append({'title': 'Filesystem used', 'value': '%.1f%%' % (details['ratio'] * 100), 'short': True})
        if 'units' in details:
            fields.append({'title': 'Units', 'value': '\n'.join(details['units']), 'short': False})
        attachments.append({
            'color': 'danger', 'title': '%s: %s' % (details['path'], CONDITION_TEXT[condition]),
            'fallback': '%s on %s: %s' % (details['path'], host, CONDITION_TEXT[condition]),
            'fields': fields, 'text': '```\n$ ls -ldL %s\n%s\n```' % (details['path'], ls_snapshot(details['path'])),
            'mrkdwn_in': ['text'],
        })
    for key, details in sorted(resolved.items()):
        condition = key.split(':', 1)[1]
        parts.append('resolved: %s %s' % (details['path'], CONDITION_TEXT[condition]))
        attachments.append({
            'color': 'good', 'title': 'Resolved: %s: %s' % (details['path'], CONDITION_TEXT[condition]),
            'fallback': 'resolved on %s: %s %s' % (host, details['path'], CONDITION_TEXT[condition]),
            'fields': [{'title': 'Host', 'value': host, 'short': True},
                       {'title': 'Affected UID', 'value': ', '.join(user_text(u) for u in details.get('uids', []))
                        or 'none', 'short': True}],
            'text': '```\n$ ls -ldL %s\n%s\n```' % (details['path'], ls_snapshot(details['path'])),
            'mrkdwn_in': ['text'],
        })
    return {'text': 'go-cache-health on %s: %s' % (host, '; '.join(parts)), 'attachments': attachments}


def post(url, payload, webhook, sleep=time.sleep):
    """POST with retries and exponential backoff; return None on success, else the last error."""
    data = json.dumps(payload).encode('utf-8')
    error = None
    for attempt in range(int(webhook['retries']) + 1):
        if attempt:
            sleep(float(webhook['backoff_seconds']) * 2 ** (attempt - 1))
        # The scheme is checked in read_url: http(s) only, never file:.
        request = urllib.request.Request(url, data=data, method='POST', headers={  # noqa: S310
            'Content-Type': 'application/json', 'User-Agent': 'go-cache-health'})
        try:
            with urllib.request.urlopen(request, timeout=float(webhook['timeout_seconds'])) as response:  # noqa: S310
                response.read()
            return None
        except urllib.error.HTTPError as exc:
            error = 'HTTP %d' % exc.code
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                return error  # the receiver refuses this message: retrying will not help
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, 'reason', exc))
    return error


def read_url(path):
    if not path:
        return None
    try:
        with open(path) as handle:
            url = handle.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HealthError('cannot read the webhook URL file %s: %s' % (path, exc)) from exc
    if not url:
        return None
    if not url.startswith(('http://', 'https://')):
        raise HealthError('the webhook URL in %s does not start with http:// or https://' % path)
    return url


def notify(config, state, current, host, sleep=time.sleep):
    """Send one message when the set of conditions differs from the one last delivered."""
    url = read_url(config['webhook']['url_file'])
    previous = state['notified']
    if url is None or set(current) == set(previous):
        return {'sent': False}
    new = dict((k, v) for k, v in current.items() if k not in previous)
    resolved = dict((k, v) for k, v in previous.items() if k not in current)
    error = post(url, message(host, new, resolved), config['webhook'], sleep=sleep)
    if error is not None:
        state['webhook_failures_total'] += 1
        return {'sent': False, 'error': error, 'new': sorted(new), 'resolved': sorted(resolved)}
    state['notified'] = dict((k, {'path': v['path'], 'cache': v['cache'], 'uids': v['uids']})
                             for k, v in current.items())
    return {'sent': True, 'new': sorted(new), 'resolved': sorted(resolved)}


# ---- the run ----------------------------------------------------------------------------

def run(config, dry_run=False, now=None, sleep=time.sleep, host=None):
    started = time.time()
    state_dir = os.path.dirname(config['state_file'])
    state = load_state(config['state_file'])
    try:
        gid = grp.getgrnam(config['group']).gr_gid
    except KeyError:
        gid = None  # reported as a wrong group on every cache
    try:
        owner_uid = pwd.getpwnam(config['owner']).pw_uid
    except KeyError as exc:
        raise HealthError('the owner %s does not exist' % config['owner']) from exc
    reports = []
    log = {'event': 'go-cache-health', 'caches': {}}
    for cache in config['caches']:
        policy = audit.Policy(gid, cache['kind'], owner_uid) if gid is not None else None
        try:
            report = measure(cache, policy, collect_candidates=cache['kind'] == 'build')
        except (OSError, audit.AuditError) as exc:
            raise HealthError('cannot walk %s: %s' % (cache['path'], exc)) from exc
        done = None if dry_run else cleanup(report, config, state_dir)
        if done and done['method'] != 'none':
            report = measure(cache, policy)
            if 'freed_bytes' not in done:
                done['freed_bytes'] = max(done['before_bytes'] - report.bytes, 0)
            freed = state['freed_bytes_total']
            freed[cache['name']] = freed.get(cache['name'], 0) + done['freed_bytes']
        reports.append(report)
        log['caches'][cache['name']] = {
            'path': cache['path'], 'bytes': report.bytes, 'files': report.files,
            'fs_bytes_used_ratio': round(report.fs_bytes_ratio, 4),
            'fs_inodes_used_ratio': round(report.fs_inodes_ratio, 4),
            'permission_problems': report.problem_total,
            'problems': dict((k, v) for k, v in sorted(report.problems.items()) if v),
            'cleanup': done,
        }
    stale = audit.stale_members(gid) if gid is not None else []
    log['stale_members'] = stale
    current = conditions(reports, config, stale)
    log['conditions'] = sorted(current)
    host = host or socket.getfqdn()
    if not dry_run:
        log['webhook'] = notify(config, state, current, host, sleep=sleep)
    now = time.time() if now is None else now
    duration = time.time() - started
    log['duration_seconds'] = round(duration, 3)
    metrics = render_metrics(reports, state, now, duration, stale)
    if dry_run:
        return log, metrics
    try:
        for path in (config['state_file'], config['metrics_file']):
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o755)
        write_atomic(config['state_file'], json.dumps(state, sort_keys=True, indent=1) + '\n', 0o600)
        write_atomic(config['metrics_file'], metrics, 0o644)
    except OSError as exc:
        raise HealthError('cannot write %s: %s' % (getattr(exc, 'filename', '') or 'the output', exc)) from exc
    return log, metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='/etc/go-cache/health.json')
    parser.add_argument('--dry-run', action='store_true',
                        help='measure and audit only: no cleanup, no webhook; print the metrics, write nothing')
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        log, metrics = run(config, dry_run=args.dry_run)
    except HealthError as exc:
        sys.stderr.write(json.dumps({'event': 'go-cache-health', 'error': str(exc)}) + '\n')
        return 1
    except OSError as exc:
        if exc.errno == errno.EACCES:
            sys.stderr.write(json.dumps({'event': 'go-cache-health', 'error': 'permission denied: %s (run it as '
                                         'root, as go-cache-health.service does)' % exc}) + '\n')
            return 1
        raise
    sys.stdout.write(json.dumps(log, sort_keys=True) + '\n')
    if args.dry_run:
        sys.stdout.write(metrics)
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
