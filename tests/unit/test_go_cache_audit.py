"""module_utils/go_cache_audit.py on real files: the ACL codec, the rules, the repair and the walk."""

# ruff: noqa: S103 - these tests make permissive and broken modes on purpose, to audit and repair them

import grp
import os
import shutil
import subprocess

import pytest


from ansible_collections.go_buildhost.buildhost.plugins.module_utils import go_cache_audit as audit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='chown and ACLs of other groups need root')

GID = grp.getgrnam('users').gr_gid
OTHER_UID = 65534
GETFACL = shutil.which('getfacl')


def getfacl(path):
    out = subprocess.run([GETFACL, '--omit-header', '--absolute-names', '--numeric', path], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line and not line.startswith('#')]


def state(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        default = audit.read_acl(fd, audit.DEFAULT) if os.path.isdir(path) else None
        return st, audit.read_acl(fd, audit.ACCESS), default
    finally:
        os.close(fd)


def problems(path, policy, top=False):
    return audit.check(*state(path), policy, top=top)


@pytest.fixture
def policy():
    return audit.Policy(GID, 'build', 0)


@pytest.fixture
def cache(tmp_path, policy):
    path = tmp_path / 'cache'
    audit.make_top(str(path), policy)
    return path


def test_acl_codec_matches_getfacl(tmp_path):
    entries = ((audit.USER_OBJ, 7, audit.UNDEFINED_ID), (audit.GROUP_OBJ, 5, audit.UNDEFINED_ID),
               (audit.GROUP, 6, GID), (audit.USER, 4, OTHER_UID), (audit.MASK, 7, audit.UNDEFINED_ID),
               (audit.OTHER, 0, audit.UNDEFINED_ID))
    target = tmp_path / 'd'
    target.mkdir()
    os.setxattr(target, audit.ACCESS, audit.build_acl(entries))
    os.setxattr(target, audit.DEFAULT, audit.build_acl(entries))
    assert audit.read_acl(str(target), audit.ACCESS) == audit.normalize(entries)
    if GETFACL:
        assert getfacl(str(target)) == [
            'user::rwx', 'user:%d:r--' % OTHER_UID, 'group::r-x', 'group:%d:rw-' % GID, 'mask::rwx', 'other::---',
            'default:user::rwx', 'default:user:%d:r--' % OTHER_UID, 'default:group::r-x',
            'default:group:%d:rw-' % GID, 'default:mask::rwx', 'default:other::---']
    assert audit.acl_text(entries, {(audit.GROUP, GID): 'users'}) == \
        'u::rwx,u:%d:r--,g::r-x,g:users:rw-,m::rwx,o::---' % OTHER_UID
    assert audit.acl_text(None) == '(none)'


def test_acl_of_an_entry_without_one_is_none(tmp_path):
    plain = tmp_path / 'f'
    plain.write_text('x')
    assert audit.read_acl(str(plain), audit.ACCESS) is None
    assert audit.read_acl(str(tmp_path), audit.DEFAULT) is None


@pytest.mark.parametrize('blob, error', [
    (b'\x02\x00\x00', 'not a POSIX ACL'),
    (b'\x02\x00\x00\x00\x01\x00', 'not a POSIX ACL'),
    (b'\x01\x00\x00\x00', 'version 1'),
    (b'\x02\x00\x00\x00\x40\x00\x07\x00\xff\xff\xff\xff', 'unknown ACL tag'),
])
def test_malformed_acl_blobs_are_refused(blob, error):
    with pytest.raises(ValueError, match=error):
        audit.parse_acl(blob)


def test_a_fresh_cache_is_right(cache, policy):
    st, access, default = state(cache)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, GID, 0o2770)
    assert access == default == policy.default_acl
    assert problems(cache, policy, top=True) == []


def test_entries_created_under_the_default_acl_ignore_the_umask(cache, policy):
    old = os.umask(0o077)
    try:
        (cache / 'ab').mkdir()
        fd = os.open(cache / 'ab' / 'entry-a', os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
    finally:
        os.umask(old)
    for path in (cache / 'ab', cache / 'ab' / 'entry-a'):
        assert problems(path, policy) == [], path
    assert os.stat(cache / 'ab').st_mode & 0o2000, 'setgid is inherited'


@pytest.mark.parametrize('kind, mode, expected', [
    ('build', 0o600, ['not_group_writable', 'member_cannot_write']),
    ('build', 0o640, ['not_group_writable', 'member_cannot_write']),
    ('build', 0o660, []),
    ('build', 0o666, ['world_writable']),
    ('mod', 0o444, []),
    ('mod', 0o400, ['member_cannot_read']),
    ('mod', 0o644, []),
])
def test_file_rules(tmp_path, kind, mode, expected):
    path = tmp_path / 'f'
    path.write_text('x')
    os.chown(path, OTHER_UID, GID)
    os.chmod(path, mode)
    assert problems(path, audit.Policy(GID, kind, 0)) == expected


def test_directory_rules(tmp_path, policy):
    path = tmp_path / 'd'
    path.mkdir()
    os.chown(path, 0, 0)
    os.chmod(path, 0o702)  # others (members included, as the group is not theirs) may only write
    assert problems(path, policy) == ['wrong_group', 'no_setgid', 'not_group_writable', 'missing_default_acl',
                                      'world_writable', 'member_cannot_write']


def test_the_acl_mask_limits_members(tmp_path, policy):
    path = tmp_path / 'f'
    path.write_text('x')
    os.chown(path, OTHER_UID, 0)
    # Another owning group, but the named entry gives the cache group rw- ...
    os.setxattr(path, audit.ACCESS, audit.build_acl(((audit.USER_OBJ, 6, 0), (audit.GROUP_OBJ, 4, 0),
                                                     (audit.GROUP, 6, GID), (audit.MASK, 6, 0),
                                                     (audit.OTHER, 0, 0))))
    assert problems(path, policy) == ['wrong_group']
    # ... until a chmod g-w cuts the mask down.
    os.chmod(path, 0o640)
    assert problems(path, policy) == ['wrong_group', 'not_group_writable', 'member_cannot_write']


def test_top_rules(cache, policy):
    os.chown(cache, OTHER_UID, GID)
    os.chmod(cache, 0o2775)
    assert problems(cache, policy, top=True) == ['wrong_owner', 'wrong_mode']


@pytest.mark.parametrize('setup', ['chmod700', 'chgrp', 'no_acl', 'mask', 'world', 'named_entry'])
def test_repair_fixes_and_is_then_a_noop(cache, policy, setup):
    target = cache / 'ab'
    target.mkdir()
    (target / 'f').write_text('x')
    os.chmod(target / 'f', 0o755)
    if setup == 'chmod700':
        os.chmod(target, 0o700)
    elif setup == 'chgrp':
        os.chown(target, OTHER_UID, 0)
    elif setup == 'no_acl':
        os.removexattr(target, audit.DEFAULT)
        os.removexattr(target, audit.ACCESS)
    elif setup == 'mask':
        os.chmod(target, 0o2750)
    elif setup == 'world':
        os.chmod(target, 0o2777)
    elif setup == 'named_entry':
        os.setxattr(target, audit.ACCESS, audit.build_acl(((audit.USER_OBJ, 7, 0), (audit.GROUP_OBJ, 5, 0),
                                                           (audit.GROUP, 5, GID), (audit.MASK, 5, 0),
                                                           (audit.OTHER, 5, 0))))
    fd = audit.open_top(str(cache))
    try:
        for entry in audit.walk(fd, str(cache)):
            if entry.rel == 'ab':  # directories are repaired while the walk holds their descriptor
                assert audit.check(entry.st, entry.access, entry.default, policy)
                assert audit.repair(entry, policy) == []
    finally:
        os.close(fd)
    st, access, default = state(target)
    assert audit.check(st, access, default, policy) == []
    assert audit.plan(st, access, default, policy) == (None, None, None, None)
    assert st.st_mode & 0o7777 in (0o2770, 0o2775)
    if setup == 'chgrp':
        assert st.st_uid == OTHER_UID, 'entries inside keep their owner'


def test_repair_keeps_executables_executable(tmp_path, policy):
    path = tmp_path / 'tool'
    path.write_text('#!/bin/sh\n')
    os.chmod(path, 0o700)
    chown, access, mode, default = audit.plan(os.stat(path), None, None, policy)
    assert (access, default) == (None, None) and chown == (-1, GID) and mode == 0o770


def test_walk_never_follows_symlinks_out_of_the_cache(cache, tmp_path, policy):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret').write_text('x')
    os.chmod(outside, 0o700)
    os.chmod(outside / 'secret', 0o600)
    (cache / 'link').symlink_to(outside)
    (cache / 'filelink').symlink_to(outside / 'secret')
    fd = audit.open_top(str(cache))
    try:
        seen = {}
        for entry in audit.walk(fd, str(cache)):
            seen[entry.rel] = entry
            if entry.is_dir or entry.is_file:
                audit.repair(entry, policy)
    finally:
        os.close(fd)
    assert sorted(seen) == ['', 'filelink', 'link']
    assert not seen['link'].is_dir and not seen['filelink'].is_file
    assert os.stat(outside).st_mode & 0o7777 == 0o700 and os.stat(outside).st_gid == 0
    assert os.stat(outside / 'secret').st_mode & 0o7777 == 0o600


def test_an_entry_swapped_for_a_symlink_after_the_walk_saw_it_is_left_alone(cache, tmp_path, policy):
    outside = tmp_path / 'outside'
    outside.write_text('x')
    os.chmod(outside, 0o600)
    (cache / 'victim').write_text('x')
    os.chmod(cache / 'victim', 0o600)
    fd = audit.open_top(str(cache))
    try:
        for entry in audit.walk(fd, str(cache)):
            if entry.rel == 'victim':
                os.unlink(cache / 'victim')
                (cache / 'victim').symlink_to(outside)
                assert audit.repair(entry, policy) is None
    finally:
        os.close(fd)
    assert os.stat(outside).st_mode & 0o7777 == 0o600 and os.stat(outside).st_gid == 0


def test_a_directory_swapped_while_walked_keeps_the_walk_inside(cache, tmp_path, policy):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret').write_text('x')
    (cache / 'ab').mkdir()
    (cache / 'ab' / 'entry').write_text('x')
    fd = audit.open_top(str(cache))
    try:
        seen = []
        for entry in audit.walk(fd, str(cache)):
            seen.append(entry.rel)
            if entry.rel == 'ab':
                os.rename(cache / 'ab', cache / 'ab.old')
                (cache / 'ab').symlink_to(outside)
            if entry.is_file:
                audit.repair(entry, policy)
    finally:
        os.close(fd)
    assert 'ab/secret' not in seen and 'ab/entry' in seen
    assert os.stat(outside / 'secret').st_gid == 0


def test_hard_linked_files_are_not_touched(cache, tmp_path, policy):
    outside = tmp_path / 'shadow'
    outside.write_text('x')
    os.chmod(outside, 0o600)
    os.link(outside, cache / 'linked')
    fd = audit.open_top(str(cache))
    try:
        entry = [e for e in audit.walk(fd, str(cache)) if e.rel == 'linked'][0]
        assert audit.check(entry.st, entry.access, entry.default, policy)
        assert audit.repair(entry, policy) is None
    finally:
        os.close(fd)
    assert os.stat(outside).st_mode & 0o7777 == 0o600 and os.stat(outside).st_gid == 0


def test_open_top(tmp_path):
    assert audit.open_top(str(tmp_path / 'missing')) is None
    (tmp_path / 'file').write_text('x')
    (tmp_path / 'link').symlink_to(tmp_path)
    for name in ('file', 'link'):
        with pytest.raises(audit.AuditError, match='is not a directory'):
            audit.open_top(str(tmp_path / name))


def test_make_top_creates_root_owned_parents(tmp_path, policy):
    path = tmp_path / 'var/cache/go/build'
    audit.make_top(str(path), policy)
    parent = os.stat(tmp_path / 'var/cache/go')
    assert (parent.st_uid, parent.st_gid, parent.st_mode & 0o777) == (0, 0, 0o755)
    assert problems(path, policy, top=True) == []


def test_stale_members_are_the_members_processes_without_the_group(tmp_path):
    """A fake /proc: a runner started before its user joined, one started after, and a non-member."""
    def proc(pid, uid, gid, groups, cgroup):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / 'status').write_text(
            'Name:\tx\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\nGroups:\t%s\n'
            % (uid, uid, uid, uid, gid, gid, gid, gid, ' '.join(str(g) for g in groups)))
        (tmp_path / pid / 'cgroup').write_text(cgroup)
    proc('100', 1001, 1001, [1001], '0::/system.slice/gitlab-runner.service\n')
    proc('101', 1001, 1001, [1001], '0::/system.slice/gitlab-runner.service\n')
    proc('200', 1002, 1002, [1002, 990], '0::/system.slice/other-runner.service\n')
    proc('300', 1003, 1003, [1003], '0::/user.slice/user-1003.slice/session-4.scope\n')
    proc('400', 1004, 1004, [1004], '0::/user.slice/user-1004.slice/user@1004.service/app.slice/runner.service\n')
    proc('500', 1005, 1005, [1005], '12:pids:/system.slice/x\n1:name=systemd:/system.slice/cron.service\n0::/\n')
    proc('600', 1006, 1006, [1006], '0::/system.slice/docker-1a2b.scope/system.slice/ci-runner.service\n')
    (tmp_path / 'self').mkdir()
    found = audit.stale_members(990, proc=str(tmp_path), uids={1001, 1002})
    assert [(s['unit'], s['pids'], s['system_service']) for s in found] == [('gitlab-runner.service', [100, 101], True)]
    assert audit.stale_members(990, proc=str(tmp_path), uids={1003})[0]['unit'] == 'session-4.scope'
    user_manager = audit.stale_members(990, proc=str(tmp_path), uids={1004})
    assert [(s['unit'], s['system_service']) for s in user_manager] == [('runner.service', False)], \
        "a user manager's service is never mistaken for the system's"
    hybrid = audit.stale_members(990, proc=str(tmp_path), uids={1005})
    assert [(s['unit'], s['system_service']) for s in hybrid] == [('cron.service', True)], \
        'on the hybrid layout, the name=systemd line names the unit'
    assert audit.stale_members(990, proc=str(tmp_path / 'missing'), uids={1001}) == []
    in_container = audit.stale_members(990, proc=str(tmp_path), uids={1006})
    assert [(s['unit'], s['system_service']) for s in in_container] == [('ci-runner.service', True)], \
        "a container's systemd nests its units below the container's own cgroup"
