"""cgroup_facts against fake /sys/fs/cgroup and /proc trees: unified, hybrid and legacy hosts."""

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_fs import (
    detect, parse_mountinfo, read_limits, systemd_root,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import parse_systemctl_show

from .cgroup_tree import Host
from .conftest import ModuleFail
from .systemd_fake import install


@pytest.mark.parametrize('mode', ['unified', 'hybrid', 'legacy'])
@pytest.mark.parametrize('in_mountinfo', [True, False], ids=['mountinfo', 'files'])
def test_mode_is_detected(tmp_path, run_module, mode, in_mountinfo):
    host = Host(tmp_path, mode, in_mountinfo=in_mountinfo)
    result = run_module('cgroup_facts', host.args())
    assert result['changed'] is False
    assert result['mode'] == mode
    assert result['mode_source'] == ('mountinfo' if in_mountinfo else 'files')
    assert result['ansible_facts']['cgroups']['mode'] == mode
    assert result['memory_total'] == 16384000 * 1024
    assert result['cpus'] == 4
    if mode == 'unified':
        assert result['unified_path'] == str(host.cg)
        assert result['controllers'] == ['cpu', 'cpuset', 'hugetlb', 'io', 'memory', 'misc', 'pids', 'rdma']
        assert result['delegated_controllers'] == ['cpu', 'io', 'memory', 'pids']
        assert result['v1_controllers'] == []
        assert result['v1_mounts'] == {}
    else:
        assert result['unified_path'] == (str(host.cg / 'unified') if mode == 'hybrid' else None)
        assert result['controllers'] == []
        assert result['v1_controllers'] == ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids']
        assert result['v1_mounts']['memory'] == str(host.cg / 'memory')
        assert result['v1_mounts']['cpu'] == str(host.cg / 'cpu,cpuacct')
        assert result['v1_mounts']['cpuacct'] == str(host.cg / 'cpu,cpuacct')
    if in_mountinfo:
        assert result['root_fstype'] == ('cgroup2' if mode == 'unified' else 'tmpfs')


def test_missing_cgroup_root_fails_with_advice(tmp_path, run_module):
    with pytest.raises(ModuleFail, match='has no cgroup file system mounted there'):
        run_module('cgroup_facts', dict(cgroup_root=str(tmp_path / 'nothing'), proc_root=str(tmp_path)))


def test_systemd_root_inside_a_container(tmp_path):
    host = Host(tmp_path, 'hybrid', systemd_path='/docker/abc123')
    assert systemd_root(str(host.proc)) == '/docker/abc123'
    layout = detect(str(host.cg), str(host.proc))
    assert layout['systemd_root'] == '/docker/abc123'


def test_legacy_systemd_root_from_the_name_systemd_line(tmp_path):
    host = Host(tmp_path, 'legacy', systemd_path='/lxc/box')
    assert systemd_root(str(host.proc)) == '/lxc/box'


def test_unified_unit_limits_and_effective_limits(tmp_path, run_module, monkeypatch):
    host = Host(tmp_path, 'unified')
    host.v2_cgroup('go.slice', memory_max='8589934592', memory_high='max', cpu_max='100000 100000',
                   pids_max='max', cpu_weight='100')
    host.v2_cgroup('go.slice/go-build.slice', memory_max='2147483648', memory_high='1610612736',
                   cpu_max='150000 100000', cpu_weight='50', pids_max='4096', io_weight='default 50',
                   cpuset_cpus='0-1')
    host.v2_cgroup('go.slice/go-build.slice/fake-runner.service', memory_max='max', memory_high='max',
                   cpu_max='max 100000', cpu_weight='100', pids_max='max')
    systemd = install(monkeypatch)
    systemd.add('fake-runner.service', cgroup='/go.slice/go-build.slice/fake-runner.service',
                slice_name='go-build.slice')
    systemd.add('go-build.slice', active=False, slice_name='go.slice')
    result = run_module('cgroup_facts', host.args(units=['go-build.slice', 'fake-runner.service', 'gone']))
    build = result['units']['go-build.slice']
    assert build['cgroup'] == '/go.slice/go-build.slice'  # not running: derived from the name
    assert build['exists'] is True
    assert build['files']['cpu.max'] == '150000 100000'
    assert build['limits'] == dict(memory_max=2147483648, memory_high=1610612736, cpu_quota=150.0, cpu_weight=50,
                                   cpu_shares=None, pids_max=4096, io_weight=50, cpus='0-1')
    assert build['effective'] == dict(memory_max=2147483648, memory_high=1610612736, cpu_quota=100.0, pids_max=4096)
    runner = result['units']['fake-runner.service']
    assert runner['cgroup'] == '/go.slice/go-build.slice/fake-runner.service'
    assert runner['active_state'] == 'active'
    assert runner['limits']['memory_max'] is None and runner['limits']['cpu_quota'] is None
    assert runner['effective']['cpu_quota'] == 100.0  # the kernel enforces the parents', Go sees only the leaf's
    gone = result['units']['gone']
    assert gone['load_state'] == 'not-found' and gone['exists'] is False
    assert gone['cgroup'] == '/system.slice/gone.service'
    assert systemd.verbs() == ['show']


def test_hybrid_reads_the_v1_files(tmp_path, run_module, monkeypatch):
    host = Host(tmp_path, 'hybrid', systemd_path='/docker/abc')
    host.v1_cgroup('memory', '/docker/abc/go.slice/go-build.slice', memory_limit_in_bytes='2147483648',
                   memory_soft_limit_in_bytes='9223372036854771712')
    host.v1_cgroup('memory', '/docker/abc/go.slice', memory_limit_in_bytes='9223372036854771712')
    host.v1_cgroup('cpu,cpuacct', '/docker/abc/go.slice/go-build.slice', cpu_cfs_quota_us='150000',
                   cpu_cfs_period_us='100000', cpu_shares='512')
    host.v1_cgroup('pids', '/docker/abc/go.slice/go-build.slice', pids_max='4096')
    (host.cg / 'unified/docker/abc/go.slice/go-build.slice').mkdir(parents=True)
    systemd = install(monkeypatch, root='/docker/abc')
    systemd.add('go-build.slice', cgroup='/docker/abc/go.slice/go-build.slice', slice_name='go.slice')
    result = run_module('cgroup_facts', host.args(units=['go-build.slice']))
    unit = result['units']['go-build.slice']
    assert unit['files']['memory/memory.limit_in_bytes'] == '2147483648'
    assert unit['files']['cpu/cpu.cfs_quota_us'] == '150000'
    assert unit['limits']['memory_max'] == 2147483648
    assert unit['limits']['memory_high'] is None
    assert unit['limits']['cpu_quota'] == 150.0
    assert unit['limits']['cpu_shares'] == 512
    assert unit['limits']['pids_max'] == 4096
    assert unit['effective']['memory_max'] == 2147483648


def test_v1_unlimited_values_read_as_no_limit(tmp_path):
    host = Host(tmp_path, 'legacy')
    host.v1_cgroup('memory', '/a.slice', memory_limit_in_bytes='9223372036854771712')
    host.v1_cgroup('cpu,cpuacct', '/a.slice', cpu_cfs_quota_us='-1', cpu_cfs_period_us='100000')
    limits = read_limits(detect(str(host.cg), str(host.proc)), '/a.slice')
    assert limits['exists'] is True
    assert limits['limits']['memory_max'] is None and limits['limits']['cpu_quota'] is None


def test_mountinfo_parsing_unescapes_paths():
    mounts = parse_mountinfo(['36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
                              'garbage'])
    assert mounts == [dict(root='/mnt1', mount_point='/mnt two', fstype='ext3',
                           super_options=['rw', 'errors=continue'])]


def test_systemctl_show_parsing_keeps_the_first_block_per_unit():
    out = 'Id=a.service\nActiveState=active\n\nId=b.service\nActiveState=inactive\n\nId=a.service\nActiveState=x\n'
    assert parse_systemctl_show(out) == [{'Id': 'a.service', 'ActiveState': 'active'},
                                         {'Id': 'b.service', 'ActiveState': 'inactive'}]


def test_systemctl_failure_is_reported(tmp_path, run_module, monkeypatch):
    host = Host(tmp_path, 'unified')
    systemd = install(monkeypatch)
    systemd.fail['show'] = (1, 'Failed to connect to bus')
    with pytest.raises(ModuleFail, match='Failed to connect to bus'):
        run_module('cgroup_facts', host.args(units=['x.service']))
