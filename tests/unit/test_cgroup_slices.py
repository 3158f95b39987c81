"""cgroup_slices against temporary directories and a fake systemctl."""

import json
import os
import stat
import time

import pytest

from .cgroup_tree import Host
from .conftest import ModuleFail
from .systemd_fake import install

GIB = 1024 ** 3
MARKER = 'build_cgroups (go-buildhost)'
WRAPPER = '#!/bin/sh\n# build_cgroups (go-buildhost): test wrapper\nexec "$@"\n'
SLICES = [
    {'name': 'go.slice', 'memory_max': '25%', 'cpu_quota': '150%'},
    {'name': 'go-build.slice', 'description': 'Go builds', 'memory_high': '1536M', 'memory_max': '2G',
     'cpu_quota': '100%', 'cpu_weight': 50, 'tasks_max': 4096, 'io_weight': 50, 'allowed_cpus': '0-1'},
]


@pytest.fixture
def env(tmp_path, run_module, monkeypatch):
    systemd = install(monkeypatch)
    lib = tmp_path / 'lib/systemd/system'
    lib.mkdir(parents=True)
    for unit in ('fake-runner.service', 'actions.runner.org-a.r1.service', 'actions.runner.org-b.r2.service',
                 'jenkins-agent@.service', 'ssh.service'):
        (lib / unit).write_text('[Service]\nExecStart=/bin/true\n')
    tree = Host(tmp_path / 'host', 'unified')  # 4 CPUs
    (tree.proc / 'meminfo').write_text('MemTotal:       %d kB\n' % (16 * 1024 * 1024))

    class Env:
        root = tmp_path
        unit_dir = tmp_path / 'etc/systemd/system'
        env_dir = tmp_path / 'etc/go-buildhost/slices'
        fact = tmp_path / 'facts.d/build_cgroups.fact'
        wrapper = tmp_path / 'bin/go-build-run'

        def __init__(self):
            self.systemd = systemd
            self.unit_dir.mkdir(parents=True)

        def args(self, **extra):
            args = dict(slices=SLICES, services=[], header='#\n# Ansible managed\n#', unit_dir=str(self.unit_dir),
                        env_dir=str(self.env_dir), fact_path=str(self.fact), wrapper_path=str(self.wrapper),
                        wrapper_content=WRAPPER, unit_paths=[str(lib), str(self.unit_dir)],
                        proc_root=str(tree.proc), cgroup_root=str(tree.cg))
            args.update(extra)
            return args

        def run(self, check=False, diff=False, **extra):
            return run_module('cgroup_slices', self.args(**extra), check=check, diff=diff)

        def dropin(self, unit):
            return self.unit_dir / (unit + '.d') / '60-go-buildhost-slice.conf'

        def files(self):
            """What the module wrote: everything but the fake unit files and the fake host trees."""
            fixtures = ('lib/', 'host/', 'hybrid/', 'legacy/')
            return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*')
                          if p.is_file() and not str(p.relative_to(tmp_path)).startswith(fixtures))

    return Env()


def test_fresh_run_writes_everything_then_a_rerun_changes_nothing(env):
    result = env.run(services=[{'name': 'fake-runner', 'slice': 'go-build.slice'}])
    assert result['changed'] is True
    assert result['daemon_reloaded'] is True
    assert env.systemd.verbs().count('daemon-reload') == 1
    slice_unit = (env.unit_dir / 'go-build.slice').read_text()
    assert slice_unit.startswith('#\n# Ansible managed\n#\n# %s: generated' % MARKER)
    assert slice_unit.endswith('[Unit]\nDescription=Go builds\n\n[Slice]\nMemoryHigh=1536M\nMemoryMax=2G\n'
                               'CPUQuota=100%\nCPUWeight=50\nTasksMax=4096\nIOWeight=50\nAllowedCPUs=0-1\n')
    assert (env.unit_dir / 'go.slice').read_text().endswith('[Slice]\nMemoryMax=25%\nCPUQuota=150%\n')
    dropin = env.dropin('fake-runner.service').read_text()
    assert dropin.endswith('[Service]\nSlice=go-build.slice\nEnvironment="GOMAXPROCS=1"\n'
                           'Environment="GOMEMLIMIT=1382MiB"\n')
    assert (env.env_dir / 'go-build.slice.env').read_text().endswith("GOMAXPROCS='1'\nGOMEMLIMIT='1382MiB'\n")
    # go.slice: ceil(150/100) = 2 CPUs; 90% of 25% of 16 GiB.
    assert (env.env_dir / 'go.slice.env').read_text().endswith("GOMAXPROCS='2'\nGOMEMLIMIT='3686MiB'\n")
    assert env.wrapper.read_text() == WRAPPER
    assert stat.S_IMODE(env.wrapper.stat().st_mode) == 0o755
    assert stat.S_IMODE(env.dropin('fake-runner.service').stat().st_mode) == 0o644
    fact = json.loads(env.fact.read_text())
    assert fact['slices']['go-build.slice']['environment'] == {'GOMAXPROCS': '1', 'GOMEMLIMIT': '1382MiB'}
    assert fact['slices']['go-build.slice']['cgroup'] == 'go.slice/go-build.slice'
    assert fact['services']['fake-runner.service']['slice'] == 'go-build.slice'
    assert fact['wrapper'] == str(env.wrapper)
    assert str(env.dropin('fake-runner.service')) in fact['files']
    assert result['memory_total'] == 16 * GIB and result['cpus'] == 4

    env.systemd.calls.clear()
    again = env.run(services=[{'name': 'fake-runner', 'slice': 'go-build.slice'}])
    assert again['changed'] is False
    assert again['files_written'] == [] and again['files_removed'] == []
    assert 'daemon-reload' not in env.systemd.verbs()
    assert not [p for p in env.files() if '.tmp-' in p]


def test_check_mode_writes_nothing(env):
    result = env.run(check=True, diff=True, services=[{'name': 'fake-runner'}])
    assert result['changed'] is True
    assert str(env.unit_dir / 'go.slice') in result['files_written']
    assert env.files() == []
    assert 'daemon-reload' not in env.systemd.verbs()
    assert '=== %s\n' % (env.unit_dir / 'go-build.slice') in result['diff']['after']


def test_diff_shows_the_changed_line(env):
    env.run()
    changed = [dict(SLICES[0]), SLICES[1]]
    changed[0]['cpu_quota'] = '200%'
    result = env.run(diff=True, slices=changed)
    assert 'CPUQuota=150%' in result['diff']['before']
    assert 'CPUQuota=200%' in result['diff']['after']
    # GOMAXPROCS stays ceil(200/100) = 2 and go-build.slice keeps its own 100%: only the unit changes.
    assert result['files_written'] == [str(env.unit_dir / 'go.slice')]


@pytest.mark.parametrize('slices,text', [
    ([{'name': 'gobuild.slice', 'memory_max': '2 GB'}], 'memory_max "2 GB" is not a size'),
    ([{'name': 'gobuild.slice', 'cpu_quota': '150'}], 'cpu_quota "150" is not a CPU quota'),
    ([{'name': 'gobuild.slice', 'cpu_weight': 0}], 'cpu_weight "0" is not a whole number from 1 to 10000'),
    ([{'name': 'go/build.slice'}], 'name "go/build.slice" is not a valid slice name'),
])
def test_bad_input_fails_before_anything_changes(env, slices, text):
    with pytest.raises(ModuleFail) as failed:
        env.run(slices=slices)
    assert text in failed.value.result['msg']
    assert failed.value.result['msg'].endswith('Nothing was changed.')
    assert env.files() == []
    assert env.systemd.calls == []


@pytest.mark.parametrize('mode', ['hybrid', 'legacy'])
def test_a_host_that_is_not_unified_is_refused_before_anything_changes(env, tmp_path, mode):
    tree = Host(tmp_path / mode, mode)
    with pytest.raises(ModuleFail) as failed:
        env.run(require_unified=True, cgroup_root=str(tree.cg), proc_root=str(tree.proc),
                services=[{'name': 'fake-runner'}])
    msg = failed.value.result['msg']
    assert msg.startswith('This host runs a %s cgroup layout (%s is tmpfs; controllers on cgroup v1: cpu, cpuacct, '
                          'cpuset, memory, pids)' % (mode, tree.cg))
    assert 'Set build_cgroups_enable_unified: true' in msg and 'build_cgroups_require_unified: false' in msg
    assert msg.endswith('Nothing was changed.')
    assert env.files() == [] and env.systemd.calls == []


def test_not_unified_is_reported_but_allowed_without_require_unified(env, tmp_path):
    tree = Host(tmp_path / 'hybrid', 'hybrid')
    result = env.run(cgroup_root=str(tree.cg), proc_root=str(tree.proc))
    assert result['cgroup_mode'] == 'hybrid' and result['changed'] is True


def test_a_unified_host_passes_the_check(env):
    assert env.run(require_unified=True)['cgroup_mode'] == 'unified'


def test_unknown_service_is_refused_when_services_are_required(env):
    env.systemd.add('fake-runner.service')
    with pytest.raises(ModuleFail) as failed:
        env.run(require_services=True, services=[{'name': 'fake-runner'}, {'name': 'gitlab-runner'},
                                                 {'name': 'buildkite-*'}])
    msg = failed.value.result['msg']
    assert 'build_cgroups_require_services is true but these build_cgroups_services are not installed' in msg
    assert 'gitlab-runner, buildkite-*' in msg
    assert 'Nothing was changed.' in msg
    assert failed.value.result['missing'] == ['gitlab-runner', 'buildkite-*']
    assert env.files() == []


def test_unknown_service_gets_its_dropin_when_not_required(env):
    result = env.run(services=[{'name': 'gitlab-runner'}, {'name': 'buildkite-*'}])
    assert result['missing'] == ['gitlab-runner', 'buildkite-*']
    assert env.dropin('gitlab-runner.service').is_file()
    assert result['services']['gitlab-runner.service']['installed'] is False
    assert not list(env.unit_dir.glob('buildkite*'))


def test_a_unit_only_systemd_knows_counts_as_installed(env):
    env.systemd.add('generated.service', active=False)
    result = env.run(require_services=True, services=[{'name': 'generated'}])
    assert result['services']['generated.service']['installed'] is True


def test_globs_and_templates(env):
    result = env.run(services=[{'name': 'actions.runner.*', 'environment': {'GOFLAGS': '-p=2'}},
                               {'name': 'jenkins-agent@.service', 'slice': 'go-build.slice'}])
    assert sorted(result['services']) == ['actions.runner.org-a.r1.service', 'actions.runner.org-b.r2.service',
                                          'jenkins-agent@.service']
    assert result['services']['actions.runner.org-a.r1.service']['requested'] == 'actions.runner.*'
    text = env.dropin('actions.runner.org-b.r2.service').read_text()
    assert 'Slice=go.slice\nEnvironment="GOFLAGS=-p=2"\nEnvironment="GOMAXPROCS=2"\n' in text
    assert env.dropin('jenkins-agent@.service').read_text().endswith('Slice=go-build.slice\n'
                                                                     'Environment="GOMAXPROCS=1"\n'
                                                                     'Environment="GOMEMLIMIT=1382MiB"\n')


def test_service_environment_overrides_the_computed_values(env):
    env.run(services=[{'name': 'fake-runner', 'environment': {'GOMAXPROCS': 8, 'NOTE': 'a "b" 5%'}}])
    text = env.dropin('fake-runner.service').read_text()
    assert 'Environment="GOMAXPROCS=8"\n' in text
    assert 'Environment="NOTE=a \\"b\\" 5%%"\n' in text


# ---- restarts ---------------------------------------------------------------------------------

def test_running_service_is_pending_until_restarted(env):
    env.systemd.add('fake-runner.service')  # running in system.slice
    services = [{'name': 'fake-runner', 'slice': 'go-build.slice'}]
    first = env.run(services=services)
    assert first['restart_pending'] == ['fake-runner.service'] and first['restarted'] == []
    assert 'try-restart' not in env.systemd.verbs()
    # Still outside its slice on the next run: still pending, and nothing else to do.
    second = env.run(services=services)
    assert second['changed'] is False
    assert second['restart_pending'] == ['fake-runner.service']
    assert second['services']['fake-runner.service']['in_slice'] is False
    # Allowed to restart: exactly that service, once.
    third = env.run(services=services, restart=True)
    assert third['changed'] is True and third['restarted'] == ['fake-runner.service']
    assert env.systemd.calls[-1] == ['try-restart', '--', 'fake-runner.service']
    env.systemd.units['fake-runner.service']['ControlGroup'] = '/go.slice/go-build.slice/fake-runner.service'
    fourth = env.run(services=services, restart=True)
    assert fourth['changed'] is False and fourth['restarted'] == [] and fourth['restart_pending'] == []
    assert fourth['services']['fake-runner.service']['in_slice'] is True


def test_running_service_older_than_its_dropin_is_pending(env):
    services = [{'name': 'fake-runner', 'slice': 'go-build.slice'}]
    env.run(services=services)
    cgroup = '/go.slice/go-build.slice/fake-runner.service'
    written = os.stat(env.dropin('fake-runner.service')).st_mtime
    offset = time.time() - time.monotonic()
    env.systemd.add('fake-runner.service', cgroup=cgroup, started=int((written - offset - 60) * 1e6))
    assert env.run(services=services)['restart_pending'] == ['fake-runner.service']
    env.systemd.add('fake-runner.service', cgroup=cgroup, started=int((written - offset + 1) * 1e6))
    assert env.run(services=services)['restart_pending'] == []


def test_changed_dropin_of_a_running_service_restarts_only_that_service(env):
    cgroup = '/go.slice/go-build.slice/%s'
    env.systemd.add('fake-runner.service', cgroup=cgroup % 'fake-runner.service',
                    started=int(time.monotonic() * 1e6) + 10 ** 9)
    env.systemd.add('ssh.service')
    env.systemd.add('actions.runner.org-a.r1.service', cgroup='/go.slice/actions.runner.org-a.r1.service',
                    started=int(time.monotonic() * 1e6) + 10 ** 9)
    services = [{'name': 'fake-runner', 'slice': 'go-build.slice'}, {'name': 'actions.runner.org-a.r1'}]
    env.run(services=services)
    env.systemd.calls.clear()
    services[0]['environment'] = {'GOFLAGS': '-p=1'}
    result = env.run(services=services, restart=True)
    assert result['restarted'] == ['fake-runner.service']
    assert env.systemd.verbs() == ['show', 'daemon-reload', 'try-restart']


def test_check_mode_reports_the_restart_it_would_do(env):
    env.systemd.add('fake-runner.service')
    result = env.run(check=True, services=[{'name': 'fake-runner'}], restart=True)
    assert result['restarted'] == ['fake-runner.service']
    assert 'try-restart' not in env.systemd.verbs()


def test_inactive_service_needs_no_restart(env):
    env.systemd.add('fake-runner.service', active=False)
    assert env.run(services=[{'name': 'fake-runner'}])['restart_pending'] == []


def test_running_template_instances_are_checked(env):
    env.systemd.add('jenkins-agent@1.service')
    env.systemd.add('jenkins-agent@2.service', active=False)
    result = env.run(services=[{'name': 'jenkins-agent@.service'}])
    assert result['restart_pending'] == ['jenkins-agent@1.service']


def test_a_service_taken_out_is_pending_and_its_dropin_removed(env):
    env.systemd.add('fake-runner.service', cgroup='/go.slice/fake-runner.service',
                    started=int(time.monotonic() * 1e6) + 10 ** 9)
    env.run(services=[{'name': 'fake-runner'}])
    result = env.run(services=[])
    assert result['files_removed'] == [str(env.dropin('fake-runner.service'))]
    assert not env.dropin('fake-runner.service').parent.exists()
    assert result['restart_pending'] == ['fake-runner.service']
    assert result['daemon_reloaded'] is True


# ---- ownership ---------------------------------------------------------------------------------

def test_slices_and_wrapper_no_longer_wanted_are_removed(env):
    env.run()
    other = tmp_wrapper = env.root / 'other/go-build-run'
    result = env.run(slices=[SLICES[0]], wrapper_path=str(tmp_wrapper))
    assert sorted(result['files_removed']) == sorted([str(env.unit_dir / 'go-build.slice'),
                                                      str(env.env_dir / 'go-build.slice.env'), str(env.wrapper)])
    assert not env.wrapper.exists() and other.exists()
    result = env.run(slices=[SLICES[0]], wrapper_path='', wrapper_content='')
    assert result['files_removed'] == [str(other)]


def test_a_file_the_role_did_not_write_is_never_replaced(env):
    (env.unit_dir / 'go.slice').write_text('[Slice]\nMemoryMax=1G\n')
    (env.unit_dir / 'mine.slice').write_text('[Slice]\nMemoryMax=1G\n')
    with pytest.raises(ModuleFail, match='go.slice exists and was not written by the build_cgroups role'):
        env.run()
    assert (env.unit_dir / 'go.slice').read_text() == '[Slice]\nMemoryMax=1G\n'
    env.run(slices=[SLICES[1]])
    assert (env.unit_dir / 'mine.slice').exists()


def test_wrapper_without_the_marker_is_refused(env):
    with pytest.raises(ModuleFail, match='wrapper_content must contain the marker'):
        env.run(wrapper_content='#!/bin/sh\n')


def test_unreadable_meminfo_fails(env, tmp_path):
    with pytest.raises(ModuleFail, match='Cannot read MemTotal'):
        env.run(proc_root=str(tmp_path / 'nowhere'))


def test_daemon_reload_failure_is_reported(env):
    env.systemd.fail['daemon-reload'] = (1, 'Access denied')
    with pytest.raises(ModuleFail, match='systemctl daemon-reload failed .rc=1.: Access denied'):
        env.run()


@pytest.mark.parametrize('path,match', [
    ('/usr/bin', 'build_cgroups_wrapper_path is /usr/bin, a system directory, not a file path'),
    ('/etc/passwd', 'build_cgroups_wrapper_path is /etc/passwd, an existing file that the role did not write'),
])
def test_a_wrapper_path_that_would_replace_a_system_file_is_refused(env, path, match):
    with pytest.raises(ModuleFail, match=match + '.*Nothing was changed'):
        env.run(wrapper_path=path)
    assert not env.unit_dir.exists() or os.listdir(env.unit_dir) == []


def test_removed_slices_are_stopped_only_when_empty(env):
    env.run()
    names = [s['name'] for s in SLICES]
    for name in names:
        env.systemd.add(name)
    env.systemd.units[names[0]]['TasksCurrent'] = '0'
    env.systemd.units[names[1]]['TasksCurrent'] = '3'  # a build still runs there
    checked = env.run(check=True, state='absent')
    assert checked['slices_stopped'] == [names[0]] and 'stop' not in env.systemd.verbs()
    result = env.run(state='absent')
    assert result['slices_stopped'] == [names[0]] and result['slices_left_running'] == [names[1]]
    assert env.systemd.units[names[0]]['ActiveState'] == 'inactive'
    assert env.systemd.units[names[1]]['ActiveState'] == 'active', 'never kills a running build'
    assert env.run(state='absent')['changed'] is False
