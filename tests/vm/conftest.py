"""Helpers for the VM suite: run Ansible against the Molecule VM inventory."""

import fcntl
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


def vm_name(host):
    return host.backend.get_hostname()


@pytest.fixture(scope='module')
def vm(host):
    """The inventory name of testinfra's host: what a test limits its playbooks to."""
    return vm_name(host)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """One xdist group per VM (molecule.yml runs verify with --dist loadgroup, a worker per VM).

    A group runs on one worker in collection order, which keeps each VM's tests in file order
    (pytest groups them by the module-scoped host parameter); the VMs are tested side by side.
    A test without testinfra's host goes with its module's hosts. Tryfirst: xdist reads the
    marks in its own hook of this name.
    """
    for item in items:
        callspec = getattr(item, 'callspec', None)
        target = callspec.params.get('_testinfra_host') if callspec else None
        if target is not None:
            group = target.backend.get_hostname()
        else:
            group = ','.join(getattr(item.module, 'testinfra_hosts', [])) or item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope='session')
def playbook():
    """playbook(path, limit=None, **extra_vars) -> (rc, stats of the host limited to (else the first), parsed JSON)."""

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
        stats = data['stats'][limit] if limit in data['stats'] else next(iter(data['stats'].values()))
        return proc.returncode, stats, data

    return run


@pytest.fixture(scope='session')
def reboot():
    """reboot(host): reboots that VM only (the others are under test at the same time)."""

    def run(host):
        # No shared SSH master: QEMU's user-mode network keeps the host side of a connection open across
        # the guest's reboot, so a multiplexed session would wait on a master whose peer is gone.
        # reboot_timeout: a TCG guest beside the rest of make test took 300 s to come back (2026-12-01, a
        # clean-clone .ci/run), where it takes about 35 s alone.
        proc = subprocess.run([str(BIN / 'ansible'), '-i', inventory(), vm_name(host), '--become', '-m',
                               'ansible.builtin.reboot', '-a', 'reboot_timeout=600', '-e',
                               'ansible_ssh_common_args="%s -o ControlPath=none"' % SSH_KEEPALIVE],
                              env=dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK='default'), cwd=ROOT,
                              capture_output=True, text=True, timeout=720, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    return run


@pytest.fixture(scope='session')
def probe_binary():
    """tests/vm/probe built on the controller with the mirror fixture's newest Go (static, linux/amd64).

    Under a lock: each xdist worker asks for it, and they share the toolchain and the output.
    """
    index = json.loads((ROOT / '.cache/go-mirror/index.json').read_text())
    newest = index[0]['files'][0]['filename']
    work = ROOT / '.cache' / 'toolchain'
    work.mkdir(parents=True, exist_ok=True)
    goroot = work / newest.replace('.tar.gz', '') / 'go'
    out = work / 'gomaxprocs-probe'
    with (work / '.gomaxprocs-probe.lock').open('w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (goroot / 'bin' / 'go').exists():
            goroot.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(ROOT / '.cache/go-mirror' / newest) as archive:
                archive.extractall(goroot.parent, filter='data')
        env = {'PATH': os.environ['PATH'], 'HOME': str(work), 'GOCACHE': str(work / 'gocache'),
               'GOTOOLCHAIN': 'local', 'GOPROXY': 'off', 'GOFLAGS': '', 'CGO_ENABLED': '0', 'GOOS': 'linux',
               'GOARCH': 'amd64'}
        # Replaced, never rewritten in place: another worker may be copying the one built before.
        built = work / ('.gomaxprocs-probe.%d' % os.getpid())
        subprocess.run([str(goroot / 'bin' / 'go'), 'build', '-o', str(built), 'main.go'],
                       cwd=ROOT / 'tests' / 'vm' / 'probe', env=env, check=True, capture_output=True, timeout=600)
        built.replace(out)
    return out
