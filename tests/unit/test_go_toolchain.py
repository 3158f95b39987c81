"""go_toolchain against a temporary root, with fake but runnable Go archives."""

import importlib
import fcntl
import grp
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from ansible.module_utils import basic

from .conftest import ModuleFail, load_library

GO_SCRIPT = '#!/bin/sh\necho "go version go%s linux/%s"\n'


def make_archive(path, version, top='go', arch='amd64', printed=None):
    with tarfile.open(path, 'w:gz') as tar:
        for name, body, mode in (
                ('%s/bin/go' % top, GO_SCRIPT % (printed or version, arch), 0o755),
                ('%s/bin/gofmt' % top, '#!/bin/sh\n', 0o755),
                ('%s/VERSION' % top, 'go%s\n' % version, 0o644)):
            data = body.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), mode, 1234, 1234
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def env(tmp_path, run_module):
    mirror = tmp_path / 'mirror'
    mirror.mkdir()
    sums = {v: make_archive(mirror / ('go%s.linux-amd64.tar.gz' % v), v) for v in ('1.25.5', '1.26.6', '1.27.3')}
    base = {
        'install_root': str(tmp_path / 'lib/go'),
        'link': str(tmp_path / 'go'),
        'bin_dirs': [str(tmp_path / 'bin')],
        'fact_path': str(tmp_path / 'facts.d/go_toolchain.fact'),
        'lock_path': str(tmp_path / 'run/go-buildhost.lock'),
    }

    class Env:
        root = tmp_path
        lib = tmp_path / 'lib/go'
        link = tmp_path / 'go'
        bin = tmp_path / 'bin'
        fact = tmp_path / 'facts.d/go_toolchain.fact'

        def args(self, version, **extra):
            args = dict(base, version=version, sha256=sums.get(version, '0' * 64),
                        url='file://%s/go%s.linux-amd64.tar.gz' % (mirror, version))
            args.update(extra)
            return args

        def run(self, version, check=False, diff=False, **extra):
            return run_module('go_toolchain', self.args(version, **extra), check=check, diff=diff)

        def absent(self, check=False):
            return run_module('go_toolchain', dict(base, state='absent'), check=check)

        def temporaries(self):
            found = []
            for directory in (self.lib, tmp_path, self.bin):
                if directory.is_dir():
                    found += [n for n in os.listdir(directory) if n.startswith('.tmp-')]
            return found

    Env.mirror = mirror
    Env.sums = sums
    return Env()


def test_fresh_install_then_noop(env):
    result = env.run('1.27.3')
    assert result['changed'] is True
    assert result['archive_needed'] is True
    assert os.readlink(env.link) == str(env.lib / '1.27.3')
    assert os.readlink(env.bin / 'go') == str(env.lib / 'bin/go'), 'go runs the launcher'
    assert os.readlink(env.bin / 'gofmt') == str(env.link / 'bin/gofmt')
    assert subprocess.run([str(env.bin / 'go')], capture_output=True, text=True, check=True).stdout == \
        'go version go1.27.3 linux/amd64\n', 'the launcher runs the active toolchain'
    assert (env.lib / '1.27.3/VERSION').read_text() == 'go1.27.3\n'
    fact = json.loads(env.fact.read_text())
    assert fact == {'active_version': '1.27.3', 'goroot': str(env.lib / '1.27.3'), 'link': str(env.link),
                    'install_root': str(env.lib), 'installed_versions': ['1.27.3']}
    assert env.fact.read_text().endswith('}\n') and oct(env.fact.stat().st_mode & 0o777) == '0o644'
    assert env.temporaries() == []
    st = os.stat(env.lib / '1.27.3/bin/go')
    assert st.st_uid == os.getuid() and oct(st.st_mode & 0o777) == '0o755'

    again = env.run('1.27.3')
    assert again['changed'] is False
    assert again['actions'] == []
    assert again['archive_needed'] is False


def test_check_mode_changes_nothing_and_downloads_nothing(env):
    result = env.run('1.27.3', check=True, diff=True, url='file:///nonexistent/never-read.tar.gz')
    assert result['changed'] is True
    assert result['archive_needed'] is True
    assert not env.link.exists() and not env.lib.exists() and not env.fact.exists()
    assert '(none)' in result['diff']['before'] and '1.27.3' in result['diff']['after']


def test_upgrade_downgrade_and_keep_versions(env):
    env.run('1.25.5')
    env.run('1.26.6')
    result = env.run('1.27.3', diff=True)
    assert result['previous_version'] == '1.26.6'
    assert result['removed_versions'] == ['1.25.5']
    assert sorted(os.listdir(env.lib)) == ['1.26.6', '1.27.3', 'bin']
    assert '-> %s' % (env.lib / '1.26.6') in result['diff']['before']
    assert '-> %s' % (env.lib / '1.27.3') in result['diff']['after']

    down = env.run('1.26.6')
    assert down['changed'] is True and down['archive_needed'] is False
    assert os.readlink(env.link) == str(env.lib / '1.26.6')
    assert sorted(os.listdir(env.lib)) == ['1.26.6', '1.27.3', 'bin']
    assert json.loads(env.fact.read_text())['active_version'] == '1.26.6'

    only = env.run('1.26.6', keep_versions=1)
    assert only['removed_versions'] == ['1.27.3']
    assert sorted(os.listdir(env.lib)) == ['1.26.6', 'bin']


def test_checksum_mismatch_changes_nothing(env):
    env.run('1.26.6')
    with pytest.raises(ModuleFail, match=r'Checksum mismatch for file://.*expected sha256 0{64}.*nothing was changed'):
        env.run('1.27.3', sha256='0' * 64)
    assert os.readlink(env.link) == str(env.lib / '1.26.6')
    assert sorted(os.listdir(env.lib)) == ['1.26.6', 'bin']
    assert env.temporaries() == []


def test_truncated_archive_is_refused(env):
    archive = env.mirror / 'go1.27.3.linux-amd64.tar.gz'
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(ModuleFail, match='Checksum mismatch'):
        env.run('1.27.3')
    assert env.temporaries() == [] and not env.link.exists()


def test_archive_with_wrong_top_directory(env):
    bad = env.mirror / 'go1.27.3.linux-amd64.tar.gz'
    sha = make_archive(bad, '1.27.3', top='golang')
    with pytest.raises(ModuleFail, match=r'not an official Go archive: its top directory must be go/, found golang'):
        env.run('1.27.3', sha256=sha)
    assert env.temporaries() == [] and not env.link.exists()


def test_toolchain_that_reports_another_version(env):
    bad = env.mirror / 'go1.27.3.linux-amd64.tar.gz'
    sha = make_archive(bad, '1.27.3', printed='1.27.2')
    with pytest.raises(ModuleFail, match=r"printed 'go version go1.27.2 linux/amd64'.*expected 'go version go1.27.3"):
        env.run('1.27.3', sha256=sha)
    assert env.temporaries() == []


def test_corrupt_gzip_fails_extraction_cleanly(env):
    bad = env.mirror / 'go1.27.3.linux-amd64.tar.gz'
    bad.write_bytes(b'\x1f\x8b' + b'garbage' * 100)
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    env.run('1.26.6')
    with pytest.raises(ModuleFail, match=r'Extracting .* \(go_toolchain_install_root\) failed'):
        env.run('1.27.3', sha256=sha)
    assert os.readlink(env.link) == str(env.lib / '1.26.6')
    assert env.temporaries() == []


def test_unreachable_url_names_the_mirror_variable(env):
    with pytest.raises(ModuleFail, match=r'Cannot download http://127.0.0.1:9/go.tgz \(go_toolchain_mirror\)'):
        env.run('1.27.3', url='http://127.0.0.1:9/go.tgz', timeout=2)
    assert env.temporaries() == []


def test_archive_on_host_is_used_and_removed(env, tmp_path):
    env.lib.mkdir(parents=True)
    copied = env.lib / '.tmp-go-buildhost-archive-go1.27.3.linux-amd64.tar.gz'
    copied.write_bytes((env.mirror / 'go1.27.3.linux-amd64.tar.gz').read_bytes())
    probe = env.run('1.27.3', check=True, url=None, archive=str(copied))
    assert probe['archive_needed'] is True and copied.exists()
    result = env.run('1.27.3', url=None, archive=str(copied))
    assert result['changed'] is True and not copied.exists()
    assert os.readlink(env.link) == str(env.lib / '1.27.3')


def test_missing_archive_without_url(env):
    with pytest.raises(ModuleFail, match='no archive was given'):
        env.run('1.27.3', url=None, archive=str(env.root / 'missing.tar.gz'))


def test_leftovers_of_a_killed_run_are_swept(env):
    env.run('1.26.6')
    (env.lib / '.tmp-go-buildhost-extract-1.27.3-abc/tree/go/bin').mkdir(parents=True)
    os.symlink('/nowhere', env.root / '.tmp-go-buildhost-go-4242')
    probe = env.run('1.26.6', check=True)
    assert probe['changed'] is True and 'interrupted run' in probe['actions'][0]
    result = env.run('1.27.3')
    assert result['changed'] is True
    assert env.temporaries() == []
    assert env.run('1.27.3')['changed'] is False


def test_a_version_directory_is_complete_or_absent(env):
    """A run killed after the rename but before the switch: the next run only switches."""
    env.run('1.26.6')
    env.run('1.27.3')
    os.unlink(env.link)
    os.symlink(str(env.lib / '1.26.6'), env.link)
    result = env.run('1.27.3')
    assert result['archive_needed'] is False and result['changed'] is True
    assert os.readlink(env.link) == str(env.lib / '1.27.3')


def test_link_that_is_a_directory_is_refused(env):
    env.link.mkdir()
    with pytest.raises(ModuleFail, match=r'exists and is not a symlink.*Move it away'):
        env.run('1.27.3')
    assert not env.lib.exists()


@pytest.mark.parametrize('kind', ['file', 'foreign-link'])
def test_unmanaged_command_is_refused(env, kind):
    env.bin.mkdir()
    if kind == 'file':
        (env.bin / 'go').write_text('#!/bin/sh\n')
    else:
        os.symlink('/usr/lib/go-1.19/bin/go', env.bin / 'go')
    with pytest.raises(ModuleFail, match=r'go_toolchain did not create.*go_toolchain_bin_dirs; nothing was changed'):
        env.run('1.27.3')
    assert not env.lib.exists()


@pytest.mark.parametrize('key,value,match', [
    ('install_root', 'usr/local/lib/go', 'go_toolchain_install_root must be an absolute path'),
    ('link', 'go', 'go_toolchain_link must be an absolute path'),
    ('bin_dirs', ['bin'], 'go_toolchain_bin_dirs entries must be absolute'),
    ('keep_versions', 0, 'go_toolchain_keep_versions must be at least 1'),
    ('sha256', 'abc', 'go_toolchain_sha256 must be 64 hex digits'),
    ('version', 'latest', 'go_toolchain_version must be an exact version such as "1.27.3", not "latest"'),
    ('version', 'go1.27.3', 'go_toolchain_version must be an exact version such as "1.27.3", not "go1.27.3"'),
])
def test_bad_parameters(env, run_module, key, value, match):
    with pytest.raises(ModuleFail, match=match):
        run_module('go_toolchain', dict(env.args('1.27.3'), **{key: value}))
    assert not env.lib.exists()


def test_bad_parameters_are_listed_at_once(env, run_module):
    with pytest.raises(ModuleFail) as failed:
        run_module('go_toolchain', env.args('latest', install_root='lib/go', sha256='abc', keep_versions=0))
    assert failed.value.result['refused'] == [
        'go_toolchain_install_root must be an absolute path, got "lib/go".',
        'go_toolchain_sha256 must be 64 hex digits.',
        'go_toolchain_sha256 pins one archive, so go_toolchain_version must be an exact version such as "1.27.3", '
        'not "latest".',
        'go_toolchain_keep_versions must be at least 1.',
    ]
    assert str(failed.value).endswith(' Nothing was changed.')


def test_an_upper_case_checksum_is_the_same_checksum(env):
    sha = env.args('1.27.3')['sha256']
    assert env.run('1.27.3', sha256=sha.upper())['changed'] is True
    assert env.run('1.27.3')['changed'] is False


def test_absent_removes_what_it_installed(env):
    env.run('1.26.6')
    env.run('1.27.3')
    (env.lib / 'README.local').write_text('not ours')
    probe = env.absent(check=True)
    assert probe['changed'] is True and env.link.exists()
    result = env.absent()
    assert sorted(result['removed_versions']) == ['1.26.6', '1.27.3']
    assert not os.path.lexists(env.link) and not os.path.lexists(env.bin / 'go')
    assert os.listdir(env.lib) == ['README.local']
    assert not env.fact.exists()
    assert env.absent()['changed'] is False


def test_waits_for_the_host_lock_then_names_its_holder(env):
    lock = env.root / 'run/go-buildhost.lock'
    lock.parent.mkdir()
    (env.root / 'run/go-buildhost.lock.holder').write_text(json.dumps(
        {'what': 'sysctl_profile', 'pid': 4242, 'since': '2026-11-22T07:00:00Z'}))
    with open(lock, 'w') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ModuleFail, match=r'holds .*go-buildhost.lock: sysctl_profile \(pid 4242, since '
                                             r'2026-11-22T07:00:00Z\)\. Waited 1 s'):
            env.run('1.27.3', lock_timeout=1)
    assert not env.lib.exists()
    assert env.run('1.27.3')['changed'] is True
    holder = json.loads((env.root / 'run/go-buildhost.lock.holder').read_text())
    assert holder['what'].startswith('go_toolchain state=present version=1.27.3')


def test_hold_host_lock_keeps_the_lock_until_the_module_ends(tmp_path):
    host_lock = importlib.import_module('ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock')

    class FakeModule:
        params = {'lock_path': str(tmp_path / 'go-buildhost.lock'), 'lock_timeout': 0}

        def fail_json(self, **kwargs):
            raise ModuleFail(kwargs)

    first = FakeModule()
    host_lock.hold_host_lock(first, 'first')
    with pytest.raises(ModuleFail, match='holds .*: first'):
        host_lock.hold_host_lock(FakeModule(), 'second')
    del first._go_buildhost_lock
    host_lock.hold_host_lock(FakeModule(), 'third')


def test_the_launcher_hands_the_shared_caches_to_members_only():
    """The launcher's own logic, run by sh: members' processes that can write get the shared caches; root,
    processes without the group and callers with their own GOCACHE keep theirs."""
    with tempfile.TemporaryDirectory(prefix='gbh-launcher-') as top:  # /tmp: every account may enter it
        os.chmod(top, 0o755)  # noqa: S103 - the unprivileged case must reach the script
        launcher_cases(Path(top))


def launcher_cases(tmp_path):
    launcher = load_library('go_toolchain').LAUNCHER
    fake_go = tmp_path / 'go' / 'bin' / 'go'
    fake_go.parent.mkdir(parents=True)
    fake_go.write_text('#!/bin/sh\necho "GOCACHE=${GOCACHE:-unset} GOMODCACHE=${GOMODCACHE:-unset} $*"\n')
    fake_go.chmod(0o755)
    (fake_go.parent.parent / 'VERSION').write_text('go1.27.3\ntime 2026-11-05T00:00:00Z\n')
    conf = tmp_path / 'shared-caches.env'
    script = tmp_path / 'launcher'
    script.write_text(launcher % dict(go=fake_go, conf=conf, version=fake_go.parent.parent / 'VERSION'))
    script.chmod(0o755)
    shared = tmp_path / 'build'
    shared.mkdir()
    group = grp.getgrgid(100)

    def run(env=None, groups=None):
        command = [str(script), 'build', './...']
        if groups is not None:  # an unprivileged process, with or without the group
            command = ['setpriv', '--reuid=65534', '--regid=65534',
                       '--groups=%d' % group.gr_gid if groups else '--clear-groups', *command]
        return subprocess.run(command, env=dict({'PATH': '/usr/bin:/bin'}, **(env or {})), capture_output=True,
                              text=True, check=True).stdout.strip()

    assert run() == 'GOCACHE=unset GOMODCACHE=unset build ./...', 'no shared caches: Go decides'
    # No newline at the end, a comment and a missing module cache: still read.
    conf.write_text('# go-buildhost (go_cache)\nGROUP=%s\nGOMODCACHE=%s/missing\nGOCACHE=%s'
                    % (group.gr_name, tmp_path, shared))
    assert run() == 'GOCACHE=unset GOMODCACHE=unset build ./...', 'root never uses a cache members write'
    os.chown(shared, 0, group.gr_gid)
    shared.chmod(0o2770)
    assert run(groups=True) == 'GOCACHE=%s GOMODCACHE=unset build ./...' % shared
    assert run({'GOCACHE': '/elsewhere'}, groups=True) == 'GOCACHE=/elsewhere GOMODCACHE=unset build ./...'
    assert run(groups=False) == 'GOCACHE=unset GOMODCACHE=unset build ./...', \
        'a process without the group (started before its user joined) keeps its own'
    shared.chmod(0o2750)
    assert run(groups=True) == 'GOCACHE=unset GOMODCACHE=unset build ./...', 'a cache it cannot write: its own'


def test_the_launcher_hands_the_fleet_cache_helper_with_the_shared_build_cache_to_go_1_24_and_later():
    with tempfile.TemporaryDirectory(prefix='gbh-launcher-') as top:
        os.chmod(top, 0o755)  # noqa: S103 - the unprivileged case must reach the script
        fleet_cases(Path(top))


def fleet_cases(tmp_path):
    fake_go = tmp_path / 'go' / 'bin' / 'go'
    fake_go.parent.mkdir(parents=True)
    fake_go.write_text('#!/bin/sh\necho "${GOCACHE:-unset} ${GOCACHEPROG-unset}"\n')
    fake_go.chmod(0o755)
    version = tmp_path / 'go' / 'VERSION'
    conf = tmp_path / 'shared-caches.env'
    script = tmp_path / 'launcher'
    script.write_text(load_library('go_toolchain').LAUNCHER % dict(go=fake_go, conf=conf, version=version))
    script.chmod(0o755)
    shared = tmp_path / 'build'
    shared.mkdir()
    group = grp.getgrgid(100)
    os.chown(shared, 0, group.gr_gid)
    shared.chmod(0o2770)
    prog = '/usr/local/lib/go-cache-health/go_cacheprog.py /etc/go-cache/cacheprog.json'
    # Any order: the helper line may come before the group's.
    conf.write_text('GOCACHEPROG=%s\nGROUP=%s\nGOCACHE=%s\n' % (prog, group.gr_name, shared))

    def run(env=None, groups=True):
        command = ['setpriv', '--reuid=65534', '--regid=65534',
                   '--groups=%d' % group.gr_gid if groups else '--clear-groups', str(script)]
        return subprocess.run(command, env=dict({'PATH': '/usr/bin:/bin'}, **(env or {})), capture_output=True,
                              text=True, check=True).stdout.strip()

    assert run() == '%s unset' % shared, 'no VERSION file: the toolchain may be too old for GOCACHEPROG'
    for text, handed in [('go1.27.3\ntime x\n', True), ('go1.24.0', True), ('go1.24rc1\n', True),
                         ('go1.30.1\n', True), ('go1.100.0\n', True), ('go1.23.12\n', False), ('go1.2\n', False),
                         ('go1.9.7\n', False), ('devel go1.27-abc\n', False)]:
        version.write_text(text)
        assert run() == '%s %s' % (shared, prog if handed else 'unset'), text
    version.write_text('go1.27.3\n')
    assert run({'GOCACHEPROG': ''}) == str(shared), 'an empty GOCACHEPROG of the caller opts out'
    assert run({'GOCACHEPROG': '/my/prog'}) == '%s /my/prog' % shared
    assert run({'GOCACHE': '/elsewhere'}) == '/elsewhere unset', 'a cache of its own: no shared helper'
    assert run(groups=False) == 'unset unset', 'a process without the group gets neither'
    assert subprocess.run([str(script)], env={'PATH': '/usr/bin:/bin'}, capture_output=True, text=True,
                          check=True).stdout.strip() == 'unset unset', 'root gets neither'
    shared.chmod(0o2750)
    assert run() == 'unset unset', 'a shared build cache it cannot write: neither'


def test_a_package_owned_go_is_left_alone_with_a_warning(env, monkeypatch):
    env.bin.mkdir()
    (env.bin / 'go').write_text('#!/bin/sh\n')
    real = basic.AnsibleModule.run_command
    warnings = []

    def fake(self, argv, **kwargs):
        if argv[1:3] == ['--search', '--']:
            return (0, 'golang-go: %s\n' % argv[-1], '') if argv[-1].endswith('/go') else (1, '', '')
        return real(self, argv, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', fake)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **k: '/usr/bin/' + name)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, text: warnings.append(text))
    result = env.run('1.27.3')
    assert result['skipped_commands'] == [str(env.bin / 'go')]
    assert (env.bin / 'go').read_text() == '#!/bin/sh\n', 'never replaced'
    assert os.readlink(env.bin / 'gofmt') == str(env.link / 'bin/gofmt'), 'the other command is linked'
    assert re.search(r'belongs to the installed package golang-go.*apt-get remove golang-go.*take .* out of '
                     r'go_toolchain_bin_dirs', warnings[0]), warnings


def test_a_go_in_the_install_root_that_is_not_the_launcher_is_never_touched(env):
    (env.lib / 'bin').mkdir(parents=True)
    (env.lib / 'bin' / 'go').write_text('#!/bin/sh\necho hand-installed\n')
    with pytest.raises(ModuleFail, match='is not the go launcher this role writes'):
        env.run('1.27.3', adopt_install_root=True)
    env.absent()
    assert (env.lib / 'bin' / 'go').read_text() == '#!/bin/sh\necho hand-installed\n', 'removal leaves it too'


@pytest.mark.parametrize('key,value,match', [
    ('install_root', '/usr/local', 'go_toolchain_install_root is /usr/local, a system directory'),
    ('install_root', '/usr', 'go_toolchain_install_root is /usr, a system directory'),
    ('link', '/usr/local/bin', 'go_toolchain_link is /usr/local/bin, a system directory'),
    ('link', '/etc', 'go_toolchain_link is /etc, a system directory'),
    ('bin_dirs', ['/'], 'go_toolchain_bin_dirs entries must be normal absolute directories'),
])
def test_system_paths_are_refused_before_anything_changes(env, key, value, match):
    with pytest.raises(ModuleFail, match=match + '.*Nothing was changed'):
        env.run('1.27.3', **{key: value})
    assert not env.lib.exists() and not env.bin.exists()


def test_an_install_root_full_of_something_else_needs_the_opt_in(env):
    env.lib.mkdir(parents=True)
    (env.lib / 'notes').write_text('mine')
    with pytest.raises(ModuleFail, match='does not look like installed Go toolchains.*go_toolchain_adopt_install_root'):
        env.run('1.27.3')
    assert os.listdir(env.lib) == ['notes']
    assert env.run('1.27.3', adopt_install_root=True)['changed'] is True


def test_a_symlinked_bin_dir_is_refused(env, tmp_path):
    real = tmp_path / 'usr-bin'
    real.mkdir()
    os.symlink(real, tmp_path / 'bin-link')
    with pytest.raises(ModuleFail, match='go_toolchain_bin_dirs lists .*bin-link, which is or is below a symlink'):
        env.run('1.27.3', bin_dirs=[str(tmp_path / 'bin-link')])
    assert os.listdir(real) == []
