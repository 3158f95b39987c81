"""build_cgroups through playbooks/build_cgroups.yml against a real container
(Debian 12 in make test, every platform in make test-platforms).

The container shares the host's hybrid cgroups, which is what the refusal tests need. Every bad
input must fail with its text and change nothing; then the documented opt-in converges, the
restart policy holds, and the cgroup v2 switch edits GRUB (a fake update-grub) without rebooting.
The tests run in file order and share one container.
"""

import json

import pytest

PLAYBOOK = 'playbooks/build_cgroups.yml'
OPT_IN = {'build_cgroups_require_unified': False}
MANAGED = ('/etc/systemd/system/gobuild.slice /etc/go-buildhost /usr/local/bin/go-build-run '
           '/etc/ansible/facts.d/build_cgroups.fact /etc/systemd/system/*.service.d/60-go-buildhost-slice.conf')
DUMMY_UNIT = '[Service]\nExecStart=/bin/sleep infinity\n'


def play(target, extra_vars, *args):
    return target.play(extra_vars, *args, playbook=PLAYBOOK)


def managed_files(target):
    return target.sh('ls -d %s 2>/dev/null; true' % MANAGED)


def assert_refused(target, result, *texts):
    assert result.failed
    message = result.messages()
    for text in texts:
        assert text in message, message
    assert 'Nothing was changed.' in message
    assert result.changed == 0
    assert managed_files(target) == ''


@pytest.fixture(scope='module')
def dummy(target):
    """A running service, outside any build slice, to place into one."""
    target.sh("printf '%s' > /etc/systemd/system/gbh-dummy.service && systemctl daemon-reload && "
              'systemctl start gbh-dummy.service' % DUMMY_UNIT.replace('\n', '\\n'))
    return 'gbh-dummy.service'


def test_a_hybrid_host_is_refused_by_default(target):
    # The harness inventory opts in for site.yml; this test puts the role's default back.
    result = play(target, {'build_cgroups_require_unified': True})
    assert_refused(target, result, 'This host runs a hybrid cgroup layout',
                   'Set build_cgroups_enable_unified: true to add systemd.unified_cgroup_hierarchy=1',
                   'or set build_cgroups_require_unified: false')


@pytest.mark.parametrize('slices,text', [
    ([{'name': 'gobuild.slice', 'memory_max': '2 GB'}],
     'build_cgroups_slices[0] (gobuild.slice): memory_max "2 GB" is not a size: use bytes with an optional K, M, G '
     'or T suffix (base 1024, no space, e.g. "2G")'),
    ([{'name': 'gobuild.slice', 'cpu_quota': '150'}],
     'build_cgroups_slices[0] (gobuild.slice): cpu_quota "150" is not a CPU quota: use a percentage of one CPU with '
     'a "%" sign, e.g. "150%" for one and a half CPUs.'),
    ([{'name': 'gobuild.slice', 'cpu_quota': 150}], 'cpu_quota "150" is not a CPU quota'),
    ([{'name': 'gobuild.slice', 'cpu_weight': 0}],
     'build_cgroups_slices[0] (gobuild.slice): cpu_weight "0" is not a whole number from 1 to 10000 (100 is '
     "systemd's default)."),
    ([{'name': 'go/build.slice'}],
     'build_cgroups_slices[0]: name "go/build.slice" is not a valid slice name: use letters, digits, ":", "_" and '
     '"." ending in ".slice"'),
    ([{'name': 'gobuild.slice', 'allowed_cpus': '0-3;6'}], 'allowed_cpus "0-3;6" is not a CPU list'),
], ids=['memory_max 2 GB', 'cpu_quota 150', 'cpu_quota 150 as a number', 'cpu_weight 0', 'slash in a name',
        'allowed_cpus'])
@pytest.mark.refusal_matrix
def test_bad_slices_are_refused(target, slices, text):
    assert_refused(target, play(target, dict(OPT_IN, build_cgroups_slices=slices)), text)


def test_unknown_service_is_refused_when_services_are_required(target):
    result = play(target, dict(OPT_IN, build_cgroups_require_services=True,
                               build_cgroups_services=[{'name': 'gitlab-runner'}, {'name': 'actions.runner.*'}]))
    assert_refused(target, result,
                   'build_cgroups_require_services is true but these build_cgroups_services are not installed on this '
                   'host (no unit file, or a glob that matches none): gitlab-runner, actions.runner.*.')


def test_a_host_without_grub_gets_a_clear_message(target):
    result = play(target, {'build_cgroups_enable_unified': True})
    assert_refused(target, result, '/etc/default/grub does not exist. This host does not seem to boot through GRUB',
                   'Add systemd.unified_cgroup_hierarchy=1 to its kernel command line yourself')


def test_unknown_service_stops_the_switch_before_grub_is_touched(target):
    target.sh("printf 'GRUB_CMDLINE_LINUX=\"\"\\n' > /etc/default/grub && "
              "printf '#!/bin/sh\\necho ran >> /tmp/update-grub.log\\n' > /usr/sbin/update-grub && "
              'chmod +x /usr/sbin/update-grub')
    try:
        result = play(target, {'build_cgroups_enable_unified': True, 'build_cgroups_require_services': True,
                               'build_cgroups_services': [{'name': 'gitlab-runner'}]})
        assert_refused(target, result, 'not installed on this host')
        assert target.sh('cat /etc/default/grub') == 'GRUB_CMDLINE_LINUX=""'
        assert target.sh('cat /tmp/update-grub.log 2>/dev/null; true') == ''
    finally:
        target.sh('rm -f /etc/default/grub /usr/sbin/update-grub /tmp/update-grub.log')


def test_opt_in_converges_and_reruns_change_nothing(target):
    result = play(target, OPT_IN)
    assert not result.failed, result.messages()
    step = result.result('Ensure the build slices')
    assert step['changed'] is True and step['daemon_reloaded'] is True
    assert sorted(target.sh('systemctl show gobuild.slice -p CPUWeight,TasksMax,IOWeight').split()) == \
        ['CPUWeight=50', 'IOWeight=50', 'TasksMax=8192']
    assert 'gobuild.slice/run-' in target.sh('go-build-run cat /proc/self/cgroup')
    again = play(target, OPT_IN)
    assert not again.failed and again.changed == 0


def test_check_mode_on_a_converged_host_reports_nothing(target):
    result = play(target, OPT_IN, '--check', '--diff')
    assert not result.failed and result.changed == 0


def test_restart_is_pending_until_allowed(target, dummy):
    services = dict(OPT_IN, build_cgroups_services=[{'name': dummy}])
    result = play(target, services)
    assert not result.failed, result.messages()
    step = result.result('Ensure the build slices')
    assert step['restart_pending'] == [dummy] and step['restarted'] == []
    assert any('Restart pending: %s' % dummy in w for w in step.get('warnings', [])), step.get('warnings')
    pid = target.sh('systemctl show -p MainPID --value %s' % dummy)
    assert '/system.slice/%s' % dummy in target.sh('cat /proc/%s/cgroup' % pid)
    # The next run still knows: the process has not moved.
    again = play(target, services)
    assert again.changed == 0 and again.result('Ensure the build slices')['restart_pending'] == [dummy]
    allowed = play(target, dict(services, build_cgroups_restart_services=True))
    assert allowed.result('Ensure the build slices')['restarted'] == [dummy]
    pid = target.sh('systemctl show -p MainPID --value %s' % dummy)
    assert target.sh('grep ^0:: /proc/%s/cgroup' % pid).endswith('/gobuild.slice/%s' % dummy)
    environ = target.sh("tr '\\0' '\\n' < /proc/%s/environ" % pid).splitlines()
    assert any(line.startswith('GOMEMLIMIT=') and line.endswith('MiB') for line in environ)
    settled = play(target, dict(services, build_cgroups_restart_services=True))
    assert settled.changed == 0 and settled.result('Ensure the build slices')['restarted'] == []


def test_enable_unified_edits_grub_and_never_reboots(target):
    # PID 1's start time (field 22 of /proc/1/stat, in ticks after boot) changes only with a new PID 1.
    boot = target.sh("awk '{print $22}' /proc/1/stat")
    target.sh("printf 'GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\\nGRUB_CMDLINE_LINUX=\"console=ttyS0 "
              "systemd.unified_cgroup_hierarchy=0\"\\n' > /etc/default/grub && "
              "printf '#!/bin/sh\\necho ran >> /tmp/update-grub.log\\n' > /usr/sbin/update-grub && "
              'chmod +x /usr/sbin/update-grub')
    try:
        result = play(target, {'build_cgroups_enable_unified': True}, '--diff')
        assert not result.failed, result.messages()
        grub = result.result('Ensure the kernel command line selects cgroup v2 only')
        assert grub['changed'] is True and grub['updated'] is True and grub['reboot_required'] is True
        assert target.sh('cat /etc/default/grub') == ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                                      'GRUB_CMDLINE_LINUX="console=ttyS0 '
                                                      'systemd.unified_cgroup_hierarchy=1"')
        assert target.sh('cat /tmp/update-grub.log') == 'ran'
        assert 'reboot_required' in result.result('Report that cgroup v2 needs a reboot')['msg']
        assert result.result('Reboot into cgroup v2').get('skipped') is True
        detected = result.result('Read the cgroup mode and controllers')
        assert detected['mode'] == 'hybrid' and detected['root_fstype'] == 'tmpfs'
        assert detected['unified_path'] == '/sys/fs/cgroup/unified'
        assert detected['systemd_root'].startswith('/docker/')
        assert 'memory' in detected['v1_controllers']
        assert target.sh("awk '{print $22}' /proc/1/stat") == boot
        # Idempotent, and still honest about the pending reboot.
        again = play(target, {'build_cgroups_enable_unified': True})
        assert again.changed == 0
        assert again.result('Ensure the kernel command line')['reboot_required'] is True
        assert target.sh('cat /tmp/update-grub.log') == 'ran'
    finally:
        target.sh('rm -f /etc/default/grub /usr/sbin/update-grub /tmp/update-grub.log')


def test_the_local_fact_and_the_reported_mode(target):
    fact = json.loads(target.sh('cat /etc/ansible/facts.d/build_cgroups.fact'))
    assert fact['slices']['gobuild.slice']['cgroup'] == 'gobuild.slice'
    assert fact['wrapper'] == '/usr/local/bin/go-build-run'
    result = play(target, OPT_IN)
    assert result.result('Ensure the build slices')['cgroup_mode'] == 'hybrid'
