#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_env_file
short_description: Manage Go environment variables in go.env-style files, for many files in one call
description:
  - Sets, replaces and removes C(KEY=VALUE) lines in Go env files, the format of C($GOROOT/go.env) and of the
    per-user file C(go env -w) writes. Comments, blank lines and keys not in I(env) are kept; values are
    replaced where they stand, new keys are appended.
  - A marker comment records the keys the module set, so a key dropped from I(env) later is removed too.
  - One call manages every file given by I(path) (glob patterns allowed), the C(go.env) of every Go toolchain
    found under I(install_root), and I(files), which may also be rendered as a shell profile snippet or as a
    systemd C(DefaultEnvironment=) drop-in.
  - Validates the values the way the go command and the Go runtime read them (GOPROXY, GOSUMDB, pattern
    lists, GOFLAGS, GOTOOLCHAIN, GOMEMLIMIT, GOGC, GOMAXPROCS, GOTRACEBACK, GODEBUG) and refuses settings that
    switch off module integrity checks unless I(allow_insecure) is set.
  - Optionally finds per-user Go env files (C(~/.config/go/env)) that override I(env) and reports them, or
    removes the overriding keys.
  - Every write goes through a temporary file in the same directory and a rename.
  - Before anything is written, refuses a GOCACHE or GOMODCACHE that every account's C(go) would write into
    the system (C(module_utils/path_guard.py)); a system tree (C(/usr), C(/home), ...), an account's home,
    a path below a symlink, or an existing directory that does not look like such a cache; and an
    I(install_root) that is a system tree.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  env:
    description:
      - Variables to set. A C(null) value removes the key.
      - Keys the module set before (listed in its marker comment) that are not in I(env) any more are removed.
    type: dict
    required: true
  path:
    description:
      - Go env files (C(KEY=VALUE) format) to manage. Entries containing C(*), C(?) or C([) are glob
        patterns and match existing files only; other entries are created when missing.
    type: list
    elements: str
    default: []
  install_root:
    description:
      - A directory whose subdirectories are GOROOTs (C(go_toolchain_install_root)). The C(go.env) of each one
        that holds C(bin/go) is managed. Toolchains older than Go 1.21, which do not read C(go.env), are
        reported in C(unsupported_toolchains) and left alone.
    type: path
  files:
    description: Further files, each in its own format and state.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      format:
        description:
          - C(env) edits C(KEY=VALUE) lines in place, like I(path) (e.g. C(/etc/environment)).
          - C(profile) owns the whole file, a POSIX shell snippet exporting the variables.
          - C(systemd) owns the whole file, a C([Manager]) drop-in with C(DefaultEnvironment=).
          - The whole-file formats are deleted when no variable has a value.
        type: str
        choices: [env, profile, systemd]
        default: env
      state:
        description: C(absent) removes the managed keys (C(env)) or the file (C(profile), C(systemd)).
        type: str
        choices: [present, absent]
        default: present
  runtime:
    description:
      - A second set of variables for other files, managed in the same call (one round trip instead of two),
        such as the Go runtime settings (GOGC, GOMEMLIMIT, ...) that only work in the process environment.
      - Its I(env) and I(files) work like the top-level ones; its section of I(fact_path) is I(fact_key).
      - Its changed files are listed in the top-level C(changed_files) too.
    type: dict
    suboptions:
      env:
        description: Variables to set in I(files); a C(null) value removes the key.
        type: dict
        required: true
      files:
        description: Files in the formats of the top-level I(files).
        type: list
        elements: dict
        default: []
        suboptions:
          path:
            description: Absolute path of the file.
            type: path
            required: true
          format:
            description: C(env), C(profile) or C(systemd), as for the top-level I(files).
            type: str
            choices: [env, profile, systemd]
            default: env
          state:
            description: C(absent) removes the managed keys (C(env)) or the file (C(profile), C(systemd)).
            type: str
            choices: [present, absent]
            default: present
      fact_key:
        description: Top-level key of I(fact_path) for this section.
        type: str
        default: runtime
  allow_insecure:
    description: Accept GOSUMDB=off, GOINSECURE, C(-insecure) in GOFLAGS and patterns matching every module.
    type: bool
    default: false
  user_env:
    description:
      - What to do with per-user Go env files (C(<home>/.config/go/env), written by C(go env -w)) that set a key
        of I(env) to another value. Those files take precedence over C($GOROOT/go.env).
      - C(report) warns and lists them in C(user_overrides); C(remove) deletes the overriding keys, keeping the
        rest of each file, its owner and its mode.
    type: str
    choices: [ignore, report, remove]
    default: ignore
  home_dirs:
    description: Home directories to look in; by default every home directory in the password database.
    type: list
    elements: path
  fact_path:
    description: Local fact file (JSON) to update; an empty string writes none.
    type: str
    default: ""
  fact_key:
    description: Top-level key of I(fact_path) this call owns; other keys in the file are kept.
    type: str
    default: go_env
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports every file that would change and every user override that would be removed.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: One diff per changed file, user files included.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
notes:
  - The go command reads C($GOROOT/go.env) in every context (login or not, services, cron, C(env -i)), but never
    exports its values to the programs it runs (C(go run), C(go test) binaries); runtime variables such as
    GOGC only work in the process environment, hence the C(profile) and C(systemd) formats.
'''

EXAMPLES = r'''
- name: Ensure every installed Go toolchain reads the company proxy settings
  go_buildhost.buildhost.go_env_file:
    install_root: /usr/local/lib/go
    env:
      GOPROXY: https://goproxy.corp.example.com,https://proxy.golang.org,direct
      GOPRIVATE: "*.corp.example.com"
      GOTOOLCHAIN: local
      GOFLAGS: null
    user_env: report
    fact_path: /etc/ansible/facts.d/go_env.fact
    fact_key: command

- name: Ensure Go runtime settings reach PAM sessions, login shells and services
  go_buildhost.buildhost.go_env_file:
    env:
      GOGC: "200"
      GOMEMLIMIT: null
    files:
      - {path: /etc/environment}
      - {path: /etc/profile.d/go-buildhost-go-runtime.sh, format: profile}
      - {path: /etc/systemd/system.conf.d/60-go-buildhost-go-runtime.conf, format: systemd}
'''

RETURN = r'''
env:
  description: The variables with a value after the run.
  returned: always
  type: dict
  sample: {GOPROXY: "https://proxy.golang.org,direct", GOTOOLCHAIN: local}
files:
  description: Every file managed by the run that holds the variables (absent ones excluded).
  returned: always
  type: list
  elements: str
changed_files:
  description: The files the run changed, or would change in check mode.
  returned: always
  type: list
  elements: str
unsupported_toolchains:
  description: GOROOTs under I(install_root) older than Go 1.21, which ignore go.env.
  returned: always
  type: list
  elements: str
user_overrides:
  description: Per-user settings that override I(env), each with user, path, key, value, managed and action
    (C(reported), C(removed), C(would remove) or C(skipped) with a reason).
  returned: always
  type: list
  elements: dict
actions:
  description: What the run did, or would do in check mode, one line per step.
  returned: always
  type: list
  elements: str
runtime:
  description: With I(runtime), its variables with a value (C(env)), its files holding them (C(files)) and the
    ones it changed (C(changed_files)).
  returned: when runtime is given
  type: dict
'''

import contextlib
import glob
import os
import pwd
import uuid

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs import TMP_PREFIX, read_text
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_env import (
    GoEnvError, go_release_of, parse, remove_keys, render_profile, render_systemd, update, validate_env)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import want_fact
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import KEEP, FileSet
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import Refused, check_dir

HEADER = ['Managed by go-buildhost (role go_env); changes here are overwritten.',
          'Go runtime settings; the go command settings live in $GOROOT/go.env.']
GLOB_CHARS = ('*', '?', '[')
USER_ENV = ('.config', 'go', 'env')


def goroots(module, root):
    """GOROOTs under root: [(dir, release tuple or None)]."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        directory = os.path.join(root, name)
        if name.startswith('.') or not os.path.isfile(os.path.join(directory, 'bin', 'go')):
            continue
        try:
            release = go_release_of(read_text(os.path.join(directory, 'VERSION')))
        except (IOError, OSError):
            release = None
        found.append((directory, release))
    return found


def env_targets(module, result):
    params = module.params
    targets = []
    for entry in params['path']:
        if any(c in entry for c in GLOB_CHARS):
            targets.extend(sorted(glob.glob(entry)))
        else:
            targets.append(entry)
    if params['install_root']:
        roots = goroots(module, params['install_root'])
        for directory, release in roots:
            if release is not None and release < (1, 21):
                result['unsupported_toolchains'].append(directory)
                module.warn('%s is Go %d.%d, which does not read go.env: go_env settings do not apply to it. '
                            'Remove it or upgrade it with go_toolchain.' % ((directory,) + release))
                continue
            targets.append(os.path.join(directory, 'go.env'))
        if not roots:
            module.warn('No Go toolchain found under %s (go_env_install_root): there is no go.env to write. Run '
                        'go_toolchain first, or point go_env_install_root at your toolchains.'
                        % params['install_root'])
    for target in targets:
        if not os.path.isabs(target):
            module.fail_json(msg='%s is not an absolute path; Go env files need one. Nothing was written.' % target)
    return list(dict.fromkeys(targets))


def plan_files(module, fileset, env, result, files, *, targets=()):
    """Add every managed file to fileset: the Go env files in targets, then files; returns their entries.

    Each file keeps its own mode and owner (a new one gets 0644 and root's).
    """
    planned = []
    values = dict((k, v) for k, v in env.items() if v is not None)
    for target in targets:
        before = fileset.read(target)
        if before is None and not os.path.isdir(os.path.dirname(target)):
            module.fail_json(msg='The directory of %s does not exist; nothing was written.' % target)
        after = update(before, env)
        if before is None and after == '':
            continue
        planned.append(fileset.want(target, after, KEEP, KEEP))
        if values:
            result['files'].append(target)
    for entry in files:
        target = entry['path']
        if not os.path.isabs(target):
            module.fail_json(msg='files: %s is not an absolute path; nothing was written.' % target)
        before = fileset.read(target)
        present = entry['state'] == 'present' and bool(values)
        if entry['format'] == 'env':
            after = update(before, env if entry['state'] == 'present' else dict((k, None) for k in env))
            if before is None and after == '':
                continue
            if entry['state'] == 'present' and values:
                result['files'].append(target)
        elif entry['format'] == 'profile':
            after = render_profile(values, HEADER) if present else None
        else:
            after = render_systemd(values, HEADER) if present else None
        if after is not None and entry['format'] != 'env':
            result['files'].append(target)
        planned.append(fileset.want(target, after, KEEP, KEEP) if after is not None else fileset.remove(target))
    return planned


# ---- per-user env files ------------------------------------------------------

def homes(module):
    if module.params['home_dirs'] is not None:
        found = []
        for home in module.params['home_dirs']:
            try:
                user = pwd.getpwuid(os.stat(home).st_uid).pw_name
            except (KeyError, OSError):
                user = '?'
            found.append((user, home))
        return found
    found = {}
    for entry in pwd.getpwall():
        if entry.pw_dir and entry.pw_dir.startswith('/') and entry.pw_dir not in found:
            found[entry.pw_dir] = entry.pw_name
    return [(user, home) for home, user in sorted(found.items())]


def open_user_dir(home):
    """A descriptor of <home>/.config/go, opened without following symlinks below home, or None."""
    try:
        fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    for part in USER_ENV[:-1]:
        try:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd


def read_user_file(dir_fd):
    fd = os.open(USER_ENV[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > 1024 * 1024:
            raise OSError('not a regular file of reasonable size')
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b''.join(chunks).decode('utf-8', 'replace'), st
    finally:
        os.close(fd)


def write_user_file(dir_fd, text, st):
    tmp = '%senv-%s' % (TMP_PREFIX, uuid.uuid4().hex[:12])
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        try:
            os.write(fd, text.encode('utf-8'))
            os.fsync(fd)
            os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, st.st_mode & 0o7777)
        finally:
            os.close(fd)
        os.rename(tmp, USER_ENV[-1], src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def user_overrides(module, env, result):
    mode = module.params['user_env']
    values = dict((k, v) for k, v in env.items() if v is not None)
    remaining = []
    for user, home in homes(module):
        path = os.path.join(home, *USER_ENV)
        dir_fd = open_user_dir(home)
        if dir_fd is None:
            if os.path.islink(os.path.join(home, '.config')) or os.path.islink(os.path.join(home, '.config', 'go')):
                result['user_overrides'].append(dict(user=user, path=path, key=None, value=None, managed=None,
                                                     action='skipped: a directory on the way is a symlink'))
            continue
        try:
            try:
                text, st = read_user_file(dir_fd)
            except OSError as exc:
                if os.path.lexists(path):
                    result['user_overrides'].append(dict(user=user, path=path, key=None, value=None, managed=None,
                                                         action='skipped: %s' % (exc.strerror or exc)))
                continue
            found = [(k, v) for k, v in sorted(parse(text).items()) if k in values and v != values[k]]
            if not found:
                continue
            action = 'reported' if mode == 'report' else ('would remove' if module.check_mode else 'removed')
            for key, value in found:
                entry = dict(user=user, path=path, key=key, value=value, managed=values[key], action=action)
                result['user_overrides'].append(entry)
                if mode == 'report':
                    remaining.append(dict((k, entry[k]) for k in ('user', 'path', 'key', 'value')))
            keys = [k for k, _v in found]
            if mode == 'report':
                module.warn('%s (user %s) overrides %s for that user: `go env -w` settings win over $GOROOT/go.env. '
                            'Set go_env_enforce: true to remove them, or run `go env -u %s` as %s.'
                            % (path, user, ', '.join('%s=%s (managed: %s)' % (k, v, values[k]) for k, v in found),
                               ' '.join(keys), user))
                continue
            after = remove_keys(text, set(keys))
            result['actions'].append('%s %s from %s' % ('remove' if not module.check_mode else 'would remove',
                                                        ', '.join(keys), path))
            result['changed_files'].append(path)
            if module._diff:
                result['diff'].append(dict(before_header=path, after_header=path, before=text, after=after))
            if not module.check_mode:
                try:
                    write_user_file(dir_fd, after, st)
                except OSError as exc:
                    module.fail_json(msg='Removing %s from %s failed: %s.' % (', '.join(keys), path, to_native(exc)),
                                     **result)
        finally:
            os.close(dir_fd)
    return remaining


# ---- main ---------------------------------------------------------------

def files_spec():
    """The spec of files, the same at the top level and in runtime."""
    return dict(type='list', elements='dict', default=[], options=dict(
        path=dict(type='path', required=True),
        format=dict(type='str', choices=['env', 'profile', 'systemd'], default='env'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            env=dict(type='dict', required=True),
            path=dict(type='list', elements='str', default=[]),
            install_root=dict(type='path'),
            files=files_spec(),
            runtime=dict(type='dict', options=dict(
                env=dict(type='dict', required=True),
                files=files_spec(),
                fact_key=dict(type='str', default='runtime', no_log=False),
            )),
            allow_insecure=dict(type='bool', default=False),
            user_env=dict(type='str', choices=['ignore', 'report', 'remove'], default='ignore'),
            home_dirs=dict(type='list', elements='path'),
            fact_path=dict(type='str', default=''),
            fact_key=dict(type='str', default='go_env', no_log=False),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    env = normalized(module, module.params['env'])
    runtime = module.params['runtime']
    runtime_env = normalized(module, runtime['env']) if runtime else None
    guard(module, env)

    with host_lock(module, 'go_env_file %s' % ' '.join(sorted(env))):
        run(module, env, runtime_env)


# The go.env cache keys and the role variables that set them, for the errors.
CACHE_KEYS = (('GOCACHE', 'go_env_cache', 'build_cache'), ('GOMODCACHE', 'go_env_modcache', 'mod_cache'))


SHARED_CACHES = '/etc/go-buildhost/shared-caches.env'


def shared_caches(path=SHARED_CACHES):
    """{GOCACHE: path, GOMODCACHE: path} of the go_cache role's shared caches on this host, or {}."""
    found = {}
    for line in (read_text(path) or '').splitlines():
        key, sep, value = line.partition('=')
        if sep and key in ('GOCACHE', 'GOMODCACHE'):
            found[key] = value
    return found


def guard(module, env):
    """Refuse cache paths that would make every account's go write into the system (path_guard's rules),
    or that name the go_cache role's shared caches, which only the members of its group can write."""
    errors = []
    shared = shared_caches()
    for key, var, kind in CACHE_KEYS:
        value = env.get(key)
        if not value or value == 'off':
            continue
        if value in shared.values():
            errors.append('%s (%s) is %s, a shared cache of the go_cache role (%s): go.env applies to every '
                          'account, and only the members of its group can write it, so every other account\'s go '
                          'would fail. Leave %s empty: members get the shared caches from the go launcher.'
                          % (var, key, value, SHARED_CACHES, var))
            continue
        try:
            # Go creates and fills the directory; an existing one must already look like such a cache.
            check_dir(value, '%s (%s)' % (var, key), kind)
        except Refused as exc:
            errors.append(str(exc))
    if module.params['install_root']:
        try:
            check_dir(module.params['install_root'], 'go_env_install_root', 'install_root', adopt=True)
        except Refused as exc:
            errors.append(str(exc))
    if errors:
        module.fail_json(msg=' '.join(errors) + ' Nothing was written.', refused=errors)


def normalized(module, given):
    """{KEY: str or None}, booleans as on/off, validated before anything is read or written."""
    env = {}
    for key, value in given.items():
        env[key] = None if value is None else (('on' if value else 'off') if isinstance(value, bool) else str(value))
    try:
        validate_env(env, module.params['allow_insecure'])
    except GoEnvError as exc:
        module.fail_json(msg='%s Nothing was written.' % exc)
    return env


def run(module, env, runtime_env):
    result = dict(changed=False, env=dict((k, v) for k, v in sorted(env.items()) if v is not None), files=[],
                  changed_files=[], unsupported_toolchains=[], user_overrides=[], actions=[], diff=[])
    fileset = FileSet(follow_symlinks=True)
    plan_files(module, fileset, env, result, module.params['files'], targets=env_targets(module, result))
    runtime_result = None
    if runtime_env is not None:
        runtime_result = dict(env=dict((k, v) for k, v in sorted(runtime_env.items()) if v is not None), files=[])
        runtime_changes = plan_files(module, fileset, runtime_env, runtime_result, module.params['runtime']['files'])
    remaining = []
    if module.params['user_env'] != 'ignore':
        remaining = user_overrides(module, env, result)
    section = dict(env=result['env'], files=result['files'])
    if module.params['install_root']:
        section['unsupported_toolchains'] = result['unsupported_toolchains']
    if module.params['user_env'] != 'ignore':
        section['user_overrides'] = remaining
    sections = {module.params['fact_key']: section}
    if runtime_result is not None:
        sections[module.params['runtime']['fact_key']] = dict(env=runtime_result['env'], files=runtime_result['files'])
        runtime_result['changed_files'] = [c.path for c in runtime_changes if c.changed]
        result['runtime'] = runtime_result
    if module.params['fact_path']:
        want_fact(fileset, module.params['fact_path'], sections, merge=True)

    for change in fileset.changes():
        result['changed_files'].append(change.path)
        result['actions'].append('%s %s' % ('write' if change.content is not None else 'remove', change.path))
    if module._diff:
        result['diff'].extend(fileset.diff())
    result['changed'] = bool(result['changed_files'])
    if not module._diff:
        result.pop('diff')
    if module.check_mode or not result['changed']:
        module.exit_json(**result)

    def failed(change, exc):
        module.fail_json(msg='Writing %s failed: %s. Files listed before it in changed_files were written.'
                             % (change.path, to_native(exc)), **result)

    fileset.apply(on_error=failed)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
