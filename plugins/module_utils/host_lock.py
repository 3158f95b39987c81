# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host-wide lock around every go-buildhost module's read-compare-write.

Two overlapping runs against one host (a schedule and a manual run, two AWX
jobs) then take turns step by step: each module sees the state the other
left, and neither can interleave writes. The lock is flock(2) on a file
under /run, so it dies with its holder: a killed run never leaves it stuck.
Holder details go next to it, so a waiting run can say who holds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import json
import os
import time

LOCK_PATH = '/run/go-buildhost.lock'
DEFAULT_TIMEOUT = 300


def lock_argument_spec():
    return dict(lock_timeout=dict(type='int', default=DEFAULT_TIMEOUT),
                lock_path=dict(type='path', default=LOCK_PATH))


def _holder(path):
    try:
        with open(path + '.holder') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def hold_host_lock(module, what):
    """Take the lock for the rest of the module's process (exit_json ends it and so frees the lock)."""
    holder = host_lock(module, what)
    holder.__enter__()
    # Kept on the module: a dropped context would be collected, and close the lock, at once.
    module._go_buildhost_lock = holder
    return holder


@contextlib.contextmanager
def host_lock(module, what):
    """Hold the lock for the body, waiting up to lock_timeout seconds; fail_json naming the holder."""
    path = module.params.get('lock_path') or LOCK_PATH
    timeout = module.params.get('lock_timeout')
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    module.fail_json(
                        msg='Another go-buildhost run holds %s: %s (pid %s, since %s). Waited %d s '
                            '(go_buildhost_lock_timeout); nothing was changed. Let it finish, or stop it '
                            'if it is stuck, then run again.'
                            % (path, holder.get('what', 'unknown step'), holder.get('pid', '?'),
                               holder.get('since', '?'), timeout),
                        lock_holder=holder)
                time.sleep(0.2)
        info = {'what': what, 'pid': os.getpid(), 'since': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
        with open(path + '.holder.tmp', 'w') as handle:
            json.dump(info, handle)
        os.rename(path + '.holder.tmp', path + '.holder')
        yield info
    finally:
        os.close(fd)
