"""sysctl_tuning through playbooks/sysctl_tuning.yml against a real container of each supported platform.

Every bad input of issue 4 (each must fail with a message naming the variable
and leave the drop-in, the state file and the live values untouched), values
the kernel itself refuses, apply_live=always in a container, check mode, the
profiling keys and the revert. The tests run in file order and share one
container, whose /proc/sys/net is made writable the way Podman does it (the
container's own network namespace; the host is never touched).
"""

import json

import pytest

from .conftest import PLATFORMS as ALL_PLATFORMS

# Each distribution ships its own sysctl.d defaults, some of which shadow the role's keys: on every
# platform in make test.
PLATFORMS = tuple(ALL_PLATFORMS)

PLAYBOOK = 'playbooks/sysctl_tuning.yml'
DROP_IN = '/etc/sysctl.d/60-go-buildhost.conf'
STATE = '/var/lib/go-buildhost/sysctl_tuning.state.json'
FACT = '/etc/ansible/facts.d/sysctl_tuning.fact'
GOOD = {'sysctl_tuning_settings': {'net.ipv4.ip_local_port_range': '10240 65000'}}
NET_KEYS = ('net/core/somaxconn', 'net/ipv4/tcp_max_syn_backlog', 'net/ipv4/ip_local_port_range')
WRITABLE_NET = (
    'grep -qs " /proc/sys/net proc rw" /proc/self/mounts || { mkdir -p /run/gbh-proc && '
    'mount -t proc proc /run/gbh-proc && mount --bind /run/gbh-proc/sys/net /proc/sys/net && '
    'umount -l /run/gbh-proc && rmdir /run/gbh-proc; }')


@pytest.fixture(scope='module')
def host(target):
    target.sh(WRITABLE_NET)
    target.originals = {key: live(target, key) for key in NET_KEYS}
    return target


def live(target, key):
    return ' '.join(target.sh('cat /proc/sys/%s' % key).split())


def snapshot(target):
    files = target.sh('for f in %s %s %s; do echo "== $f"; cat "$f" 2>/dev/null; done' % (DROP_IN, STATE, FACT))
    return files, {key: live(target, key) for key in NET_KEYS}


def play(target, extra, *args):
    return target.play(extra, *args, playbook=PLAYBOOK)


def test_converge_applies_net_keys_and_reports_the_rest_pending(host):
    result = play(host, GOOD)
    assert not result.failed, result.messages()
    assert live(host, 'net/core/somaxconn') == '65535'
    assert live(host, 'net/ipv4/ip_local_port_range') == '10240 65000'
    fact = json.loads(host.sh('cat %s' % FACT))
    assert sorted(fact['pending']) == ['fs.inotify.max_user_instances', 'fs.inotify.max_user_watches',
                                       'vm.swappiness']
    assert play(host, GOOD).changed == 0


BAD = {
    'unknown key': ({'vm.swapiness': 10}, "vm.swapiness is not a setting of this kernel"),
    'non-numeric value for a numeric key': ({'net.core.somaxconn': 'lots'},
                                            '"lots" is not an integer: the kernel expects a decimal integer'),
    'a boolean (YAML on/yes/true)': ({'vm.swappiness': True}, 'True is a boolean'),
    'the word yes': ({'net.core.somaxconn': 'yes'}, '"yes" is a boolean word'),
    'a key with spaces': ({'net.core. somaxconn': 1024}, "'net.core. somaxconn' contains whitespace"),
    'dotted and slash duplicate': ({'net.core.somaxconn': 1024, 'net/core/somaxconn': 2048},
                                   "'net.core.somaxconn' and 'net/core/somaxconn' name the same setting"),
    'a multi-value key with one field': ({'net.ipv4.ip_local_port_range': 1024}, 'has 1 field'),
}


@pytest.mark.parametrize('case', sorted(BAD))
@pytest.mark.refusal_matrix
def test_bad_input_is_refused_and_changes_nothing(host, case):
    before = snapshot(host)
    settings, text = BAD[case]
    result = play(host, {'sysctl_tuning_settings': dict(GOOD['sysctl_tuning_settings'], **settings)})
    assert result.failed
    message = result.messages()
    assert 'sysctl_tuning_settings' in message and text in message and 'nothing was changed' in message, message
    assert snapshot(host) == before


@pytest.mark.parametrize('settings, mode, answer', [
    # always fails on the host-wide defaults in a container (EROFS, tested below): drop them here.
    ({'net.core.somaxconn': -1, 'vm.swappiness': None, 'fs.inotify.max_user_watches': None,
      'fs.inotify.max_user_instances': None},
     'always', 'the kernel refused net.core.somaxconn = -1 (EINVAL: Invalid argument)'),
    ({'net.ipv4.ip_local_port_range': '60000 20000', 'net.core.somaxconn': 4242}, 'auto',
     'the kernel refused net.ipv4.ip_local_port_range = 60000 20000 (EINVAL: Invalid argument)'),
], ids=['somaxconn -1 with always', 'port range low > high with auto'])
def test_a_value_the_kernel_refuses_is_relayed_and_rolled_back(host, settings, mode, answer):
    """The container's own kernel refuses these net.* values live; vm.swappiness=300 is the same on a host."""
    before = snapshot(host)
    result = play(host, {'sysctl_tuning_settings': settings, 'sysctl_tuning_apply_live': mode})
    assert result.failed
    message = result.messages()
    assert answer in message and 'rolled back' in message and 'nothing was changed' in message, message
    assert snapshot(host) == before  # net.core.somaxconn = 4242 was written first, then put back


def test_always_in_a_container_fails_on_host_wide_keys(host):
    before = snapshot(host)
    result = play(host, dict(GOOD, sysctl_tuning_apply_live='always'))
    assert result.failed
    message = result.messages()
    assert 'sysctl_tuning_apply_live is always, but fs.inotify.max_user_instances = 1024 cannot be applied' in message
    assert 'EROFS: Read-only file system' in message and 'in a container' in message, message
    assert snapshot(host) == before


def test_a_bad_file_name_is_refused_by_the_role(host):
    before = snapshot(host)
    result = play(host, dict(GOOD, sysctl_tuning_file_name='go-buildhost'))
    assert result.failed and 'sysctl_tuning_file_name must be a file name ending in .conf' in result.messages()
    assert snapshot(host) == before


def test_check_mode_shows_the_diff_and_changes_nothing(host):
    before = snapshot(host)
    result = play(host, {'sysctl_tuning_settings': {'net.core.somaxconn': 8192}}, '--check', '--diff')
    assert not result.failed, result.messages()
    step = result.result('Ensure the kernel settings are applied and persisted')
    assert step['changed'] is True and step['applied'] == ['net.core.somaxconn']
    file_diff, live_diff = step['diff']
    assert 'net.core.somaxconn = 8192\n' in file_diff['after']
    assert 'net.ipv4.ip_local_port_range' in file_diff['before']
    assert 'net.core.somaxconn = 65535\n' in live_diff['before']
    assert snapshot(host) == before


def test_profiling_adds_the_perf_keys(host):
    """The packages are big (about 70 with their dependencies): this skips their task, not the keys."""
    extra = dict(GOOD, sysctl_tuning_profiling=True)
    result = play(host, extra, '--skip-tags', 'sysctl_tuning_profiling')
    assert not result.failed, result.messages()
    text = host.sh('cat %s' % DROP_IN)
    assert 'kernel.kptr_restrict = 0\n' in text and 'kernel.perf_event_paranoid = 1\n' in text
    fact = json.loads(host.sh('cat %s' % FACT))
    for key in ('kernel.kptr_restrict', 'kernel.perf_event_paranoid'):
        assert key in fact['pending'] or key in fact['live']
    assert play(host, GOOD).changed == 1  # back without them
    assert 'kernel.' not in host.sh('cat %s' % DROP_IN)


def test_absent_restores_the_recorded_values_and_removes_everything(host):
    result = play(host, {'sysctl_tuning_state': 'absent'})
    assert not result.failed, result.messages()
    assert {key: live(host, key) for key in NET_KEYS} == host.originals
    assert host.sh('ls %s %s %s 2>/dev/null; true' % (DROP_IN, STATE, FACT)) == ''
    assert play(host, {'sysctl_tuning_state': 'absent'}).changed == 0
