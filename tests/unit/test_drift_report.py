"""The drift_report callback: keys by the role's own name, and its default report directory."""

import json
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.go_buildhost.buildhost.plugins.callback import drift_report

from .conftest import ROOT


class Role:
    """A collection role as Ansible names it: its FQCN unless asked for its own name."""

    def __init__(self, name):
        self.name = name

    def get_name(self, include_role_fqcn=True):
        return 'go_buildhost.buildhost.' + self.name if include_role_fqcn else self.name


def result(role, changed, task_name):
    task = mock.MagicMock(check_mode=True, tags=[], _role=Role(role))
    task.get_name.return_value = 'go_buildhost.buildhost.%s : %s' % (role, task_name)
    host = mock.MagicMock()
    host.get_name.return_value = 'web1'
    return mock.MagicMock(_task=task, _host=host, _result={'changed': changed, 'actions': ['link x']})


def test_the_report_is_keyed_by_each_roles_own_name(tmp_path):
    callback = drift_report.CallbackModule()
    callback.report_dir = str(tmp_path)
    callback.recording = True
    callback.v2_runner_on_ok(result('go_toolchain', True, 'Ensure Go'))
    callback.v2_runner_on_ok(result('go_env', False, 'Ensure go.env'))
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / 'drift.json').read_text())
    assert set(report['hosts']['web1']) == {'go_toolchain', 'go_env'}
    expected = {'drift_items': 1, 'tasks': [{'task': 'Ensure Go', 'actions': ['link x']}]}
    assert report['hosts']['web1']['go_toolchain'] == expected
    assert report['drifted_hosts'] == ['web1']
    assert 'name="go_toolchain"' in (tmp_path / 'drift.xml').read_text()


def test_without_a_directory_it_writes_where_the_audit_playbook_reads(monkeypatch):
    monkeypatch.delenv('GO_BUILDHOST_AUDIT_DIR', raising=False)
    callback = drift_report.CallbackModule()
    callback.v2_playbook_on_start(None)
    # playbooks/vars/audit.yml: playbook_dir (playbooks/) ~ '/../.cache/audit'
    assert Path(callback.report_dir) == ROOT / '.cache' / 'audit'


def test_an_unchanged_report_is_not_written_again(tmp_path, monkeypatch):
    """The audit playbook hands drift.json to set_stats before the last flush: that flush keeps the file."""
    callback = drift_report.CallbackModule()
    callback.report_dir = str(tmp_path)
    callback.recording = True
    callback.v2_runner_on_ok(result('go_toolchain', True, 'Ensure Go'))
    callback.v2_playbook_on_stats(None)
    first = (tmp_path / 'drift.json').read_text()
    monkeypatch.setattr(drift_report, '_atomic_write', lambda path, text: pytest.fail('rewrote %s' % path))
    callback.v2_playbook_on_stats(None)
    assert (tmp_path / 'drift.json').read_text() == first


def test_go_cache_perms_bundle_names_its_files_and_units(tmp_path):
    """go_cache_perms puts the health check's files in place in its own call: their paths are the drift's."""
    callback = drift_report.CallbackModule()
    callback.report_dir = str(tmp_path)
    callback.recording = True
    drifted = result('go_cache', True, 'Ensure the caches are 2770')
    drifted._result = {'changed': True, 'actions': ['would repair 1 of 3 entries in /var/cache/go/build'],
                       'bundle': {'changed': True, 'changed_paths': ['/etc/go-cache/health.json'],
                                  'service_actions': []}}
    callback.v2_runner_on_ok(drifted)
    callback.v2_playbook_on_stats(None)
    task = json.loads((tmp_path / 'drift.json').read_text())['hosts']['web1']['go_cache']['tasks'][0]
    assert task == {'task': 'Ensure the caches are 2770',
                    'actions': ['would repair 1 of 3 entries in /var/cache/go/build'],
                    'changed_paths': ['/etc/go-cache/health.json']}
