"""The project's container harness: systemd containers, ansible-playbook runs and their results.

Shared by the integration tests (tests/integration/conftest.py) and the benchmarks
(`python -m scripts.bench` and friends, run from the repository's root).
"""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT / '.cache' / 'go-mirror'
VENV_BIN = ROOT / '.venv' / 'bin'
# The oldest ansible-core the collection supports (requirements-2.17.txt, `make venv-2.17`).
VENV_2_17_BIN = ROOT / '.cache' / 'venv-2.17' / 'bin'
# The supported platforms (roles/*/meta/main.yml) and their test images (scripts/build-image.sh).
PLATFORMS = {
    'debian12': 'go-buildhost/debian:12',
    'debian13': 'go-buildhost/debian:13',
    'ubuntu2204': 'go-buildhost/ubuntu:22.04',
    'ubuntu2404': 'go-buildhost/ubuntu:24.04',
}
# The PATH cron gives a user's crontab, by /etc/os-release ID: Debian's cron sets /usr/bin:/bin;
# Ubuntu's reads /etc/environment through pam_env, and its PATH is Ubuntu's default one.
CRON_PATH = {
    'debian': '/usr/bin:/bin',
    'ubuntu': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games:/snap/bin',
}
# Whether `sudo -u user cmd` (no -i) runs pam_env, by /etc/os-release ID: Debian's /etc/pam.d/sudo has
# no pam_env; Ubuntu's reads /etc/environment, so go_env's environment layer reaches sudo there.
SUDO_PAM_ENV = {
    'debian': False,
    'ubuntu': True,
}
SYSTEMD_FLAGS = [
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined',
    '--tmpfs', '/run', '--tmpfs', '/run/lock',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--cgroupns', 'host',
]


def docker(*args, check=True, timeout=120):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=check, timeout=timeout)


def start_systemd_container(name, image='go-buildhost/debian:12', with_mirror=False):
    """Start a systemd container and wait for systemd; with_mirror also serves the Go mirror fixture
    on its loopback (http://127.0.0.1:8080/). The tests and the benchmarks (scripts/bench*.py) use it."""
    docker('run', '-d', '--name', name, '--hostname', name, *SYSTEMD_FLAGS, image, '/sbin/init')
    deadline = time.time() + 60
    while docker('exec', name, 'systemctl', 'is-system-running', check=False).stdout.strip() not in (
            'running', 'degraded'):
        if time.time() > deadline:
            raise AssertionError('systemd did not start in %s' % name)
        time.sleep(0.3)
    if with_mirror:
        docker('exec', name, 'mkdir', '-p', '/srv/go-mirror')
        for path in MIRROR.iterdir():
            docker('cp', str(path), '%s:/srv/go-mirror/%s' % (name, path.name))
        docker('exec', name, 'systemd-run', '--unit=go-mirror', 'python3', '-m', 'http.server', '--bind',
               '127.0.0.1', '--directory', '/srv/go-mirror', '8080')


class BenchHost:
    """A systemd container of the benchmarks (scripts/bench*.py) and its inventory file; remove() at the end."""

    def __init__(self, workdir, prefix='gbh-bench', with_mirror=False):
        self.name = '%s-%s' % (prefix, uuid.uuid4().hex[:6])
        try:
            start_systemd_container(self.name, with_mirror=with_mirror)
        except BaseException:
            self.remove()
            raise
        self.inventory = Path(workdir) / ('%s.json' % self.name)
        self.inventory.write_text(json.dumps({'all': {'children': {'go_buildhosts': {'hosts': {
            self.name: {'ansible_connection': 'community.docker.docker'}}}}}}))

    def remove(self):
        docker('rm', '-f', self.name, check=False)


def cpu_ticks():
    """(busy, idle) clock ticks of the whole machine so far, from /proc/stat (iowait counts as idle)."""
    fields = [int(x) for x in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, idle


def wait_for_quiet(idle=0.85, window=5.0, timeout=240.0):
    """Wait until the machine was at least `idle` idle over `window` seconds (the containers of
    an earlier benchmark take a while to go), for at most `timeout` seconds. Returns the seconds
    waited; a benchmark records it with the load average."""
    start = time.monotonic()
    while True:
        busy_before, idle_before = cpu_ticks()
        time.sleep(window)
        busy_after, idle_after = cpu_ticks()
        idle_ticks, busy_ticks = idle_after - idle_before, busy_after - busy_before
        waited = time.monotonic() - start
        if idle_ticks >= idle * (idle_ticks + busy_ticks) or waited >= timeout:
            return round(waited, 1)


class Target:
    """A systemd container plus helpers to run site.yml and commands against it."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.inventory = workdir / 'hosts.yml'
        # The container shares the host's hybrid cgroups: build_cgroups runs there only with its
        # documented opt-in (roles/build_cgroups/README.md). Its refusal tests override it.
        self.inventory.write_text(json.dumps({'all': {'children': {'go_buildhosts': {'hosts': {
            name: {'ansible_connection': 'community.docker.docker', 'build_cgroups_require_unified': False,
                   # promtool means Debian's 100 MB prometheus package: not in every test container.
                   'go_cache_alert_rules_enabled': False}}}}}}))
        self.default_playbook = 'site.yml'

    @property
    def os_id(self):
        """The distribution's ID in /etc/os-release: debian or ubuntu."""
        return self.sh('. /etc/os-release && echo "$ID"')

    def sh(self, command, check=True):
        result = docker('exec', self.name, 'sh', '-c', command, check=False)
        if check and result.returncode != 0:
            raise AssertionError('%s failed (%d): %s %s' % (command, result.returncode, result.stdout, result.stderr))
        return result.stdout.strip()

    def play(self, extra_vars, *args, playbook=None, background=False, bin_dir=VENV_BIN):
        """bin_dir: the venv whose ansible-playbook runs (VENV_2_17_BIN: the oldest supported ansible-core)."""
        playbook = playbook or self.default_playbook
        if not (bin_dir / 'ansible-playbook').exists():
            raise AssertionError('no %s: run `make venv-2.17`' % (bin_dir / 'ansible-playbook'))
        vars_file = self.workdir / ('vars-%s.json' % uuid.uuid4().hex[:8])
        vars_file.write_text(json.dumps(extra_vars))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                   PATH='%s:%s' % (bin_dir, os.environ['PATH']))
        command = [str(bin_dir / 'ansible-playbook'), '-i', str(self.inventory), '-e', '@%s' % vars_file,
                   *args, str(ROOT / playbook)]
        if background:
            return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        return PlayResult(proc, self.name)


FLEET_IMAGE = 'go-buildhost/debian-ssh:12'
FLEET_KEY = ROOT / '.cache' / 'fleet' / 'id_ed25519'
FLEET_BECOME_PASSWORD = 'go-buildhost-test'  # noqa: S105 - test-only, see scripts/build-fleet-image.sh


class Fleet:
    """N sshd containers; inventory files for the first host and for all of them."""

    def __init__(self, size, workdir, first_port=2400):
        subprocess.run([str(ROOT / 'scripts' / 'build-fleet-image.sh')], check=True, capture_output=True)
        if not FLEET_KEY.exists():
            FLEET_KEY.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(FLEET_KEY)], check=True)
        tag = uuid.uuid4().hex[:4]
        self.names = ['gbh-bench-%s-%02d' % (tag, i) for i in range(size)]
        hosts = {}
        for i, name in enumerate(self.names):
            port = first_port + i
            docker('run', '-d', '--name', name, '--hostname', name, *SYSTEMD_FLAGS,
                   '-p', '127.0.0.1:%d:22' % port, FLEET_IMAGE, '/sbin/init')
            hosts[name] = {'ansible_host': '127.0.0.1', 'ansible_port': port}
        public_key = FLEET_KEY.with_suffix('.pub').read_text()
        for name in self.names:
            keys = '/home/ansible/.ssh/authorized_keys'
            subprocess.run(['docker', 'exec', '-i', name, 'sh', '-c',
                            'cat > %s && chown ansible: %s && chmod 0600 %s' % (keys, keys, keys)],
                           input=public_key, text=True, check=True, capture_output=True)
        for name, hv in hosts.items():
            deadline = time.time() + 60
            while subprocess.run(['ssh', '-q', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
                                  '-o', 'UserKnownHostsFile=/dev/null', '-i', str(FLEET_KEY), '-p',
                                  str(hv['ansible_port']), 'ansible@127.0.0.1', 'true'],
                                 check=False).returncode != 0:
                if time.time() > deadline:
                    raise AssertionError('sshd did not answer in %s' % name)
                time.sleep(0.5)
        group_vars = {'ansible_user': 'ansible', 'ansible_ssh_private_key_file': str(FLEET_KEY),
                      'ansible_become_password': FLEET_BECOME_PASSWORD,
                      'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'}
        self.one = Path(workdir) / 'fleet-one.yml'
        self.all = Path(workdir) / 'fleet-all.yml'
        first = dict(list(hosts.items())[:1])
        for path, members in ((self.one, first), (self.all, hosts)):
            path.write_text(json.dumps({'all': {'children': {'go_buildhosts': {'hosts': members,
                                                                               'vars': group_vars}}}}))

    def remove(self):
        subprocess.run(['docker', 'rm', '-f', *self.names], capture_output=True, check=False)


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
                    name = task['task']['name'].split(' : ', 1)[-1]
                    outcome = task['hosts'][host]
                    # A role that runs twice in one playbook repeats task names: keep the
                    # first run that was not skipped.
                    if name not in self.tasks or (self.tasks[name].get('skipped') and not outcome.get('skipped')):
                        self.tasks[name] = outcome

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

    def go_cache_bundle(self):
        """The result of go_cache's health check files and units: go_cache_perms' own call puts them in
        place on a converged host (its bundle), the file_bundle task after it when that call left them."""
        separate = self.result('Ensure the health check')
        if not separate.get('skipped'):
            return separate
        return self.result('Ensure the caches are 2770')['bundle']
