"""Verify the build_cgroups role on the real system: units, systemctl show, cgroups of real processes, Go.

Most tests need molecule/build_cgroups: its group_vars (the values below) and the fake runners of
its prepare step. The *_defaults tests check what site.yml applies with the role's defaults in
molecule/default. These containers share the host's hybrid cgroups: systemd applies the limits it
can through v1 and reports all of them in systemctl show; what Go is told comes from the
environment, which is what these tests check end to end.
"""

import json
import os
import re
import time

import pytest
import testinfra.utils.ansible_runner

SCENARIO = os.environ.get('MOLECULE_SCENARIO_NAME')
scenario = pytest.mark.skipif(SCENARIO != 'build_cgroups', reason='needs the fixtures of molecule/build_cgroups')
defaults = pytest.mark.skipif(SCENARIO != 'default', reason='checks the defaults site.yml applies in molecule/default')

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')

UNIT_DIR = '/etc/systemd/system'
DROPIN = '60-go-buildhost-slice.conf'
HEAD = '#\n# Ansible managed\n#\n# build_cgroups (go-buildhost): generated from the build_cgroups_* variables'
MIB = 1024 * 1024
ACTIONS = 'actions.runner.example-org-repo.runner1.service'
PROBE = '/usr/local/bin/gbh-go-probe'
# Small on purpose (no fmt, no os): a cold build compiles little more than the runtime.
PROBE_SRC = r'''package main

import (
	"runtime"
	"runtime/metrics"
	"syscall"
)

func main() {
	limit := []metrics.Sample{{Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(limit)
	print("GOMAXPROCS=", runtime.GOMAXPROCS(0), "\n")
	print("GOMEMLIMIT=", limit[0].Value.Uint64(), "\n")
	buf := make([]byte, 8192)
	fd, _ := syscall.Open("/proc/self/cgroup", syscall.O_RDONLY, 0)
	n, _ := syscall.Read(fd, buf)
	print(string(buf[:n]))
}
'''


def show(host, unit, *properties):
    out = host.check_output('systemctl show %s --property=%s', unit, ','.join(properties))
    return dict(line.split('=', 1) for line in out.splitlines())


def mem_total(host):
    line = [x for x in host.file('/proc/meminfo').content_string.splitlines() if x.startswith('MemTotal:')][0]
    return int(line.split()[1]) * 1024


def go_slice_memlimit(host):
    """90% of memory_max 25% of RAM, in whole MiB, as the role computes it."""
    return (mem_total(host) * 25 // 100 * 90 // 100) // MIB


def unified_line(text):
    """The cgroup v2 line (0::path) of a /proc/<pid>/cgroup."""
    return [line for line in text.splitlines() if line.startswith('0::')][0][3:]


@scenario
def test_build_cgroups_slice_units(host):
    build = host.file('%s/go-build.slice' % UNIT_DIR)
    assert build.user == 'root' and build.mode == 0o644
    assert build.content_string.startswith(HEAD)
    assert build.content_string.endswith(
        '[Unit]\nDescription=Go builds and CI runners\n\n[Slice]\nMemoryHigh=1536M\nMemoryMax=2G\nCPUQuota=100%\n'
        'CPUWeight=50\nTasksMax=4096\nIOWeight=50\nAllowedCPUs=0-1\n')
    parent = host.file('%s/go.slice' % UNIT_DIR).content_string
    assert parent.startswith(HEAD)
    assert parent.endswith('[Unit]\nDescription=All Go work\n\n[Slice]\nMemoryMax=25%\nCPUQuota=150%\n')
    assert host.run('systemd-analyze verify %s/go.slice %s/go-build.slice', UNIT_DIR, UNIT_DIR).rc == 0


@scenario
def test_build_cgroups_slice_properties(host):
    build = show(host, 'go-build.slice', 'Slice', 'MemoryHigh', 'MemoryMax', 'CPUQuotaPerSecUSec', 'CPUWeight',
                 'TasksMax', 'IOWeight', 'AllowedCPUs', 'Description')
    assert build == {'Slice': 'go.slice', 'MemoryHigh': str(1536 * MIB), 'MemoryMax': str(2048 * MIB),
                     'CPUQuotaPerSecUSec': '1s', 'CPUWeight': '50', 'TasksMax': '4096', 'IOWeight': '50',
                     'AllowedCPUs': '0-1', 'Description': 'Go builds and CI runners'}
    parent = show(host, 'go.slice', 'Slice', 'MemoryMax', 'CPUQuotaPerSecUSec')
    assert parent['Slice'] == '-.slice'
    assert parent['CPUQuotaPerSecUSec'] == '1.500000s'
    # systemd resolves 25% against the RAM it sees, rounded to a page.
    assert abs(int(parent['MemoryMax']) - mem_total(host) * 25 // 100) < 4096


@scenario
def test_build_cgroups_dropins(host):
    runner = host.file('%s/fake-runner.service.d/%s' % (UNIT_DIR, DROPIN))
    assert runner.mode == 0o644
    assert runner.content_string.startswith(HEAD)
    assert runner.content_string.endswith(
        '[Service]\nSlice=go-build.slice\nEnvironment="GOMAXPROCS=1"\nEnvironment="GOMEMLIMIT=1382MiB"\n')
    actions = host.file('%s/%s.d/%s' % (UNIT_DIR, ACTIONS, DROPIN)).content_string
    assert actions.endswith('[Service]\nSlice=go.slice\nEnvironment="GOFLAGS=-mod=mod"\nEnvironment="GOMAXPROCS=2"\n'
                            'Environment="GOMEMLIMIT=%dMiB"\n' % go_slice_memlimit(host))
    # Not installed yet: the drop-in waits for it.
    assert host.file('%s/jenkins-agent.service.d/%s' % (UNIT_DIR, DROPIN)).exists
    assert not host.service('jenkins-agent').is_running


@scenario
def test_build_cgroups_service_properties(host):
    runner = show(host, 'fake-runner.service', 'Slice', 'Environment', 'DropInPaths', 'ActiveState')
    assert runner['Slice'] == 'go-build.slice'
    assert runner['Environment'] == 'GOMAXPROCS=1 GOMEMLIMIT=1382MiB'
    assert runner['DropInPaths'] == '%s/fake-runner.service.d/%s' % (UNIT_DIR, DROPIN)
    assert runner['ActiveState'] == 'active'
    actions = show(host, ACTIONS, 'Slice', 'Environment')
    assert actions == {'Slice': 'go.slice',
                       'Environment': 'GOFLAGS=-mod=mod GOMAXPROCS=2 GOMEMLIMIT=%dMiB' % go_slice_memlimit(host)}


@scenario
@pytest.mark.parametrize('unit,path,env', [
    ('fake-runner.service', '/go.slice/go-build.slice/fake-runner.service', ['GOMAXPROCS=1', 'GOMEMLIMIT=1382MiB']),
    (ACTIONS, '/go.slice/' + ACTIONS, ['GOMAXPROCS=2']),
])
def test_build_cgroups_running_service_is_in_its_slice(host, unit, path, env):
    """The role restarted the runner (build_cgroups_restart_services): its main process moved."""
    pid = show(host, unit, 'MainPID')['MainPID']
    assert pid != '0'
    cgroup = host.file('/proc/%s/cgroup' % pid).content_string
    assert unified_line(cgroup).endswith(path)
    assert re.search(r'^\d+:name=systemd:.*%s$' % re.escape(path), cgroup, re.M)  # the v1 systemd hierarchy too
    environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", pid).splitlines()
    for item in env:
        assert item in environ


@scenario
def test_build_cgroups_wrapper_runs_in_the_slice(host):
    wrapper = host.file('/usr/local/bin/go-build-run')
    assert wrapper.mode == 0o755 and wrapper.user == 'root'
    assert wrapper.content_string.startswith('#!/bin/sh\n#\n# Ansible managed\n#\n# build_cgroups (go-buildhost)')
    assert re.search(r'/go\.slice/go-build\.slice/run-[^/]+\.scope$',
                     unified_line(host.check_output('go-build-run cat /proc/self/cgroup')))
    assert re.search(r'/go\.slice/run-[^/]+\.scope$',
                     unified_line(host.check_output('go-build-run --slice go.slice -- cat /proc/self/cgroup')))
    assert host.check_output('go-build-run --list').split() == ['go.slice', 'go-build.slice']


@scenario
def test_build_cgroups_wrapper_sets_the_slice_environment(host):
    env = host.check_output('GOMAXPROCS=64 GOMEMLIMIT=off go-build-run env').splitlines()
    assert 'GOMAXPROCS=1' in env and 'GOMEMLIMIT=1382MiB' in env
    env = host.check_output('go-build-run --slice=go.slice env').splitlines()
    assert 'GOMAXPROCS=2' in env and 'GOMEMLIMIT=%dMiB' % go_slice_memlimit(host) in env


@scenario
def test_build_cgroups_wrapper_keeps_exit_status_and_rejects_unknown_slices(host):
    assert host.run('go-build-run sh -c "exit 7"').rc == 7
    bad = host.run('go-build-run --slice nope.slice true')
    assert bad.rc == 2 and 'nope.slice is not one of the build slices: go.slice go-build.slice' in bad.stderr


@scenario
def test_build_cgroups_wrapper_under_sudo_runs_as_the_caller(host):
    uid = host.user('builder').uid
    out = host.check_output('SUDO_UID=%s SUDO_GID=%s go-build-run sh -c "id; env; cat /proc/self/cgroup"',
                            str(uid), str(uid))
    assert out.splitlines()[0] == 'uid=%d(builder) gid=%d(builder) groups=%d(builder)' % (uid, uid, uid)
    assert 'HOME=/home/builder' in out.splitlines() and 'GOMAXPROCS=1' in out.splitlines()
    assert re.search(r'^0::.*/go\.slice/go-build\.slice/run-[^/]+\.scope$', out, re.M)


@pytest.fixture(scope='module')
def probe(host):
    """A Go program printing runtime.GOMAXPROCS(0), its memory limit and its cgroups (on stderr), built there."""
    host.check_output("mkdir -p /tmp/gbh-probe && cat > /tmp/gbh-probe/main.go <<'EOF'\n%sEOF" % PROBE_SRC)
    host.check_output('cd /tmp/gbh-probe && GOFLAGS= GOPROXY=off GO111MODULE=off go build -o %s main.go' % PROBE)
    return PROBE


def parse_probe(out):
    lines = out.splitlines()
    return int(lines[0].split('=')[1]), int(lines[1].split('=')[1]), unified_line(out)


@scenario
def test_build_cgroups_go_outside_the_wrapper_sees_every_cpu(host, probe):
    procs, limit, _cgroup = parse_probe(host.check_output('env -u GOMAXPROCS -u GOMEMLIMIT %s 2>&1', probe))
    assert procs == int(host.check_output('nproc'))
    assert limit == 2 ** 63 - 1


@scenario
def test_build_cgroups_go_through_the_wrapper(host, probe):
    procs, limit, cgroup = parse_probe(host.check_output('go-build-run %s 2>&1', probe))
    assert procs == 1
    assert limit == 1382 * MIB
    assert re.search(r'/go\.slice/go-build\.slice/run-[^/]+\.scope$', cgroup)


def run_job(host, directory, probe):
    name = 'job-%d' % int(time.time() * 1000)
    staged = '%s/jobs/.%s' % (directory, name)  # the runner skips it until it is executable and renamed
    host.check_output('printf "#!/bin/sh\\nexec %s\\n" > %s && chmod +x %s && mv %s %s',
                      probe, staged, staged, staged, '%s/jobs/%s' % (directory, name))
    deadline = time.time() + 30
    while time.time() < deadline:
        if host.file('%s/done/%s.out' % (directory, name)).exists:
            assert host.file('%s/done/%s.rc' % (directory, name)).content_string.strip() == '0'
            return host.file('%s/done/%s.out' % (directory, name)).content_string
        time.sleep(0.3)
    pytest.fail('the runner in %s did not run the job within 30 s' % directory)


@scenario
def test_build_cgroups_go_as_a_job_of_the_runner_service(host, probe):
    procs, limit, cgroup = parse_probe(run_job(host, '/var/lib/fake-runner', probe))
    assert procs == 1
    assert limit == 1382 * MIB
    assert cgroup.endswith('/go.slice/go-build.slice/fake-runner.service')


@scenario
def test_build_cgroups_go_as_a_job_of_the_runner_in_the_parent_slice(host, probe):
    procs, limit, cgroup = parse_probe(run_job(host, '/var/lib/actions-runner', probe))
    assert procs == 2
    assert limit == go_slice_memlimit(host) * MIB
    assert cgroup.endswith('/go.slice/' + ACTIONS)


@scenario
def test_build_cgroups_local_fact_and_env_files(host):
    fact = json.loads(host.file('/etc/ansible/facts.d/build_cgroups.fact').content_string)
    assert fact['slices']['go-build.slice']['environment'] == {'GOMAXPROCS': '1', 'GOMEMLIMIT': '1382MiB'}
    assert fact['slices']['go-build.slice']['cgroup'] == 'go.slice/go-build.slice'
    assert sorted(fact['services']) == [ACTIONS, 'fake-runner.service', 'jenkins-agent.service']
    assert fact['services'][ACTIONS]['requested'] == 'actions.runner.*'
    assert fact['wrapper'] == '/usr/local/bin/go-build-run'
    env = host.file('/etc/go-buildhost/slices/go-build.slice.env').content_string
    assert env.startswith(HEAD) and env.endswith("GOMAXPROCS='1'\nGOMEMLIMIT='1382MiB'\n")


@scenario
def test_build_cgroups_no_temporaries_left(host):
    assert host.check_output('find %s /etc/go-buildhost /usr/local/bin -maxdepth 2 -name ".tmp-*"', UNIT_DIR) == ''


@defaults
def test_build_cgroups_defaults_slice(host):
    unit = host.file('%s/gobuild.slice' % UNIT_DIR).content_string
    assert unit.startswith(HEAD)
    assert unit.endswith('[Unit]\nDescription=Go builds and CI runners\n\n[Slice]\nMemoryHigh=70%\nMemoryMax=80%\n'
                         'CPUWeight=50\nTasksMax=8192\nIOWeight=50\n')
    props = show(host, 'gobuild.slice', 'MemoryHigh', 'MemoryMax', 'CPUQuotaPerSecUSec', 'CPUWeight', 'TasksMax')
    assert abs(int(props['MemoryHigh']) - mem_total(host) * 70 // 100) < 4096
    assert abs(int(props['MemoryMax']) - mem_total(host) * 80 // 100) < 4096
    assert props['CPUQuotaPerSecUSec'] == 'infinity'
    assert (props['CPUWeight'], props['TasksMax']) == ('50', '8192')


@defaults
def test_build_cgroups_defaults_wrapper(host):
    out = host.check_output('GOMAXPROCS=64 go-build-run sh -c "env; cat /proc/self/cgroup"').splitlines()
    assert re.search(r'/gobuild\.slice/run-[^/]+\.scope$', unified_line('\n'.join(out)))
    assert not [line for line in out if line.startswith('GOMAXPROCS=')]  # no quota: Go uses every CPU
    assert 'GOMEMLIMIT=%dMiB' % ((mem_total(host) * 70 // 100 * 90 // 100) // MIB) in out
