"""Drift audit: every role in check mode, reported per host and role."""

import json
import xml.etree.ElementTree as ET

import pytest

from .conftest import MIRROR, PLATFORMS as ALL_PLATFORMS, SITE_CACHE_VARS

# The drift audit reads what every role wrote, through each platform's packages and paths: on every
# platform in make test.
PLATFORMS = tuple(ALL_PLATFORMS)

VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/', **SITE_CACHE_VARS}


@pytest.fixture(scope='module')
def converged(target):
    result = target.play(VARS)
    assert not result.failed, result.messages()
    return target


def audit(target, tmp_path, monkeypatch, **extra):
    report_dir = tmp_path / 'audit'
    monkeypatch.setenv('GO_BUILDHOST_AUDIT_DIR', str(report_dir))
    result = target.play(dict(VARS, **extra), playbook='playbooks/audit.yml')
    report = json.loads((report_dir / 'drift.json').read_text())
    junit = ET.parse(report_dir / 'drift.xml').getroot()  # noqa: S314 - our own report
    return result, report, junit


def test_converged_host_has_no_drift(converged, tmp_path, monkeypatch):
    result, report, junit = audit(converged, tmp_path, monkeypatch)
    assert not result.failed, result.messages()
    roles = report['hosts'][converged.name]
    assert set(roles) >= {'go_toolchain', 'go_env', 'sysctl_tuning', 'build_cgroups', 'go_cache'}
    assert {role: data['drift_items'] for role, data in roles.items() if data['drift_items']} == {}
    assert report['drifted_hosts'] == []
    assert junit.find('testsuite').get('failures') == '0'


def test_hand_made_change_is_named(converged, tmp_path, monkeypatch):
    converged.sh('rm /usr/local/bin/gofmt && mkdir -p /var/lib/node_exporter')
    converged.sh("sed -i 's/^vm.swappiness = 10$/vm.swappiness = 30/' /etc/sysctl.d/60-go-buildhost.conf")
    drop_default_acl = "import os; os.removexattr('/var/cache/go/build', 'system.posix_acl_default')"
    converged.sh('python3 -c "%s"' % drop_default_acl)
    converged.sh('echo >> /etc/go-cache/health.json')
    try:
        result, report, junit = audit(converged, tmp_path, monkeypatch,
                                      go_buildhost_audit_textfile_dir='/var/lib/node_exporter')
        assert not result.failed, result.messages()
        assert report['drifted_hosts'] == [converged.name]
        drifted = {role: data['drift_items'] for role, data in report['hosts'][converged.name].items()
                   if data['drift_items']}
        assert set(drifted) == {'go_toolchain', 'sysctl_tuning', 'go_cache'}, drifted
        assert drifted['go_toolchain'] == 1 and drifted['sysctl_tuning'] == 1, drifted
        cache_tasks = [t['task'] for t in report['hosts'][converged.name]['go_cache']['tasks']]
        assert any('cache' in t.lower() and ('permission' in t.lower() or 'acl' in t.lower() or 'shared' in t.lower())
                   for t in cache_tasks), cache_tasks
        named = [t.get('changed_paths') for t in report['hosts'][converged.name]['go_cache']['tasks']]
        assert ['/etc/go-cache/health.json'] in named, named
        drift = report['hosts'][converged.name]['go_toolchain']
        assert any('link /usr/local/bin/gofmt' in a for a in drift['tasks'][0]['actions'])
        failure = junit.find("testsuite/testcase[@name='go_toolchain']/failure")
        assert failure is not None and failure.get('message') == '1 drift item(s)'
        metric = converged.sh('cat /var/lib/node_exporter/go_buildhost_drift.prom')
        assert 'go_buildhost_drift_items{role="go_toolchain"} 1' in metric
        assert converged.sh('ls /usr/local/bin/gofmt 2>/dev/null; true') == '', 'the audit must not repair'
        assert 'vm.swappiness = 30' in converged.sh('cat /etc/sysctl.d/60-go-buildhost.conf')
        assert 'system.posix_acl_default' not in converged.sh(
            'python3 -c "import os; print(os.listxattr(\'/var/cache/go/build\'))"')

        gated, _report, _junit = audit(converged, tmp_path, monkeypatch, fail_on_drift=True)
        assert gated.rc != 0
        assert gated.data['stats']['localhost']['failures'] == 1
        assert 'Drift on %s: see' % converged.name in json.dumps(gated.data)
    finally:
        converged.play(VARS)
