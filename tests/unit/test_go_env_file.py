"""go_env_file against temporary toolchains, system files and home directories."""

import importlib
import json
import os

import pytest
from ansible.module_utils import basic

from .conftest import ModuleFail, load_library

STOCK = ('# This file contains the initial defaults for go command configuration.\n'
         '# Values set by \'go env -w\' and written to the user\'s go/env file override these.\n'
         '\n'
         'GOPROXY=https://proxy.golang.org,direct\n'
         'GOSUMDB=sum.golang.org\n'
         '\n'
         '# Automatically download newer toolchains as directed by go.mod files.\n'
         'GOTOOLCHAIN=auto\n')
ENV = {'GOPROXY': 'https://goproxy.corp.example.com,direct', 'GOSUMDB': 'sum.golang.org', 'GOTOOLCHAIN': 'local',
       'GOPRIVATE': '*.corp.example.com', 'GOFLAGS': '-modcacherw', 'GONOSUMDB': None}


def toolchain(root, version, go_env=True):
    goroot = root / version
    (goroot / 'bin').mkdir(parents=True)
    (goroot / 'bin/go').write_text('#!/bin/sh\n')
    (goroot / 'VERSION').write_text('go%s\ntime 2026-01-01T00:00:00Z\n' % version)
    if go_env:
        (goroot / 'go.env').write_text(STOCK)
    return goroot


@pytest.fixture
def warned(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: seen.append(message))
    return seen


@pytest.fixture
def lib(tmp_path):
    root = tmp_path / 'lib/go'
    toolchain(root, '1.26.6')
    toolchain(root, '1.27.3')
    (root / '.tmp-go-buildhost-extract-1.28.0-x/tree').mkdir(parents=True)
    return root


def args(tmp_path, **extra):
    base = dict(env=ENV, install_root=str(tmp_path / 'lib/go'), home_dirs=[], lock_path=str(tmp_path / 'lock'),
                fact_path=str(tmp_path / 'go_env.fact'), fact_key='command')
    base.update(extra)
    return base


def test_every_toolchain_in_one_call_then_noop(tmp_path, lib, run_module):
    result = run_module('go_env_file', args(tmp_path))
    assert result['changed'] is True
    goenvs = [str(lib / v / 'go.env') for v in ('1.26.6', '1.27.3')]
    assert result['files'] == goenvs
    assert sorted(result['changed_files']) == sorted(goenvs + [str(tmp_path / 'go_env.fact')])
    for path in goenvs:
        text = (lib / path).read_text()
        assert text.startswith(STOCK.split('GOPROXY', 1)[0]), 'comments kept'
        assert 'GOPROXY=https://goproxy.corp.example.com,direct\nGOSUMDB=sum.golang.org\n' in text
        assert 'GOTOOLCHAIN=local\n' in text and 'GOTOOLCHAIN=auto' not in text
        assert text.endswith('GOFLAGS=-modcacherw\nGOPRIVATE=*.corp.example.com\n')
        assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    assert not (lib / '.tmp-go-buildhost-extract-1.28.0-x/tree/go.env').exists()
    fact = json.loads((tmp_path / 'go_env.fact').read_text())
    assert fact['command']['env']['GOTOOLCHAIN'] == 'local' and 'GONOSUMDB' not in fact['command']['env']
    assert fact['command']['files'] == goenvs

    again = run_module('go_env_file', args(tmp_path))
    assert again['changed'] is False and again['changed_files'] == [] and again['actions'] == []


def test_a_toolchain_installed_later_is_picked_up(tmp_path, lib, run_module):
    run_module('go_env_file', args(tmp_path))
    toolchain(lib, '1.28.0')
    result = run_module('go_env_file', args(tmp_path))
    assert str(lib / '1.28.0/go.env') in result['changed_files']
    assert 'GOTOOLCHAIN=local' in (lib / '1.28.0/go.env').read_text()


def test_check_mode_and_diff_write_nothing(tmp_path, lib, run_module):
    result = run_module('go_env_file', args(tmp_path), check=True, diff=True)
    assert result['changed'] is True
    assert (lib / '1.27.3/go.env').read_text() == STOCK
    assert not (tmp_path / 'go_env.fact').exists()
    diffs = {d['before_header']: d for d in result['diff']}
    one = diffs[str(lib / '1.27.3/go.env')]
    assert 'GOTOOLCHAIN=auto' in one['before'] and 'GOTOOLCHAIN=local' in one['after']


def test_old_toolchains_are_reported_not_touched(tmp_path, run_module, warned):
    root = tmp_path / 'lib/go'
    old = toolchain(root, '1.20.14', go_env=False)
    toolchain(root, '1.27.3')
    result = run_module('go_env_file', args(tmp_path))
    assert result['unsupported_toolchains'] == [str(old)]
    assert not (old / 'go.env').exists()
    assert any('does not read go.env' in w and str(old) in w for w in warned)


def test_no_toolchain_is_not_an_error(tmp_path, run_module):
    result = run_module('go_env_file', args(tmp_path, fact_path=''))
    assert result['changed'] is False and result['files'] == []


def test_paths_and_globs(tmp_path, run_module):
    a = tmp_path / 'a'
    a.mkdir()
    (a / 'go.env').write_text('GOPROXY=off\n')
    (tmp_path / 'b').mkdir()
    globs = [str(tmp_path / '*/go.env'), str(tmp_path / 'b/new.env')]
    result = run_module('go_env_file', dict(lock_path=str(tmp_path / 'lock'), env={'GOPROXY': 'direct'}, path=globs))
    assert result['files'] == [str(a / 'go.env'), str(tmp_path / 'b/new.env')]
    assert (a / 'go.env').read_text().startswith('GOPROXY=direct\n')
    assert (tmp_path / 'b/new.env').read_text().endswith('GOPROXY=direct\n')


def test_missing_directory_fails_and_writes_nothing(tmp_path, lib, run_module):
    with pytest.raises(ModuleFail, match='does not exist; nothing was written'):
        run_module('go_env_file', args(tmp_path, path=[str(tmp_path / 'nowhere/go.env')]))
    assert (lib / '1.27.3/go.env').read_text() == STOCK


def test_mode_and_owner_of_an_existing_file_are_kept(tmp_path, lib, run_module):
    os.chmod(lib / '1.27.3/go.env', 0o640)
    run_module('go_env_file', args(tmp_path))
    assert oct(os.stat(lib / '1.27.3/go.env').st_mode & 0o777) == '0o640'


@pytest.mark.parametrize('case', [
    ('GOPROXY', 'ftp://x', 'scheme ftp://'),
    ('GOPROXY', 'https://a,,direct', 'empty element'),
    ('GOSUMDB', 'sum.corp.example.com+00000000+AQ==', 'not a valid checksum database key'),
    ('GOSUMDB', 'off', 'module integrity'),
    ('GOINSECURE', 'x.com', 'module integrity'),
    ('GOFLAGS', '-mod=mod -insecure', 'module integrity'),
    ('GOPRIVATE', 'a.com, b.com', 'whitespace'),
    ('GOMEMLIMIT', '3GB', 'Write 3GiB'),
    ('GOGC', '-5', 'integer >= 0'),
    ('GOMAXPROCS', '0', 'positive integer'),
])
def test_bad_values_fail_before_anything_is_written(tmp_path, lib, run_module, case):
    key, value, match = case
    with pytest.raises(ModuleFail, match=match) as failure:
        run_module('go_env_file', args(tmp_path, env=dict(ENV, **{key: value})))
    assert 'Nothing was written' in str(failure.value)
    assert (lib / '1.27.3/go.env').read_text() == STOCK
    assert not (tmp_path / 'go_env.fact').exists()


def test_allow_insecure(tmp_path, lib, run_module):
    result = run_module('go_env_file', args(tmp_path, env=dict(ENV, GOSUMDB='off'), allow_insecure=True))
    assert 'GOSUMDB=off' in (lib / '1.27.3/go.env').read_text() and result['changed']


def test_runtime_layers(tmp_path, run_module):
    etc = tmp_path / 'etc'
    (etc / 'profile.d').mkdir(parents=True)
    (etc / 'environment').write_text('# system\nLANG=C.UTF-8\n')
    files = [{'path': str(etc / 'environment')},
             {'path': str(etc / 'profile.d/go.sh'), 'format': 'profile'},
             {'path': str(etc / 'systemd/system.conf.d/go.conf'), 'format': 'systemd'}]
    env = {'GOGC': '200', 'GOMEMLIMIT': '3GiB', 'GOMAXPROCS': None}
    result = run_module('go_env_file', dict(lock_path=str(tmp_path / 'lock'), env=env, files=files,
                                            fact_path=str(tmp_path / 'f'), fact_key='runtime'))
    assert result['changed'] is True and len(result['files']) == 3
    assert (etc / 'environment').read_text().startswith('# system\nLANG=C.UTF-8\n')
    assert 'GOGC=200\nGOMEMLIMIT=3GiB\n' in (etc / 'environment').read_text()
    assert "export GOGC='200'\nexport GOMEMLIMIT='3GiB'\n" in (etc / 'profile.d/go.sh').read_text()
    assert 'DefaultEnvironment="GOGC=200" "GOMEMLIMIT=3GiB"' in (etc / 'systemd/system.conf.d/go.conf').read_text()
    assert run_module('go_env_file', dict(lock_path=str(tmp_path / 'lock'), env=env, files=files))['changed'] is False

    # a layer switched off: its values go, the others stay
    files[2]['state'] = 'absent'
    files[0]['state'] = 'absent'
    result = run_module('go_env_file', dict(lock_path=str(tmp_path / 'lock'), env=env, files=files))
    assert sorted(result['changed_files']) == [str(etc / 'environment'), str(etc / 'systemd/system.conf.d/go.conf')]
    assert (etc / 'environment').read_text() == '# system\nLANG=C.UTF-8\n'
    assert not (etc / 'systemd/system.conf.d/go.conf').exists()

    # every knob unset: nothing left anywhere
    unset = {'GOGC': None, 'GOMEMLIMIT': None, 'GOMAXPROCS': None}
    result = run_module('go_env_file', dict(lock_path=str(tmp_path / 'lock'), env=unset,
                                            files=[dict(f, state='present') for f in files]))
    assert result['changed'] is True and result['files'] == []
    assert not (etc / 'profile.d/go.sh').exists()
    assert (etc / 'environment').read_text() == '# system\nLANG=C.UTF-8\n'


def test_fact_keeps_the_other_sections(tmp_path, lib, run_module):
    fact = tmp_path / 'go_env.fact'
    fact.write_text(json.dumps({'runtime': {'env': {'GOGC': '200'}}}))
    run_module('go_env_file', args(tmp_path))
    data = json.loads(fact.read_text())
    assert data['runtime'] == {'env': {'GOGC': '200'}} and 'command' in data


def test_command_and_runtime_sections_in_one_call(tmp_path, lib, run_module):
    etc = tmp_path / 'etc'
    (etc / 'profile.d').mkdir(parents=True)
    runtime = dict(env={'GOGC': '200', 'GOMEMLIMIT': None},
                   files=[{'path': str(etc / 'profile.d/go.sh'), 'format': 'profile'},
                          {'path': str(etc / 'systemd/system.conf.d/go.conf'), 'format': 'systemd'}])
    result = run_module('go_env_file', args(tmp_path, runtime=runtime))
    assert sorted(result['changed_files']) == sorted(
        [str(lib / '1.26.6/go.env'), str(lib / '1.27.3/go.env'), str(etc / 'profile.d/go.sh'),
         str(etc / 'systemd/system.conf.d/go.conf'), str(tmp_path / 'go_env.fact')])
    assert result['runtime'] == {'env': {'GOGC': '200'}, 'files': [str(etc / 'profile.d/go.sh'),
                                                                   str(etc / 'systemd/system.conf.d/go.conf')],
                                 'changed_files': [str(etc / 'profile.d/go.sh'),
                                                   str(etc / 'systemd/system.conf.d/go.conf')]}
    assert 'GOGC' not in (lib / '1.27.3/go.env').read_text()
    assert 'GOTOOLCHAIN=local' in (lib / '1.27.3/go.env').read_text()
    assert 'DefaultEnvironment="GOGC=200"' in (etc / 'systemd/system.conf.d/go.conf').read_text()
    fact = json.loads((tmp_path / 'go_env.fact').read_text())
    assert fact['runtime'] == {'env': {'GOGC': '200'}, 'files': result['runtime']['files']}
    assert fact['command']['env']['GOTOOLCHAIN'] == 'local'
    again = run_module('go_env_file', args(tmp_path, runtime=runtime))
    assert again['changed'] is False and again['runtime']['changed_files'] == []


def test_a_bad_runtime_value_fails_before_anything_is_written(tmp_path, lib, run_module):
    runtime = dict(env={'GOMEMLIMIT': '3GB'}, files=[{'path': str(tmp_path / 'environment')}])
    with pytest.raises(ModuleFail) as failure:
        run_module('go_env_file', args(tmp_path, runtime=runtime))
    assert 'GOMEMLIMIT' in failure.value.result['msg'] and 'Nothing was written.' in failure.value.result['msg']
    assert (lib / '1.27.3/go.env').read_text() == STOCK
    assert not (tmp_path / 'environment').exists()


# ---- per-user go env -w files ----

@pytest.fixture
def home(tmp_path):
    home = tmp_path / 'home/builder'
    (home / '.config/go').mkdir(parents=True)
    (home / '.config/go/env').write_text('GOPROXY=https://user.example.com\nGOBIN=/home/builder/bin\n'
                                         'GOTOOLCHAIN=local\n')
    os.chmod(home / '.config/go/env', 0o600)
    return home


def test_user_overrides_are_reported(tmp_path, lib, home, run_module, warned):
    result = run_module('go_env_file', args(tmp_path, user_env='report', home_dirs=[str(home)]))
    overrides = result['user_overrides']
    assert [(o['key'], o['value'], o['managed'], o['action']) for o in overrides] == [
        ('GOPROXY', 'https://user.example.com', ENV['GOPROXY'], 'reported')]
    assert any('go_env_enforce: true' in w and 'GOPROXY' in w and str(home) in w for w in warned)
    assert 'GOPROXY=https://user.example.com' in (home / '.config/go/env').read_text()
    fact = json.loads((tmp_path / 'go_env.fact').read_text())
    assert fact['command']['user_overrides'][0]['key'] == 'GOPROXY'


def test_user_overrides_are_removed_keeping_the_rest(tmp_path, lib, home, run_module):
    before = os.stat(home / '.config/go/env')
    probe = run_module('go_env_file', args(tmp_path, user_env='remove', home_dirs=[str(home)]), check=True, diff=True)
    assert probe['user_overrides'][0]['action'] == 'would remove'
    assert 'GOPROXY=https://user.example.com' in (home / '.config/go/env').read_text()
    result = run_module('go_env_file', args(tmp_path, user_env='remove', home_dirs=[str(home)]), diff=True)
    assert result['user_overrides'][0]['action'] == 'removed'
    assert (home / '.config/go/env').read_text() == 'GOBIN=/home/builder/bin\nGOTOOLCHAIN=local\n'
    after = os.stat(home / '.config/go/env')
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    assert [n for n in os.listdir(home / '.config/go') if n.startswith('.tmp')] == []
    assert json.loads((tmp_path / 'go_env.fact').read_text())['command']['user_overrides'] == []
    assert run_module('go_env_file', args(tmp_path, user_env='remove', home_dirs=[str(home)]))['changed'] is False


def test_symlinked_user_files_are_skipped(tmp_path, lib, home, run_module):
    target = tmp_path / 'elsewhere'
    target.write_text('GOPROXY=https://user.example.com\n')
    os.unlink(home / '.config/go/env')
    os.symlink(target, home / '.config/go/env')
    result = run_module('go_env_file', args(tmp_path, user_env='remove', home_dirs=[str(home)]))
    assert result['user_overrides'][0]['action'].startswith('skipped')
    assert target.read_text() == 'GOPROXY=https://user.example.com\n'


def test_symlinked_config_directory_is_skipped(tmp_path, lib, run_module):
    home = tmp_path / 'home/mallory'
    home.mkdir(parents=True)
    real = tmp_path / 'etc-like'
    (real / 'go').mkdir(parents=True)
    (real / 'go/env').write_text('GOPROXY=https://user.example.com\n')
    os.symlink(real, home / '.config')
    result = run_module('go_env_file', args(tmp_path, user_env='remove', home_dirs=[str(home)]))
    assert result['user_overrides'][0]['action'].startswith('skipped')
    assert (real / 'go/env').read_text() == 'GOPROXY=https://user.example.com\n'


@pytest.mark.parametrize('key,value,match', [
    ('GOCACHE', '/usr', r'go_env_cache \(GOCACHE\) is /usr, a system directory'),
    ('GOMODCACHE', '/home', r'go_env_modcache \(GOMODCACHE\) is /home, a system directory'),
    ('GOCACHE', '/etc/ssl/x/..', r'go_env_cache \(GOCACHE\) must be a normal absolute path'),
])
def test_cache_paths_that_would_write_into_the_system_are_refused(run_module, tmp_path, key, value, match):
    target = tmp_path / 'go.env'
    target.write_text('GOPROXY=https://proxy.golang.org,direct\n')
    with pytest.raises(ModuleFail, match=match + '.*Nothing was written'):
        run_module('go_env_file', dict(env={key: value}, path=[str(target)]))
    assert target.read_text() == 'GOPROXY=https://proxy.golang.org,direct\n'


def test_an_existing_foreign_directory_is_no_cache(run_module, tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'report.pdf').write_text('x')
    with pytest.raises(ModuleFail, match=r'go_env_cache \(GOCACHE\) is .*data, an existing directory that does not '
                                         r'look like a Go build cache .it holds report.pdf.. Choose an empty or new '
                                         r'directory. Nothing'):
        run_module('go_env_file', dict(env={'GOCACHE': str(data)}, path=[str(tmp_path / 'go.env')]))
    assert not (tmp_path / 'go.env').exists()


def test_the_shared_caches_of_go_cache_never_go_into_go_env(run_module, tmp_path, monkeypatch):
    conf = tmp_path / 'shared-caches.env'
    conf.write_text('# go_cache role (go-buildhost)\nGROUP=gobuilders\nGOCACHE=/var/cache/go/build\n'
                    'GOMODCACHE=/var/cache/go/mod\n')
    module = load_library('go_env_file')
    assert module.shared_caches(str(conf)) == {'GOCACHE': '/var/cache/go/build', 'GOMODCACHE': '/var/cache/go/mod'}
    assert module.shared_caches(str(tmp_path / 'none')) == {}
    # The module reads the real path: point that read at the fixture.
    atomic_fs = importlib.import_module('ansible_collections.go_buildhost.buildhost.plugins.module_utils.atomic_fs')
    real_read = atomic_fs.read_text
    monkeypatch.setattr(atomic_fs, 'read_text', lambda path, *a: real_read(str(conf) if path == module.SHARED_CACHES
                                                                           else path, *a))
    target = tmp_path / 'go.env'
    with pytest.raises(ModuleFail, match=r'go_env_cache \(GOCACHE\) is /var/cache/go/build, a shared cache of the '
                                         r'go_cache role.*every other account.s go would fail'):
        run_module('go_env_file', dict(env={'GOCACHE': '/var/cache/go/build'}, path=[str(target)]))
    assert not target.exists()
