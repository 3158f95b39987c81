"""Helpers for the VM suite: run Ansible against the Molecule VM inventory."""

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / '.venv' / 'bin'
# The same as molecule/vm/molecule.yml gives every VM connection.
SSH_KEEPALIVE = '-o ServerAliveInterval=5 -o ServerAliveCountMax=3'


def ansible_env():
    env = dict(os.environ, PATH='%s:%s' % (BIN, os.environ['PATH']), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / 'collections'),
               ANSIBLE_CALLBACKS_ENABLED='go_buildhost.buildhost.drift_report')
    ephemeral = os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY')
    if ephemeral and (Path(ephemeral) / 'ansible.cfg').exists():
        env['ANSIBLE_CONFIG'] = str(Path(ephemeral) / 'ansible.cfg')
    return env


def inventory():
    return os.environ['MOLECULE_INVENTORY_FILE']


@pytest.fixture(scope='session')
def playbook():
    """playbook(path, limit=None, **extra_vars) -> (rc, stats of the first host, parsed JSON)."""

    def run(path, limit=None, **extra_vars):
        command = [str(BIN / 'ansible-playbook'), '-i', inventory(), str(ROOT / path)]
        if limit:
            command += ['--limit', limit]
        if extra_vars:
            command += ['-e', json.dumps(extra_vars)]
        proc = subprocess.run(command, env=ansible_env(), cwd=ROOT, capture_output=True, text=True,
                              timeout=900, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('ansible-playbook %s gave no JSON (rc=%d): %s %s' % (
                path, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])) from None
        stats = next(iter(data['stats'].values()))
        return proc.returncode, stats, data

    return run


@pytest.fixture(scope='session')
def reboot():
    def run():
        # No shared SSH master: QEMU's user-mode network keeps the host side of a connection open across
        # the guest's reboot, so a multiplexed session would wait on a master whose peer is gone.
        proc = subprocess.run([str(BIN / 'ansible'), '-i', inventory(), 'go_buildhosts', '--become', '-m',
                               'ansible.builtin.reboot', '-a', 'reboot_timeout=300', '-e',
                               'ansible_ssh_common_args="%s -o ControlPath=none"' % SSH_KEEPALIVE],
                              env=dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK='default'), cwd=ROOT,
                              capture_output=True, text=True, timeout=420, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    return run


@pytest.fixture(scope='session')
def probe_binary():
    """tests/vm/probe built on the controller with the mirror fixture's newest Go (static, linux/amd64)."""
    index = json.loads((ROOT / '.cache/go-mirror/index.json').read_text())
    newest = index[0]['files'][0]['filename']
    work = ROOT / '.cache' / 'toolchain'
    goroot = work / newest.replace('.tar.gz', '') / 'go'
    if not (goroot / 'bin' / 'go').exists():
        goroot.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(ROOT / '.cache/go-mirror' / newest) as archive:
            archive.extractall(goroot.parent, filter='data')
    out = work / 'gomaxprocs-probe'
    env = {'PATH': os.environ['PATH'], 'HOME': str(work), 'GOCACHE': str(work / 'gocache'),
           'GOTOOLCHAIN': 'local', 'GOPROXY': 'off', 'GOFLAGS': '', 'CGO_ENABLED': '0', 'GOOS': 'linux',
           'GOARCH': 'amd64'}
    subprocess.run([str(goroot / 'bin' / 'go'), 'build', '-o', str(out), 'main.go'],
                   cwd=ROOT / 'tests' / 'vm' / 'probe', env=env, check=True, capture_output=True, timeout=600)
    return out
