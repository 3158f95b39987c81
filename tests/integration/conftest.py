"""Real containers and real ansible-playbook runs, started from pytest.

The harness is the project's own: `make test` builds the images and the Go
mirror fixture first. Each module gets a fresh systemd container.
"""

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIRROR = ROOT / '.cache' / 'go-mirror'
VENV_BIN = ROOT / '.venv' / 'bin'
SYSTEMD_FLAGS = [
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined',
    '--tmpfs', '/run', '--tmpfs', '/run/lock',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--cgroupns', 'host',
]

pytestmark = pytest.mark.integration


def docker(*args, check=True, timeout=120):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=check, timeout=timeout)


class Target:
    """A systemd container plus helpers to run site.yml and commands against it."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.inventory = workdir / 'hosts.yml'
        self.inventory.write_text(json.dumps({'all': {'children': {'go_buildhosts': {'hosts': {
            name: {'ansible_connection': 'community.docker.docker'}}}}}}))

    def sh(self, command, check=True):
        result = docker('exec', self.name, 'sh', '-c', command, check=False)
        if check and result.returncode != 0:
            raise AssertionError('%s failed (%d): %s %s' % (command, result.returncode, result.stdout, result.stderr))
        return result.stdout.strip()

    def play(self, extra_vars, *args, playbook='site.yml', background=False):
        vars_file = self.workdir / ('vars-%s.json' % uuid.uuid4().hex[:8])
        vars_file.write_text(json.dumps(extra_vars))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                   PATH='%s:%s' % (VENV_BIN, os.environ['PATH']))
        command = [str(VENV_BIN / 'ansible-playbook'), '-i', str(self.inventory), '-e', '@%s' % vars_file,
                   *args, str(ROOT / playbook)]
        if background:
            return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        return PlayResult(proc, self.name)


class PlayResult:
    def __init__(self, proc, host):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        try:
            self.data = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('no JSON from ansible-playbook (rc=%d): %s %s'
                                 % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])) from None
        self.stats = self.data['stats'].get(host, {})
        self.tasks = {}
        for play in self.data['plays']:
            for task in play['tasks']:
                if host in task['hosts']:
                    self.tasks[task['task']['name'].split(' : ', 1)[-1]] = task['hosts'][host]

    @property
    def changed(self):
        return self.stats.get('changed', 0)

    @property
    def failed(self):
        return self.stats.get('failures', 0) + self.stats.get('unreachable', 0) > 0

    def messages(self):
        found = [r.get('msg', '') for r in self.tasks.values() if r.get('failed')]
        return ' | '.join(str(m) for m in found)

    def result(self, prefix):
        for name, result in self.tasks.items():
            if name.startswith(prefix):
                return result
        raise KeyError('%s not among %s' % (prefix, sorted(self.tasks)))


@pytest.fixture(scope='module')
def target(tmp_path_factory):
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        pytest.fail('no Docker engine: run `make docker` (scripts/ensure-docker.sh)')
    if not (MIRROR / 'index.json').exists():
        pytest.fail('no Go mirror fixture: run `make mirror`')
    name = 'gbh-it-%s' % uuid.uuid4().hex[:8]
    docker('run', '-d', '--name', name, '--hostname', name, *SYSTEMD_FLAGS, 'go-buildhost/debian:12', '/sbin/init')
    try:
        deadline = time.time() + 60
        while docker('exec', name, 'systemctl', 'is-system-running', check=False).stdout.strip() not in (
                'running', 'degraded'):
            if time.time() > deadline:
                raise AssertionError('systemd did not start in %s' % name)
            time.sleep(0.5)
        docker('exec', name, 'mkdir', '-p', '/srv/go-mirror')
        for path in MIRROR.iterdir():
            docker('cp', str(path), '%s:/srv/go-mirror/%s' % (name, path.name))
        docker('exec', name, 'systemd-run', '--unit=go-mirror', 'python3', '-m', 'http.server', '--bind',
               '127.0.0.1', '--directory', '/srv/go-mirror', '8080')
        yield Target(name, tmp_path_factory.mktemp(name))
    finally:
        docker('rm', '-f', name, check=False)


@pytest.fixture(scope='module')
def releases():
    """{version: (filename, sha256)} of the fixture mirror, newest first."""
    index = json.loads((MIRROR / 'index.json').read_text())
    return {r['version'][2:]: (r['files'][0]['filename'], r['files'][0]['sha256']) for r in index}
