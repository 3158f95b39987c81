"""Run the collection's modules in-process, imported by their collection names.

The collection's code is imported as ansible_collections.go_buildhost.buildhost.*: pytest puts
collections/ on the path (pyproject.toml), where go_buildhost/buildhost links back to this tree, and
ansible-test units does the same from the collection's own ansible_collections tree.
"""

import contextlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19 (the collection supports 2.17 on: meta/runtime.yml)

    @contextlib.contextmanager
    def patch_module_args(args):
        """The module arguments AnsibleModule reads, the way 2.17 takes them: basic._ANSIBLE_ARGS."""
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


ROOT = Path(__file__).resolve().parents[2]
# Ansible's collection loader, as ansible-test units and ansible-playbook install it, before any test
# imports the collection: the roles' vars then find the collection's plugins by FQCN (role_vars.py).
# tests/conftest.py installs it too, before pytest collects the modules outside tests/unit that import
# from it (`make test`); ansible-test keeps tests/unit/__init__.py empty.
_AnsibleCollectionFinder(paths=[str(ROOT / 'collections')])._install()
COLLECTION = 'ansible_collections.go_buildhost.buildhost'


def load_health_program(name='go_cache_health'):
    """go_cache's health program as the host runs it: go_cache_audit beside it is the collection's."""
    audit = importlib.import_module(COLLECTION + '.plugins.module_utils.go_cache_audit')
    sys.modules['go_cache_audit'] = audit
    spec = importlib.util.spec_from_file_location(name, ROOT / 'roles/go_cache/files/go_cache_health.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_library(name):
    """A module of the collection (its source is library/<name>.py), freshly executed."""
    return importlib.reload(importlib.import_module('%s.plugins.modules.%s' % (COLLECTION, name)))


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleFail(Exception):
    def __init__(self, result):
        super().__init__(result.get('msg'))
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    raise ModuleFail(kwargs)


@pytest.fixture
def run_module(monkeypatch, tmp_path_factory):
    """run_module(name, args, check=False, diff=False) -> result dict; raises ModuleFail on failure."""
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)
    # The host-wide lock of every module goes to a temporary directory, not /run.
    lock_utils = importlib.import_module('ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock')
    monkeypatch.setattr(lock_utils, 'LOCK_PATH', str(tmp_path_factory.mktemp('run') / 'go-buildhost.lock'))
    # A real module process ends, and so frees the lock, after exit_json; here the process goes on and
    # the exception's traceback keeps the module alive. Take and free the lock at once instead.
    real_hold = lock_utils.hold_host_lock

    def hold_and_release(module, what):
        real_hold(module, what)
        module._go_buildhost_lock.__exit__(None, None, None)

    monkeypatch.setattr(lock_utils, 'hold_host_lock', hold_and_release)

    def run(name, args, check=False, diff=False):
        module = load_library(name)
        args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        with patch_module_args(json.loads(json.dumps(args))):
            try:
                module.main()
            except ModuleExit as done:
                return done.result
        raise AssertionError('module %s returned without exit_json' % name)

    return run


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items):
    """The unit tests are one pytest-xdist group (make test: --dist loadgroup): a few seconds of work,
    which as hundreds of groups of one test would fill the first batch every worker gets."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group('unit'))
