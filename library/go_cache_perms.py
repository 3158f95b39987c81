#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_cache_perms
short_description: Keep shared Go caches group-writable, with setgid directories and default ACLs, in one pass
description:
  - Ensures each cache directory in I(caches) exists, is owned by I(owner) and I(group), has mode 2770 and the
    access and default ACL C(u::rwx,g::rwx,g:<group>:rwx,m::rwx,o::---), so files that any member's C(go) creates
    stay group-writable whatever that member's umask.
  - With I(recurse), walks each tree once (C(os.scandir), C(lstat) and the C(system.posix_acl_*) xattrs, no
    process per file) and repairs only the entries that are wrong. Directories need the group, setgid,
    group C(rwx) (bits and ACL mask) and the default ACL; build cache files need group C(rw); module cache
    files need group C(r) (Go makes them read-only on purpose). Nothing anywhere may be world-writable.
    The owner of entries inside a cache is left alone (it is whichever member's C(go) wrote them).
  - Changes go through file descriptors opened with C(O_NOFOLLOW) and checked against what the walk saw,
    so a member who swaps a directory for a symlink cannot make the repair touch anything outside the cache.
    Regular files with several hard links, setuid or setgid files, and files owned by a user who is
    neither root, I(owner) nor a member of I(group) are reported and left alone; the repair never makes
    them group-writable.
  - Before anything changes, refuses cache paths that are system trees (C(/usr), C(/etc), C(/home), ...),
    account homes, paths below a symlink, and existing directories that do not look like Go caches
    (unless I(adopt)); and checks the further I(paths) the role writes later.
  - Creates I(group) as a system group (C(groupadd --system)) when it does not exist, and adds the users in
    I(members) to it (supplementary group, other members are kept).
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  caches:
    description: The cache directories, each an absolute path and its kind.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the cache directory (GOCACHE or GOMODCACHE).
        type: path
        required: true
      kind:
        description: C(build) for GOCACHE (files group read-write), C(mod) for GOMODCACHE (files group read-only).
        type: str
        choices: [build, mod]
        default: build
      var:
        description: The name that errors give this path (the role's variable); defaults to C(caches[].path).
        type: str
  adopt:
    description:
      - Take over existing, non-empty cache directories that do not look like Go caches. Without it such a
        directory is refused before anything changes, so that a mistyped path cannot re-permission a tree.
      - System trees (C(/usr), C(/etc), C(/var/lib), C(/home), ...), account homes and paths below a symlink
        are refused either way.
    type: bool
    default: false
  adopt_var:
    description: The name that errors give I(adopt) (the role's variable).
    type: str
    default: adopt
  restart_services:
    description:
      - Restart the services of members that run without the group (they started before their user joined it,
        so they cannot write the caches). Without it they are reported in C(stale_members) and a warning.
      - Session scopes are always only reported.
    type: bool
    default: false
  paths:
    description:
      - Further paths the calling role will write later in the same run, checked here first so that a bad
        one stops the run before anything changes (the rules of C(module_utils/path_guard.py)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The absolute path.
        type: str
        required: true
      var:
        description: The name that errors give this path (the role's variable).
        type: str
        required: true
      kind:
        description:
          - C(file) is a file the role writes; an existing one must carry one of I(markers).
          - C(metrics_dir) is a directory of node exporter textfile metrics.
        type: str
        choices: [file, metrics_dir]
        default: file
      markers:
        description: Lines that mark a file as the role's own (an earlier release's included).
        type: list
        elements: str
        default: [go-buildhost]
  group:
    description: The group that shares the caches; created as a system group when missing.
    type: str
    required: true
  owner:
    description: Owner of the cache directories themselves.
    type: str
    default: root
  members:
    description: Users added to I(group). Each must exist.
    type: list
    elements: str
    default: []
  recurse:
    description: Check and repair everything below each cache directory, not only the directory itself.
    type: bool
    default: true
  examples:
    description: How many wrong entries per cache to list in the result and the diff.
    type: int
    default: 10
  packages:
    description:
      - Debian packages to look up with C(dpkg-query) in the same call (read-only). The ones not installed
        are returned in C(missing_packages), so a play installs them with C(ansible.builtin.apt) only when
        needed, without a separate round trip on every run.
    type: list
    elements: str
    default: []
  bundle:
    description:
      - Files and units to put in place after the caches, in the same call, with the options of
        M(go_buildhost.buildhost.file_bundle) (I(files), I(directory_mode), I(services), I(unit_dirs)),
        checked as strictly, and checked before anything changes. A converged host then costs one module call.
      - The bundle is left for a later M(go_buildhost.buildhost.file_bundle) task, and C(bundle_pending) is
        returned true, when outside check mode some of I(packages) are missing (the units they ship are not
        there yet), or when this call created the group or a cache or added members (the role's local fact,
        among the files, records those and is rendered again from this call's result).
    type: dict
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Walks the trees and reports every entry that would be repaired without changing any.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: >-
      Per cache, the problems found before and after, and the members of the group; with I(bundle), one diff per
      changed file.
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure the shared Go caches are group-writable with default ACLs
  go_buildhost.buildhost.go_cache_perms:
    group: gobuilders
    members: [alice, ci]
    caches:
      - path: /var/cache/go/build
        kind: build
      - path: /var/cache/go/mod
        kind: mod
'''

RETURN = r'''
missing_packages:
  description: The packages in I(packages) that dpkg does not show as installed.
  returned: always
  type: list
  elements: str
caches:
  description: One result per cache, in the order of I(caches).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The cache directory.
      type: str
    kind:
      description: build or mod.
      type: str
    created:
      description: Whether the directory was (or, in check mode, would be) created.
      type: bool
    scanned:
      description: Entries examined (the directory itself included).
      type: int
    wrong:
      description: Entries with at least one problem before the run.
      type: int
    repaired:
      description: Entries repaired (0 in check mode).
      type: int
    skipped:
      description: Wrong entries left alone (hard-linked files, entries that vanished or changed during the run).
      type: int
    unsafe:
      description: Wrong files never made group-writable (setuid, setgid, owned by a non-member); part of skipped.
      type: int
    problems:
      description: Number of entries with each problem before the run.
      type: dict
    examples:
      description: Some wrong entries, relative to the cache directory, with their problems.
      type: list
      elements: str
    seconds:
      description: Wall time spent on this cache.
      type: float
group_created:
  description: Whether the group was (or, in check mode, would be) created.
  returned: always
  type: bool
stale_members:
  description: Members' services and sessions whose processes lack the group, before any restart.
  returned: always
  type: list
  elements: dict
  contains:
    unit:
      description: The systemd unit (C(.service) or C(.scope)).
      type: str
    system_service:
      description: Whether it is a system manager's service (only those are restarted, and only if they run as I(user)).
      type: bool
    user:
      description: Its user.
      type: str
    pids:
      description: Its processes without the group.
      type: list
      elements: int
restarted:
  description: The services restarted (or that would be, in check mode) because of I(restart_services).
  returned: always
  type: list
  elements: str
members_added:
  description: Users added to the group (or that would be, in check mode).
  returned: always
  type: list
  elements: str
actions:
  description: What the run did, or would do in check mode, one line per step.
  returned: always
  type: list
  elements: str
bundle:
  description:
    - The result of I(bundle) when this call put it in place, as M(go_buildhost.buildhost.file_bundle) returns it
      (C(files), C(changed_paths), C(created), C(daemon_reloaded), C(service_actions), C(changed)).
  returned: when I(bundle) was given and not left pending
  type: dict
bundle_pending:
  description: Whether I(bundle) was given but left for a later file_bundle task (see I(bundle)).
  returned: always
  type: bool
'''

import grp
import os
import pwd
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import file_bundle
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_cache_rules import (
    cache_errors, cache_path_error, name_errors,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_cache_audit import (
    PROBLEMS, AuditError, Policy, check, make_top, member_uids, open_top, repair, stale_members, walk)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import systemctl
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import (
    Refused, check_dir, check_file, dpkg_owner,
)


def lookup_ids(module):
    """(owner uid, group gid, group created); gid is None in check mode when the group would be created."""
    params = module.params
    try:
        uid = pwd.getpwnam(params['owner']).pw_uid
    except KeyError:
        module.fail_json(msg='The owner %s does not exist. Nothing was changed.' % params['owner'])
    try:
        return uid, grp.getgrnam(params['group']).gr_gid, False
    except KeyError:
        pass
    if module.check_mode:
        return uid, None, True
    groupadd = module.get_bin_path('groupadd', required=True)
    rc, _out, err = module.run_command([groupadd, '--system', params['group']])
    if rc != 0:
        module.fail_json(msg='Creating the group %s (go_cache_group) failed: %s' % (params['group'], err.strip()))
    return uid, grp.getgrnam(params['group']).gr_gid, True


def check_members(module):
    unknown = []
    for name in module.params['members']:
        try:
            pwd.getpwnam(name)
        except KeyError:
            unknown.append(name)
    if unknown:
        module.fail_json(msg='go_cache_members lists users that do not exist on this host: %s. Create them first '
                             '(the role never creates users), or remove them from go_cache_members. Nothing was '
                             'changed.' % ', '.join(unknown))


def missing_members(module):
    params = module.params
    try:
        group = grp.getgrnam(params['group'])
    except KeyError:
        return list(params['members'])
    have = set(group.gr_mem)
    return [name for name in params['members']
            if name not in have and pwd.getpwnam(name).pw_gid != group.gr_gid]


def summary(result):
    if result['created']:
        return '%s: does not exist\n' % result['path']
    counts = ', '.join('%s %d' % (name, result['problems'][name]) for name in PROBLEMS if result['problems'][name])
    lines = ['%s (%s cache): %d entries, %d wrong%s' % (
        result['path'], result['kind'], result['scanned'], result['wrong'], ': ' + counts if counts else '')]
    lines.extend('  %s' % example for example in result['examples'])
    return '\n'.join(lines) + '\n'


def trusted_uids(owner_uid, gid):
    """root, the owner and the group's members: the users whose files the repair may make group-writable."""
    return {0, owner_uid} | (member_uids(gid) if gid is not None else set())


def unsafe(st, trusted):
    """Why a file must never be made group-writable, or None."""
    if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        return 'setuid or setgid'
    if st.st_uid not in trusted:
        return 'owned by uid %d, not a member' % st.st_uid
    return None


def process(module, cache, policy, trusted=frozenset()):
    """Walk one cache, repairing as it goes unless in check mode."""
    params = module.params
    path = cache['path']
    started = time.time()
    result = dict(path=path, kind=cache['kind'], created=False, scanned=0, wrong=0, repaired=0, skipped=0,
                  unsafe=0, problems=dict((name, 0) for name in PROBLEMS), examples=[])
    fd = open_top(path)
    if fd is None:
        result['created'] = True
        if module.check_mode or policy is None:
            result['seconds'] = round(time.time() - started, 3)
            return result, []
        make_top(path, policy)
        fd = open_top(path)
    unfixed = []
    try:
        for entry in walk(fd, path):
            if not (entry.top or params['recurse']):
                break
            result['scanned'] += 1
            if not (entry.is_dir or entry.is_file):
                continue
            if policy is None:  # check mode, the group does not exist yet: everything is wrong
                result['wrong'] += 1
                result['problems']['wrong_group'] += 1
                continue
            found = check(entry.st, entry.access, entry.default, policy, top=entry.top)
            if not found:
                continue
            result['wrong'] += 1
            for name in found:
                result['problems'][name] += 1
            why = unsafe(entry.st, trusted) if entry.is_file else None
            if len(result['examples']) < params['examples']:
                result['examples'].append('%s: %s%s' % (entry.rel or '.', ', '.join(found),
                                                        ' (left alone: %s)' % why if why else ''))
            if why:
                result['skipped'] += 1  # never made group-writable, in check mode as in a real run
                result['unsafe'] += 1
                continue
            if entry.is_file and entry.st.st_nlink > 1:
                result['skipped'] += 1  # hard links: never touched, in check mode as in a real run
                continue
            if module.check_mode:
                continue
            left = repair(entry, policy)
            if left is None:
                result['skipped'] += 1
            elif left:
                unfixed.append('%s: %s' % (os.path.join(path, entry.rel), ', '.join(left)))
            else:
                result['repaired'] += 1
    finally:
        os.close(fd)
    result['seconds'] = round(time.time() - started, 3)
    return result, unfixed


def add_members(module, names):
    gpasswd = module.get_bin_path('gpasswd', required=True)
    for name in names:
        rc, _out, err = module.run_command([gpasswd, '-a', name, module.params['group']])
        if rc != 0:
            module.fail_json(msg='Adding %s to the group %s (go_cache_members) failed: %s' % (
                name, module.params['group'], err.strip()))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            caches=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                kind=dict(type='str', choices=['build', 'mod'], default='build'),
                var=dict(type='str'),
            )),
            adopt=dict(type='bool', default=False),
            restart_services=dict(type='bool', default=False),
            adopt_var=dict(type='str', default='adopt'),
            paths=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='str', required=True),
                var=dict(type='str', required=True),
                kind=dict(type='str', choices=['file', 'metrics_dir'], default='file'),
                markers=dict(type='list', elements='str', default=['go-buildhost']),
            )),
            group=dict(type='str', required=True),
            owner=dict(type='str', default='root'),
            members=dict(type='list', elements='str', default=[]),
            recurse=dict(type='bool', default=True),
            examples=dict(type='int', default=10),
            packages=dict(type='list', elements='str', default=[]),
            bundle=dict(type='dict'),
            **lock_argument_spec(),
        ),
        supports_check_mode=True,
    )
    bundle = bundle_params(module)
    with host_lock(module, 'go_cache_perms %s' % ' '.join(c['path'] for c in module.params['caches'])):
        run(module, bundle)


def bundle_params(module):
    """(params, directory_mode) of the bundle option, checked as file_bundle checks its own; or None."""
    if module.params['bundle'] is None:
        return None
    checked = ArgumentSpecValidator(file_bundle.argument_spec()).validate(module.params['bundle'])
    if checked.error_messages:
        module.fail_json(msg='bundle: %s' % '; '.join(checked.error_messages))
    params = checked.validated_parameters
    return params, file_bundle.check_params(module, params)


def missing_packages(module):
    """The packages dpkg does not show as installed ("ii"), with one dpkg-query for all of them."""
    packages = module.params['packages']
    if not packages:
        return []
    dpkg = module.get_bin_path('dpkg-query')
    if dpkg is None:
        return list(packages)
    rc, out, err = module.run_command([dpkg, '--show', '--showformat=${db:Status-Abbrev}${Package}\\n', '--']
                                      + packages, environ_update={'LC_ALL': 'C'})
    if rc not in (0, 1):
        module.fail_json(msg='dpkg-query failed (rc=%d): %s' % (rc, err.strip()))
    installed = set(line[3:].split(':')[0] for line in out.splitlines() if line.startswith('ii '))
    return [p for p in packages if p not in installed]


def guard(module):
    """Refuse, before anything changes, every path that could point the role at the system."""
    params = module.params
    try:
        gid = grp.getgrnam(params['group']).gr_gid
    except KeyError:
        gid = None
    caches = params['caches']
    # The rules the go_cache role's check runs on the controller (module_utils/go_cache_rules.py).
    errors = name_errors(params['group'], params['members'])
    errors.extend(cache_errors([(c['path'], c['var'] or 'caches[].path', c['kind']) for c in caches]))
    for cache in caches:
        if cache_path_error(cache['path'], cache['var'] or 'caches[].path', cache['kind']):
            continue  # not an absolute, normal path: nothing to look at on the host
        try:
            check_dir(cache['path'], cache['var'] or 'caches[].path', '%s_cache' % cache['kind'],
                      adopt=params['adopt'], adopt_var=params['adopt_var'],
                      owned=lambda st: gid is not None and st.st_gid == gid and bool(st.st_mode & stat.S_ISGID))
        except Refused as exc:
            errors.append(str(exc))
    owner = dpkg_owner(module.run_command, module.get_bin_path('dpkg-query'))
    for spec in params['paths']:
        try:
            if spec['kind'] == 'file':
                check_file(spec['path'], spec['var'], package_owner=owner, marker=tuple(spec['markers']))
            else:
                check_dir(spec['path'], spec['var'], spec['kind'], adopt_var=params['adopt_var'])
        except Refused as exc:
            errors.append(str(exc))
    if errors:
        module.fail_json(msg=' '.join(errors) + ' Nothing was changed.', refused=errors)


def stale_services(module, gid, added, actions):
    """Members' processes without the group; their system services restarted with restart_services, else reported.

    Only a system service that runs as that member (User=) is restarted: a user manager's service, a
    session, or a member's job inside another service (a cron job in cron.service) is reported.
    """
    if gid is None:
        return [], []
    # In check mode the members about to be added are not in the group yet: count them too, in the same scan.
    stale = stale_members(gid, uids=member_uids(gid) | set(pwd.getpwnam(n).pw_uid for n in added))
    if not stale:
        return [], []
    restartable = []
    if module.params['restart_services']:
        for entry in stale:
            if entry['system_service']:
                rc, out, _err = systemctl(module, ['show', '--property=User', '--value', entry['unit']])
                if rc == 0 and out.strip() == entry['user']:
                    restartable.append(entry['unit'])
    left = [s for s in stale if s['unit'] not in restartable]
    if left:
        module.warn('These run as members of %s but without the group (they started before their user joined '
                    'it), so they build with their own caches until restarted: %s.%s' % (
                        module.params['group'], ', '.join('%s (%s)' % (s['unit'], s['user']) for s in left),
                        '' if module.params['restart_services'] else
                        ' Restart them, or set go_cache_restart_services: true for the system services.'))
    if restartable:
        actions.append('%s %s' % ('would restart' if module.check_mode else 'restarted', ', '.join(restartable)))
        if not module.check_mode:
            for unit in restartable:
                rc, _out, err = systemctl(module, ['restart', unit])
                if rc != 0:
                    module.fail_json(msg='Restarting %s (go_cache_restart_services) failed: %s' % (unit, err.strip()))
    return stale, restartable


def run(module, bundle=None):
    params = module.params
    guard(module)
    check_members(module)
    owner_uid, gid, group_created = lookup_ids(module)
    to_add = missing_members(module)
    actions = ['create the group %s' % params['group']] if group_created else []
    if to_add:
        actions.append('add %s to the group %s' % (', '.join(to_add), params['group']))
        if not module.check_mode:
            add_members(module, to_add)
    results = []
    failures = []
    trusted = trusted_uids(owner_uid, gid)
    trusted.update(pwd.getpwnam(name).pw_uid for name in params['members'])
    for cache in params['caches']:
        policy = Policy(gid, cache['kind'], owner_uid) if gid is not None else None
        try:
            result, unfixed = process(module, cache, policy, trusted)
        except (AuditError, OSError) as exc:
            module.fail_json(msg='Checking or repairing %s failed: %s. If the filesystem has no POSIX ACL '
                                 'support, mount it with ACLs (ext4, xfs and btrfs have them by default) or '
                                 'move the cache.' % (cache['path'], to_native(exc)),
                             caches=results, actions=actions)
        results.append(result)
        failures.extend(unfixed)
        if result['created']:
            actions.append('create %s' % result['path'])
        elif result['wrong']:
            actions.append('%s %d of %d entries in %s' % (
                'would repair' if module.check_mode else 'repaired', result['wrong'] - result['skipped'],
                result['scanned'], result['path']))
        if result['skipped']:
            actions.append('left %d entries in %s alone (%d setuid, setgid or not a member\'s; the others hard '
                           'links, or changed during the run)' % (result['skipped'], result['path'], result['unsafe']))
    stale, restarted = stale_services(module, gid, to_add, actions)
    changed = group_created or bool(to_add) or bool(restarted) or any(
        r['created'] or r['wrong'] > r['skipped'] for r in results)
    missing = missing_packages(module)
    out = dict(changed=changed, caches=results, group_created=group_created, members_added=to_add, actions=actions,
               missing_packages=missing, stale_members=stale, restarted=restarted, bundle_pending=False)
    if module._diff and changed:
        before = ''.join(summary(r) for r in results)
        after = ''.join('%s (%s cache): every entry right\n' % (r['path'], r['kind']) for r in results)
        if group_created:
            before += 'group %s: does not exist\n' % params['group']
            after += 'group %s: exists\n' % params['group']
        if to_add:
            before += 'group %s: without %s\n' % (params['group'], ', '.join(to_add))
            after += 'group %s: with %s\n' % (params['group'], ', '.join(to_add))
        out['diff'] = dict(before_header='go caches', after_header='go caches', before=before, after=after)
    if failures:
        module.fail_json(msg='Some entries are still wrong after the repair: %s. Check the filesystem (ACL '
                             'support, read-only mounts, immutable attributes).' % '; '.join(failures[:10]), **out)
    if bundle is not None:
        created = group_created or bool(to_add) or any(r['created'] for r in results)
        if created or (missing and not module.check_mode):
            out['bundle_pending'] = True
        else:
            done = file_bundle.apply(module, *bundle)
            diffs = done.pop('diff', [])
            out['bundle'] = done
            out['changed'] = out['changed'] or done['changed']
            if diffs:
                out['diff'] = ([out['diff']] if 'diff' in out else []) + diffs
    module.exit_json(**out)


if __name__ == '__main__':
    main()
