"""The modules of the way back (issue 14): go.env records and restore, go_env_remove, prune_dirs,
lock_dirs and cgroup_slices' state absent, against temporary directories."""

import json
import os

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_env import (
    CREATED, MARKER, ORIGINAL, records, restore, update,
)

from .conftest import ModuleFail
# env: test_cgroup_slices' fixture, reused here.
from .test_cgroup_slices import env  # noqa: F401  pylint: disable=unused-import
from .test_go_env_file import STOCK

ENV = {'GOPROXY': 'https://goproxy.corp.example.com,direct', 'GOSUMDB': 'sum.golang.org', 'GOTOOLCHAIN': 'local',
       'GOFLAGS': '-modcacherw', 'GOPRIVATE': None}


# ---- module_utils/go_env.py --------------------------------------------------

def test_update_records_the_values_it_replaces_once_and_restore_brings_the_stock_file_back():
    first = update(STOCK, ENV)
    assert records(first) == ({'GOPROXY': 'https://proxy.golang.org,direct', 'GOSUMDB': 'sum.golang.org',
                               'GOTOOLCHAIN': 'auto'}, False)
    assert '%s GOTOOLCHAIN auto\n' % ORIGINAL in first
    again = update(first, dict(ENV, GOPROXY='https://other.example.com'))
    assert records(again)[0]['GOPROXY'] == 'https://proxy.golang.org,direct', 'the first value is kept'
    assert restore(first) == (STOCK, [])
    assert restore(again) == (STOCK, [])


def test_a_key_dropped_from_env_gets_its_own_value_back():
    first = update(STOCK, ENV)
    dropped = update(first, {k: v for k, v in ENV.items() if k != 'GOTOOLCHAIN'})
    assert 'GOTOOLCHAIN=auto\n' in dropped and 'GOTOOLCHAIN auto' not in dropped
    assert restore(dropped) == (STOCK, [])


def test_a_file_update_created_is_removed_and_an_empty_one_stays_empty():
    created = update(None, {'GOGC': '200'})
    assert created.startswith(CREATED)
    assert restore(created) == (None, [])
    assert restore(update('', {'GOGC': '200'})) == ('', [])


def test_restore_leaves_unmanaged_files_alone_and_reports_unrecorded_keys():
    assert restore(STOCK) == (STOCK, [])
    old_style = (STOCK.replace('GOTOOLCHAIN=auto', 'GOTOOLCHAIN=local')
                 + '\n%s GOCACHE GOTOOLCHAIN\nGOCACHE=/c\n' % MARKER)
    text, unknown = restore(old_style)
    assert unknown == ['GOTOOLCHAIN'] and 'GOTOOLCHAIN' not in text and 'GOCACHE' not in text


# ---- go_env_remove -------------------------------------------------------------

@pytest.fixture
def host(tmp_path):
    goroot = tmp_path / 'lib/go/1.27.3'
    (goroot / 'bin').mkdir(parents=True)
    (goroot / 'bin/go').write_text('#!/bin/sh\n')
    (goroot / 'go.env').write_text(update(STOCK, ENV))
    (tmp_path / 'environment').write_text('LANG=C.UTF-8\nGOGC=50\n')
    (tmp_path / 'environment').write_text(update((tmp_path / 'environment').read_text(), {'GOGC': '200'}))
    (tmp_path / 'profile.sh').write_text('# Managed by go-buildhost (role go_env); changes here are overwritten.\n')
    (tmp_path / 'foreign.conf').write_text('[Manager]\n')
    (tmp_path / 'go_env.fact').write_text('{}\n')
    return tmp_path


def remove_args(root):
    return dict(install_root=str(root / 'lib/go'), env_files=[str(root / 'environment')],
                owned_files=[str(root / 'profile.sh'), str(root / 'foreign.conf'), str(root / 'missing.conf')],
                fact_path=str(root / 'go_env.fact'), lock_path=str(root / 'lock'))


def test_go_env_remove_restores_and_removes_then_changes_nothing(host, run_module):
    check = run_module('go_env_remove', remove_args(host), check=True, diff=True)
    assert check['changed'] is True and len(check['diff']) == 4
    assert (host / 'profile.sh').exists(), 'check mode writes nothing'
    result = run_module('go_env_remove', remove_args(host))
    assert sorted(result['removed_files']) == sorted([str(host / 'profile.sh'), str(host / 'go_env.fact')])
    assert (host / 'lib/go/1.27.3/go.env').read_text() == STOCK
    assert (host / 'environment').read_text() == 'LANG=C.UTF-8\nGOGC=50\n'
    assert result['kept_files'] == [str(host / 'foreign.conf')] and (host / 'foreign.conf').exists()
    again = run_module('go_env_remove', remove_args(host))
    assert again['changed'] is False and again['changed_files'] == []


def test_go_env_remove_refuses_relative_paths(host, run_module):
    with pytest.raises(ModuleFail, match='not an absolute path'):
        run_module('go_env_remove', dict(remove_args(host), path=['relative/go.env']))


# ---- prune_dirs and lock_dirs -----------------------------------------------------

def test_prune_dirs_removes_empty_directories_children_first_and_keeps_the_rest(tmp_path, run_module):
    (tmp_path / 'a/b').mkdir(parents=True)
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full/file').write_text('x')
    (tmp_path / 'link').symlink_to(tmp_path / 'a')
    paths = [str(tmp_path / p) for p in ('a/b', 'a', 'a', 'full', 'link', 'missing')]
    check = run_module('prune_dirs', {'paths': paths}, check=True)
    assert check['removed'] == [str(tmp_path / 'a/b'), str(tmp_path / 'a')] and (tmp_path / 'a/b').is_dir()
    assert check['kept'] == [str(tmp_path / 'full'), str(tmp_path / 'link')]
    result = run_module('prune_dirs', {'paths': paths})
    assert result['changed'] is True and not (tmp_path / 'a').exists() and (tmp_path / 'full/file').exists()
    assert run_module('prune_dirs', {'paths': paths})['changed'] is False


def test_prune_dirs_refuses_the_root(run_module):
    with pytest.raises(ModuleFail, match='other than /'):
        run_module('prune_dirs', {'paths': ['/']})


def test_lock_dirs_hands_a_directory_to_root_without_acls(tmp_path, run_module, monkeypatch):
    cache = tmp_path / 'cache'
    cache.mkdir()
    os.chmod(cache, 0o2700)
    (cache / 'entry').write_text('kept')
    calls = []
    monkeypatch.setattr(os, 'lchown', lambda path, uid, gid: calls.append((path, uid, gid)))
    monkeypatch.setattr(os, 'listxattr', lambda path, follow_symlinks=True: ['system.posix_acl_default'])
    monkeypatch.setattr(os, 'removexattr', lambda path, name, follow_symlinks=True: calls.append((path, name)))
    check = run_module('lock_dirs', {'paths': [str(cache), str(tmp_path / 'missing')]}, check=True, diff=True)
    assert check['locked'] == [str(cache)] and '+default ACL' in check['diff']['before'] and calls == []
    run_module('lock_dirs', {'paths': [str(cache)]})
    assert calls == [(str(cache), 'system.posix_acl_default'), (str(cache), 0, 0)]
    assert oct(os.stat(cache).st_mode & 0o7777) == '0o700' and (cache / 'entry').read_text() == 'kept'


def test_lock_dirs_refuses_a_symlink(tmp_path, run_module):
    (tmp_path / 'link').symlink_to(tmp_path)
    with pytest.raises(ModuleFail, match='not a directory'):
        run_module('lock_dirs', {'paths': [str(tmp_path / 'link')]})


# ---- cgroup_slices state absent ------------------------------------------------------

def test_cgroup_slices_absent_removes_every_file_and_the_fact(env):  # noqa: F811 - the fixture
    env.run(services=[{'name': 'fake-runner', 'slice': 'go-build.slice'}])
    assert env.wrapper.exists() and env.fact.exists()
    check = env.run(check=True, state='absent')
    assert check['changed'] is True and env.fact.exists()
    result = env.run(state='absent', slices=[], services=[], wrapper_path='')
    assert str(env.fact) in result['files_removed'] and result['daemon_reloaded'] is True
    assert env.files() == [], 'slices, drop-ins, env files, the wrapper and the fact are gone'
    assert not env.dropin('fake-runner.service').parent.exists()
    again = env.run(state='absent')
    assert again['changed'] is False
    assert json.dumps(again['slices']) == '{}'
