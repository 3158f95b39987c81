"""Verify a sample of the fleet: one host of each distribution (molecule/fleet/molecule.yml puts three
of each in a row), OpenSSH and paramiko hosts among them."""

import json
import os
import subprocess
from pathlib import Path

import testinfra.utils.ansible_runner
import yaml

_ALL = testinfra.utils.ansible_runner.AnsibleRunner(os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')
testinfra_hosts = sorted({_ALL[0], _ALL[1], _ALL[4], _ALL[6], _ALL[-1]})
# Each sampled host's distribution and version, from its image (molecule/fleet/molecule.yml).
EXPECTED = {0: ('debian', '12'), 1: ('debian', '12'), 4: ('debian', '13'), 6: ('ubuntu', '22.04'),
            11: ('ubuntu', '24.04')}


def test_the_sample_covers_every_supported_distribution(host):
    lines = host.file('/etc/os-release').content_string.splitlines()
    release = dict(line.split('=', 1) for line in lines if '=' in line)
    seen = (release['ID'], release['VERSION_ID'].strip('"'))
    assert seen == EXPECTED[_ALL.index(host.backend.get_hostname())]


def test_a_third_of_the_fleet_or_more_is_ubuntu():
    scenario = yaml.safe_load((Path(os.environ['MOLECULE_SCENARIO_DIRECTORY']) / 'molecule.yml').read_text())
    images = [platform['image'] for platform in scenario['platforms']]
    assert len(images) == len(_ALL) == 12
    assert sum(image.startswith('go-buildhost/ubuntu-ssh:') for image in images) * 3 >= len(images)
    assert {image.rsplit(':', 1)[1] for image in images} == {'12', '13', '22.04', '24.04'}


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
