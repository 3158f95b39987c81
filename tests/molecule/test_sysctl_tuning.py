"""Verify the sysctl_tuning role on the real containers: the drop-in, /proc/sys, the fact and the state file.

Only for molecule/sysctl_tuning: its prepare step makes /proc/sys/net writable (as Podman does)
and installs a later sysctl.d file that overrides vm.swappiness, and its group_vars set the
settings below. Host-wide keys cannot be written from a container: they must be reported pending.
"""

import json
import os

import pytest
import testinfra.utils.ansible_runner

pytestmark = pytest.mark.skipif(os.environ.get('MOLECULE_SCENARIO_NAME') != 'sysctl_tuning',
                                reason='needs the fixtures of molecule/sysctl_tuning')

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')

DROP_IN = '/etc/sysctl.d/60-go-buildhost.conf'
FACT = '/etc/ansible/facts.d/sysctl_tuning.fact'
STATE = '/var/lib/go-buildhost/sysctl_tuning.state.json'
FIXTURE = '/usr/lib/sysctl.d/99-zz-gbh-fixture.conf'
EXPECTED = {
    'fs.inotify.max_user_instances': '2048',
    'fs.inotify.max_user_watches': '524288',
    'net.core.somaxconn': '65535',
    'net.ipv4.ip_local_port_range': '10240 65000',
    'net.ipv4.tcp_max_syn_backlog': '65535',
    'vm.swappiness': '10',
}
NAMESPACED = sorted(k for k in EXPECTED if k.startswith('net.'))
HOST_WIDE = sorted(k for k in EXPECTED if not k.startswith('net.'))


def live(host, key):
    return ' '.join(host.file('/proc/sys/' + key.replace('.', '/')).content_string.split())


@pytest.fixture
def fact(host):
    return json.loads(host.file(FACT).content_string)


def test_sysctl_tuning_drop_in_content_mode_and_owner(host):
    drop_in = host.file(DROP_IN)
    assert drop_in.is_file and not drop_in.is_symlink
    assert drop_in.user == 'root' and drop_in.group == 'root' and drop_in.mode == 0o644
    lines = drop_in.content_string.splitlines()
    assert lines[:4] == ['#', '# Ansible managed', '#',
                         '# go-buildhost role sysctl_tuning: kernel settings for Go build hosts.']
    settings = [line for line in lines if not line.startswith('#')]
    assert settings == ['%s = %s' % item for item in sorted(EXPECTED.items())]


def test_sysctl_tuning_namespaced_keys_are_live(host):
    for key in NAMESPACED:
        assert live(host, key) == EXPECTED[key], key


def test_sysctl_tuning_host_wide_keys_are_reported_pending(host, fact):
    for key in HOST_WIDE:
        now = live(host, key)
        if now == EXPECTED[key]:
            assert key in fact['live'], key  # the host happens to have the value already
            continue
        pending = fact['pending'][key]
        assert pending['value'] == EXPECTED[key] and pending['live'] == now
        assert pending['reason'].startswith('host-wide setting, not written from a container')
    assert set(fact['pending']) <= set(HOST_WIDE)
    assert sorted(fact['live']) == sorted(set(EXPECTED) - set(fact['pending']))


def test_sysctl_tuning_fact_describes_the_run(host, fact):
    assert host.file(FACT).mode == 0o644
    assert fact['state'] == 'present' and fact['path'] == DROP_IN and fact['apply_live'] == 'auto'
    assert fact['settings'] == EXPECTED
    assert fact['container'] in ('/.dockerenv exists', '/run/systemd/container says docker')


def test_sysctl_tuning_reports_the_key_a_later_file_overrides(host, fact):
    assert fact['shadowed'] == {'vm.swappiness': [{'path': FIXTURE, 'line': 2, 'value': '30'}]}


def test_sysctl_tuning_order_matches_systemd(host):
    """systemd itself lists our file before the fixture and (Debian 12) the 99-sysctl.conf link."""
    files = [line[2:] for line in host.check_output('systemd-analyze cat-config sysctl.d').splitlines()
             if line.startswith('# /') and line.endswith('.conf')]
    assert DROP_IN in files and FIXTURE in files
    assert files.index(DROP_IN) < files.index(FIXTURE)
    if host.file('/etc/sysctl.d/99-sysctl.conf').exists:
        assert files.index(DROP_IN) < files.index('/etc/sysctl.d/99-sysctl.conf')


def test_sysctl_tuning_state_file_records_the_originals(host):
    state = host.file(STATE)
    assert state.user == 'root' and state.mode == 0o600
    recorded = json.loads(state.content_string)
    assert recorded['path'] == DROP_IN and sorted(recorded['original']) == sorted(EXPECTED)
    for key in HOST_WIDE:
        assert recorded['original'][key] == live(host, key)
    assert host.file('/var/lib/go-buildhost').mode == 0o755


def test_sysctl_tuning_host_wide_proc_sys_stays_read_only(host):
    """The role wrote nothing host-wide: the runtime's read-only /proc/sys is still in place."""
    assert host.run('test -w /proc/sys/vm/swappiness').rc != 0
    assert host.run('test -w /proc/sys/net/core/somaxconn').rc == 0
