"""Fleet-level cases over SSH: an unreachable host, a wrong become password, the free strategy."""

import json
import os
import subprocess

import pytest

from .conftest import MIRROR, ROOT, VENV_BIN, Fleet, docker

VARS = {'ansible_become': True, 'go_toolchain_version': '1.27',
        'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'file://%s/' % MIRROR, 'go_toolchain_download_on_controller': True}


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('fleet')
    created = Fleet(2, workdir, first_port=2450)
    try:
        yield created
    finally:
        created.remove()


def play(inventory, extra_vars, tmp_path, **env_extra):
    extra = dict(VARS, go_toolchain_controller_cache=str(tmp_path / 'cache'), **extra_vars)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               PATH='%s:%s' % (VENV_BIN, os.environ['PATH']), **env_extra)
    proc = subprocess.run([str(VENV_BIN / 'ansible-playbook'), '-i', str(inventory), '-e', json.dumps(extra),
                           str(ROOT / 'playbooks/go_toolchain.yml')], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_unreachable_host_does_not_stop_the_fleet(fleet, tmp_path):
    inventory = json.loads(fleet.all.read_text())
    inventory['all']['children']['go_buildhosts']['hosts']['gbh-gone'] = {'ansible_host': '127.0.0.1',
                                                                           'ansible_port': 1}
    path = tmp_path / 'hosts.yml'
    path.write_text(json.dumps(inventory))
    rc, data = play(path, {}, tmp_path)
    assert rc == 4, 'ansible-playbook signals unreachable hosts with rc 4'
    assert data['stats']['gbh-gone']['unreachable'] == 1
    for name in fleet.names:
        assert data['stats'][name]['failures'] == 0 and data['stats'][name]['unreachable'] == 0
        assert docker('exec', name, 'go', 'version').stdout.startswith('go version go1.27.')


def test_wrong_become_password_is_a_clear_error(fleet, tmp_path):
    rc, data = play(fleet.one, {'ansible_become_password': 'not-the-password'}, tmp_path)
    assert rc != 0
    name = fleet.names[0]
    assert data['stats'][name]['failures'] + data['stats'][name]['unreachable'] == 1
    messages = [h[name].get('msg', '') for p in data['plays'] for t in p['tasks'] for h in [t['hosts']] if name in h]
    assert any('sudo password' in m.lower() for m in messages), messages


def test_free_strategy_with_a_host_that_gathers_its_facts_late(fleet, tmp_path):
    # Under free, a host reaches the version resolution while another has not gathered its facts
    # yet: the resolution must not need the other hosts' facts. The second host's Python starts 3 s late.
    slow = fleet.names[1]
    subprocess.run(['docker', 'exec', '-i', slow, 'sh', '-c',
                    'cat > /usr/local/bin/slow-python3 && chmod 0755 /usr/local/bin/slow-python3'],
                   input='#!/bin/sh\nsleep 3\nexec /usr/bin/python3 "$@"\n', text=True, check=True)
    inventory = json.loads(fleet.all.read_text())
    inventory['all']['children']['go_buildhosts']['hosts'][slow]['ansible_python_interpreter'] = \
        '/usr/local/bin/slow-python3'
    path = tmp_path / 'hosts.yml'
    path.write_text(json.dumps(inventory))
    rc, data = play(path, {'go_toolchain_version': '1.26'}, tmp_path, ANSIBLE_STRATEGY='free')
    assert rc == 0, data['stats']
    for name in fleet.names:
        assert docker('exec', name, 'go', 'version').stdout.startswith('go version go1.26.'), name
