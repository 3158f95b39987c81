"""What each forked worker of a no-op does not do again (issue 19).

Ansible forks a worker per task and host, and a worker starts from what the main process had loaded. Two
costs were paid again in every worker, for every host:

- To find any one filter of a collection, Ansible loads every file of its plugins/filter. Each of ours
  imported its rules from module_utils at load time, which the collection loader compiles from source (no
  bytecode cache): every role_check and module task that templated one filter compiled all six rule modules.
  They are now imported when a filter of that file runs.
- role_check validated each role's argument spec by parsing its meta/argument_specs.yml again. Ansible
  parsed it when it loaded the role, in the main process, and its loader caches it by the path it found it
  by; role_spec asks for it by that path (not the resolved one) and without a deep copy.
"""

import copy
import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
from ansible.parsing import dataloader
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils import role_spec

from .conftest import COLLECTION, ROOT

FILTERS = sorted(p.stem for p in (ROOT / 'plugins' / 'filter').glob('*.py') if p.stem != '__init__')
# One call per filter file, and the module_utils that call needs.
CALLS = {
    'build_cgroups': ('build_cgroups_errors', ({},), 'cgroup_spec'),
    'go_cache': ('go_cache_bytes', ('1G',), 'go_cache_rules'),
    'go_cache_server': ('go_cache_server_errors', ({},), 'go_cache_server_rules'),
    'go_env': ('go_env_errors', ({},), 'go_env'),
    'go_toolchain': ('go_toolchain_errors', ({},), 'go_toolchain_rules'),
    'platforms': ('platform_errors', ({},), 'platforms'),
    'sysctl_tuning': ('sysctl_tuning_errors', ({},), 'sysctl_conf'),
}
PROBE = textwrap.dedent('''
    import importlib, json, sys
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
    prefix = '%(collection)s.plugins.module_utils.'
    loaded = lambda: sorted(m[len(prefix):] for m in sys.modules if m.startswith(prefix))
    report = {}
    for name in sys.argv[2].split(','):
        module = importlib.import_module('%(collection)s.plugins.filter.' + name)
        module.FilterModule().filters()
        report[name] = loaded()
    function, args, _needs = json.loads(sys.argv[3])
    name = sys.argv[4]
    getattr(importlib.import_module('%(collection)s.plugins.filter.' + name), function)(*args)
    report['after_call'] = loaded()
    print(json.dumps(report))
''' % {'collection': COLLECTION})


def probe(call_file):
    """Load every filter file as Ansible does to find one filter, then run one filter of call_file."""
    function, args, needs = CALLS[call_file]
    proc = subprocess.run([sys.executable, '-c', PROBE, str(ROOT / 'collections'), ','.join(FILTERS),
                           json.dumps([function, args, needs]), call_file],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_filter_file_has_a_call():
    assert set(CALLS) == set(FILTERS)


@pytest.mark.parametrize('call_file', ['go_cache', 'platforms'])
def test_loading_the_filter_files_imports_no_rules_until_a_filter_runs(call_file):
    report = probe(call_file)
    for name in FILTERS:
        assert report[name] == [], '%s imported %s when Ansible loaded it' % (name, report[name])
    needs = CALLS[call_file][2]
    assert needs in report['after_call'], report['after_call']
    others = {CALLS[name][2] for name in FILTERS} - {needs} - set(report['after_call'])
    assert others, 'running one filter imported every file\'s rules'


SPEC = {'argument_specs': {'variables': {'options': {
    'demo_size': {'type': 'int', 'default': 1},
    'demo_mode': {'type': 'str', 'choices': ['a', 'b']},
}}}}


@pytest.fixture
def linked_role(tmp_path):
    """A role whose directory is reached through a symlink, as the collection links this checkout."""
    real = tmp_path / 'checkout' / 'roles' / 'demo'
    (real / 'meta').mkdir(parents=True)
    (real / 'meta' / 'argument_specs.yml').write_text(json.dumps(SPEC))
    (tmp_path / 'collection').mkdir()
    os.symlink(tmp_path / 'checkout' / 'roles', tmp_path / 'collection' / 'roles')
    linked = str(tmp_path / 'collection' / 'roles' / 'demo')
    return SimpleNamespace(_role_path=linked, get_role_path=lambda: os.path.realpath(linked))


def action_for(role, loader, task_vars):
    return SimpleNamespace(_task=SimpleNamespace(_role=role), _loader=loader,
                           _templar=Templar(loader=loader, variables=task_vars))


def test_the_argument_spec_is_the_copy_ansible_parsed_when_it_loaded_the_role(linked_role, monkeypatch):
    loader = DataLoader()
    # What Ansible does in the main process when it loads the role, before any worker forks: Role's
    # _load_role_yaml finds the file with find_vars_files under the role's path and loads it.
    found = loader.find_vars_files(os.path.join(linked_role._role_path, 'meta'), 'argument_specs')
    assert len(found) == 1
    loader.load_from_file(found[0])
    cached = loader.load_from_file(found[0], unsafe=True)
    before = copy.deepcopy(cached)
    real_deepcopy = copy.deepcopy

    def no_parse(*_args, **_kwargs):
        raise AssertionError('the worker parsed meta/argument_specs.yml again')

    def no_copy(value, *args, **kwargs):
        if value is cached:
            raise AssertionError('the worker deep-copied the parsed spec')
        return real_deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(DataLoader, 'load', no_parse)
    monkeypatch.setattr(dataloader.copy, 'deepcopy', no_copy)
    task_vars = {'demo_size': 'many', 'demo_mode': 'c'}
    errors = role_spec.argument_spec_errors(action_for(linked_role, loader, task_vars), task_vars, 'variables')
    assert len(errors) == 2, errors
    assert any('demo_size' in error for error in errors)
    assert any('demo_mode' in error and 'a, b' in error for error in errors)
    assert role_spec.argument_spec_errors(action_for(linked_role, loader, {'demo_size': 2}), {'demo_size': 2},
                                          'variables') == []
    monkeypatch.undo()
    # The validation left Ansible's copy as it was.
    assert loader.load_from_file(found[0], unsafe=True) == before


def test_an_unknown_entry_point_or_a_role_without_a_spec_checks_nothing(linked_role, tmp_path):
    loader = DataLoader()
    assert role_spec.argument_spec_errors(action_for(linked_role, loader, {}), {}, 'main') == []
    bare = SimpleNamespace(_role_path=str(tmp_path), get_role_path=lambda: str(tmp_path))
    assert role_spec.argument_spec_errors(action_for(bare, loader, {}), {}, 'variables') == []
