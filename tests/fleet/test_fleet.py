"""Verify a sample of the fleet: first host, a paramiko host, last host."""

import json
import os
import subprocess

import testinfra.utils.ansible_runner

_ALL = testinfra.utils.ansible_runner.AnsibleRunner(os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')
testinfra_hosts = sorted({_ALL[0], _ALL[1], _ALL[-1]})


def test_go_is_installed_and_active(host):
    assert host.check_output("bash -lc 'go version'").startswith('go version go1.27.')
    assert host.check_output('readlink /usr/local/go').startswith('/usr/local/lib/go/1.27.')
    fact = json.loads(host.file('/etc/ansible/facts.d/go_toolchain.fact').content_string)
    assert fact['active_version'].startswith('1.27.')


def test_connected_as_a_non_root_user_who_needs_a_sudo_password(host):
    assert host.user().name == 'ansible'
    assert host.run('sudo -n true').rc != 0


def test_the_fleet_used_both_connection_plugins():
    inventory = json.loads(subprocess.run(
        ['ansible-inventory', '-i', os.environ['MOLECULE_INVENTORY_FILE'], '--list'],
        capture_output=True, text=True, check=True).stdout)
    hostvars = inventory['_meta']['hostvars']
    kinds = {hostvars[h].get('ansible_connection', 'ssh') for h in _ALL}
    assert kinds == {'ssh', 'paramiko'}
    assert len(_ALL) == 12
