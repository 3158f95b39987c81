"""go_cache_perms against temporary caches: creation, drift repair, check mode, diff, tricks, members."""

# ruff: noqa: S103 - these tests make permissive and broken modes on purpose, to audit and repair them

import grp
import os

import pytest
from ansible.module_utils import basic

from .conftest import ModuleFail

from ansible_collections.go_buildhost.buildhost.plugins.module_utils import go_cache_audit as audit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='chown and ACLs of other groups need root')

GROUP = 'users'
GID = grp.getgrnam(GROUP).gr_gid
OTHER_UID = 65534


def snapshot(root):
    """Every entry's owner, mode and ACLs: to prove check mode and no-op runs change nothing."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in [''] + dirs + files:
            path = os.path.join(directory, name) if name else directory
            st = os.lstat(path)
            acls = tuple(audit.read_acl(path, n, follow_symlinks=False) if not os.path.islink(path) else None
                         for n in (audit.ACCESS, audit.DEFAULT))
            found[path] = (st.st_uid, st.st_gid, st.st_mode, acls)
    return found


def remaining(path, kind):
    policy = audit.Policy(GID, kind, 0)
    fd = audit.open_top(str(path))
    try:
        return [(e.rel, audit.check(e.st, e.access, e.default, policy, top=e.top))
                for e in audit.walk(fd, str(path)) if (e.is_dir or e.is_file)
                and audit.check(e.st, e.access, e.default, policy, top=e.top)]
    finally:
        os.close(fd)


@pytest.fixture
def env(tmp_path, run_module):
    class Env:
        build = tmp_path / 'var/cache/go/build'
        mod = tmp_path / 'var/cache/go/mod'

        def run(self, check=False, diff=False, **extra):
            args = dict(group=GROUP, caches=[dict(path=str(self.build), kind='build'),
                                             dict(path=str(self.mod), kind='mod')])
            args.update(extra)
            return run_module('go_cache_perms', args, check=check, diff=diff)

    return Env()


def drift(build, mod):
    """A tree the way members with umask 077 and no default ACL would leave it, and worse."""
    (build / 'ab').mkdir()
    (build / 'ab' / ('0' * 64 + '-a')).write_text('entry')
    (build / 'cd').mkdir()
    (build / 'cd' / ('1' * 64 + '-d')).write_text('output')
    os.removexattr(build / 'ab', audit.DEFAULT)
    os.removexattr(build / 'ab', audit.ACCESS)
    os.chown(build / 'ab', OTHER_UID, OTHER_UID)
    os.chmod(build / 'ab', 0o700)
    os.chmod(build / 'ab' / ('0' * 64 + '-a'), 0o600)
    os.chmod(build / 'cd' / ('1' * 64 + '-d'), 0o666)
    os.chmod(build, 0o2775)
    (mod / 'example.com' / 'greet@v1.0.0').mkdir(parents=True)
    (mod / 'example.com' / 'greet@v1.0.0' / 'greet.go').write_text('package greet\n')
    os.chmod(mod / 'example.com' / 'greet@v1.0.0' / 'greet.go', 0o444)
    os.chmod(mod / 'example.com' / 'greet@v1.0.0', 0o555)  # Go without -modcacherw


def test_creates_the_caches_then_changes_nothing(env):
    result = env.run(diff=True)
    assert result['changed'] is True
    assert [c['created'] for c in result['caches']] == [True, True]
    assert 'does not exist' in result['diff']['before']
    for path in (env.build, env.mod):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, GID, 0o2770)
    assert remaining(env.build, 'build') == [] and remaining(env.mod, 'mod') == []
    again = env.run()
    assert again['changed'] is False and again['actions'] == []
    assert [c['wrong'] for c in again['caches']] == [0, 0]


def test_repairs_a_drifted_tree_in_one_run(env):
    env.run()
    drift(env.build, env.mod)
    before = snapshot(env.build.parent)
    checked = env.run(check=True, diff=True)
    assert checked['changed'] is True
    assert snapshot(env.build.parent) == before, 'check mode changed something'
    build, mod = checked['caches']
    assert build['wrong'] == 4 and build['repaired'] == 0
    assert build['problems']['wrong_mode'] == 1
    assert build['problems']['missing_default_acl'] == 1
    assert build['problems']['world_writable'] == 1
    assert build['problems']['member_cannot_write'] == 2
    assert mod['problems']['not_group_writable'] == 1 and mod['problems']['member_cannot_read'] == 0
    assert 'ab: wrong_group, no_setgid, not_group_writable, missing_default_acl, member_cannot_write' in \
        checked['diff']['before']
    assert 'would repair 4 of' in ' '.join(checked['actions'])

    repaired = env.run()
    assert repaired['changed'] is True and [c['repaired'] for c in repaired['caches']] == [4, 1]
    assert remaining(env.build, 'build') == [] and remaining(env.mod, 'mod') == []
    assert os.stat(env.build / 'ab').st_uid == OTHER_UID, 'entries inside keep their owner'
    assert os.stat(env.mod / 'example.com/greet@v1.0.0/greet.go').st_mode & 0o222 == 0, \
        'module files stay read-only'
    assert env.run()['changed'] is False


def test_recurse_false_checks_the_cache_directories_only(env):
    env.run()
    drift(env.build, env.mod)
    result = env.run(recurse=False)
    assert [c['scanned'] for c in result['caches']] == [1, 1]
    assert [c['repaired'] for c in result['caches']] == [1, 0]
    assert os.stat(env.build).st_mode & 0o7777 == 0o2770
    assert os.stat(env.build / 'ab').st_mode & 0o7777 == 0o700


def test_symlinks_and_hard_links_never_let_the_repair_out(env, tmp_path):
    env.run()
    secret = tmp_path / 'shadow'
    secret.write_text('x')
    os.chmod(secret, 0o600)
    (env.build / 'link').symlink_to(secret)
    (env.build / 'dirlink').symlink_to(tmp_path)
    os.link(secret, env.build / 'hardlink')
    checked = env.run(check=True)
    assert checked['caches'][0]['skipped'] == 1 and checked['changed'] is False, 'check mode agrees with a real run'
    result = env.run()
    assert result['caches'][0]['skipped'] == 1 and result['changed'] is False
    assert 'left 1 entries' in ' '.join(result['actions'])
    st = os.stat(secret)
    assert (st.st_gid, st.st_mode & 0o7777) == (0, 0o600)
    assert os.stat(tmp_path).st_gid == 0


def test_examples_are_capped(env):
    env.run()
    for number in range(30):
        path = env.build / ('f%02d' % number)
        path.write_text('x')
        os.chmod(path, 0o600)
    result = env.run(check=True, examples=5)
    assert result['caches'][0]['wrong'] == 30 and len(result['caches'][0]['examples']) == 5


def test_members_that_do_not_exist_stop_the_run_before_any_change(env):
    with pytest.raises(ModuleFail, match='go_cache_members lists users that do not exist on this host: nosuchuser1'):
        env.run(members=['nosuchuser1'])
    assert not env.build.exists() and not env.mod.exists()


def test_members_are_added_with_gpasswd(env, monkeypatch):
    calls = []

    def fake_run(self, args, **kwargs):
        calls.append(args)
        return 0, '', ''

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', fake_run)
    members = list(grp.getgrnam(GROUP).gr_mem)[:1]
    checked = env.run(check=True, members=['nobody'] + members)
    assert checked['members_added'] == ['nobody'] and calls == []
    result = env.run(members=['nobody'] + members, diff=True)
    assert result['members_added'] == ['nobody']
    assert calls[-1][1:] == ['-a', 'nobody', GROUP]
    assert 'group users: with nobody' in result['diff']['after']


def test_a_missing_group_is_created(env, monkeypatch):
    calls = []

    def fake_run(self, args, **kwargs):
        calls.append(args)
        return 9, '', 'groupadd: cannot lock /etc/group'

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', fake_run)
    checked = env.run(check=True, group='gbh-no-such-group')
    assert checked['changed'] is True and checked['group_created'] is True and calls == []
    assert 'create the group gbh-no-such-group' in checked['actions']
    with pytest.raises(ModuleFail, match='Creating the group gbh-no-such-group .go_cache_group. failed: groupadd'):
        env.run(group='gbh-no-such-group')
    assert calls[0][1:] == ['--system', 'gbh-no-such-group']
    assert not env.build.exists()


def test_relative_paths_are_refused(run_module):
    with pytest.raises(ModuleFail, match='must be an absolute path'):
        run_module('go_cache_perms', dict(group=GROUP, caches=[dict(path='var/cache/go')]))


def test_a_file_in_place_of_the_cache_is_reported(env):
    env.build.parent.mkdir(parents=True)
    env.build.write_text('not a directory')
    with pytest.raises(ModuleFail, match='is not a directory'):
        env.run()


@pytest.mark.skipif(not os.path.exists('/usr/bin/dpkg-query'), reason='needs a Debian host with dpkg')
def test_packages_are_looked_up_in_the_same_call(env):
    result = env.run(packages=['dpkg', 'go-buildhost-no-such-package'])
    assert result['missing_packages'] == ['go-buildhost-no-such-package']
    assert env.run(packages=[])['missing_packages'] == []


def test_a_system_tree_is_refused_before_anything_changes(env, run_module):
    with pytest.raises(ModuleFail, match='go_cache_build_dir is /usr, a system directory.*Nothing was changed'):
        run_module('go_cache_perms', dict(group='gbh-never-created', caches=[
            dict(path='/usr', kind='build', var='go_cache_build_dir'),
            dict(path=str(env.mod), kind='mod', var='go_cache_mod_dir')]))
    with pytest.raises(KeyError):
        grp.getgrnam('gbh-never-created')
    assert not env.mod.exists()


def test_a_foreign_directory_is_adopted_only_on_request(env):
    env.build.mkdir(parents=True)
    (env.build / 'notes.txt').write_text('mine\n')
    before = snapshot(env.build)
    with pytest.raises(ModuleFail, match='not look like a Go build cache .it holds notes.txt.*go_cache_adopt_dirs'):
        env.run(adopt_var='go_cache_adopt_dirs', caches=[dict(path=str(env.build), var='go_cache_build_dir')])
    assert snapshot(env.build) == before
    assert not env.mod.exists()
    assert env.run(adopt=True)['changed'] is True
    assert env.run()['changed'] is False, 'once the role owns it, no opt-in is needed'


def test_the_further_paths_are_checked_first(env, tmp_path):
    passwd = tmp_path / 'passwd'
    passwd.write_text('root:x:0:0::/root:/bin/sh\n')
    with pytest.raises(ModuleFail, match='go_cache_alert_rules_path is .*passwd, an existing file that the role did '
                                         'not write'):
        env.run(paths=[dict(path=str(passwd), var='go_cache_alert_rules_path')])
    with pytest.raises(ModuleFail, match='go_cache_metrics_dir is /etc, a system directory'):
        env.run(paths=[dict(path='/etc', var='go_cache_metrics_dir', kind='metrics_dir')])
    assert not env.build.exists() and passwd.read_text() == 'root:x:0:0::/root:/bin/sh\n'


def test_setuid_files_and_strangers_files_are_never_made_group_writable(env):
    env.run()
    setuid = env.build / 'ab' / 'tool'
    setuid.parent.mkdir()
    setuid.write_text('#!/bin/sh\n')
    os.chmod(setuid, 0o4755)
    stranger = env.build / 'ab' / ('2' * 64 + '-d')
    stranger.write_text('x')
    os.chown(stranger, OTHER_UID, OTHER_UID)
    os.chmod(stranger, 0o644)
    result = env.run(diff=True)
    build = result['caches'][0]
    assert result['changed'] is False, 'nothing else was wrong'
    assert build['unsafe'] == 2 and build['skipped'] == 2
    assert 'left 2 entries in %s alone (2 setuid, setgid' % env.build in ' '.join(result['actions'])
    assert os.stat(setuid).st_mode & 0o7777 == 0o4755
    assert os.stat(stranger).st_mode & 0o7777 == 0o644 and os.stat(stranger).st_gid == OTHER_UID
    examples = ' '.join(build['examples'])
    assert 'ab/tool: not_group_writable, member_cannot_write (left alone: setuid or setgid)' in examples
    assert '(left alone: owned by uid 65534, not a member)' in examples


# The bundle option: go_cache's health check files in the same call once the caches are right.

def bundle(tmp_path, text='v1\n'):
    return dict(files=[dict(path=str(tmp_path / 'etc/go-cache/health.json'), content=text, mode='0640')])


def test_a_bundle_waits_while_the_call_creates_the_caches(env, tmp_path):
    first = env.run(bundle=bundle(tmp_path))
    assert [c['created'] for c in first['caches']] == [True, True]
    assert first['bundle_pending'] is True and 'bundle' not in first
    assert not (tmp_path / 'etc/go-cache/health.json').exists()


def test_a_bundle_is_put_in_place_by_the_same_call_once_the_caches_are_right(env, tmp_path):
    env.run()
    written = env.run(bundle=bundle(tmp_path), diff=True)
    assert written['bundle_pending'] is False and written['changed'] is True
    assert written['bundle']['changed_paths'] == [str(tmp_path / 'etc/go-cache/health.json')]
    assert (tmp_path / 'etc/go-cache/health.json').read_text() == 'v1\n'
    assert oct(os.stat(tmp_path / 'etc/go-cache/health.json').st_mode & 0o7777) == '0o640'
    assert [d['after'] for d in written['diff']] == ['v1\n']  # the caches had nothing to report
    again = env.run(bundle=bundle(tmp_path))
    assert again['changed'] is False and again['bundle']['changed'] is False


def test_a_bundle_in_check_mode_reports_without_writing(env, tmp_path):
    env.run()
    checked = env.run(bundle=bundle(tmp_path), check=True)
    assert checked['changed'] is True and checked['bundle']['created'] == [str(tmp_path / 'etc/go-cache/health.json')]
    assert not (tmp_path / 'etc/go-cache/health.json').exists()


def test_a_bundle_waits_for_missing_packages_but_not_in_check_mode(env, tmp_path):
    env.run()
    waiting = env.run(bundle=bundle(tmp_path), packages=['go-buildhost-no-such-package'])
    assert waiting['bundle_pending'] is True and not (tmp_path / 'etc/go-cache/health.json').exists()
    checked = env.run(bundle=bundle(tmp_path), packages=['go-buildhost-no-such-package'], check=True)
    assert checked['bundle_pending'] is False and checked['bundle']['changed'] is True


@pytest.mark.parametrize('broken, message', [
    (dict(files=[dict(path='/tmp/x', mode='0644')], services=[dict(name='go-cache-health')]),
     "services: 'go-cache-health' is not a unit name with its suffix"),
    (dict(files=[dict(path='/tmp/x', content='', mode='0644')], directory_mode='rwx'),
     'directory_mode must be an octal mode'),
    (dict(files=[dict(content='')]), 'bundle: missing required arguments: path'),
])
def test_a_bad_bundle_is_refused_before_anything_changes(env, broken, message):
    with pytest.raises(ModuleFail) as failed:
        env.run(bundle=broken)
    assert message in failed.value.result['msg'], failed.value.result['msg']
    assert not env.build.exists() and not env.mod.exists()
