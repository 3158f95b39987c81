"""cgroup_facts against fake /sys/fs/cgroup and /proc trees: unified, hybrid and legacy hosts."""

import pytest
from ansible.module_utils.cgroup_fs import detect, parse_mountinfo, parse_systemctl_show, read_limits, systemd_root

from .conftest import ModuleFail
from .systemd_fake import install

MEMINFO = 'MemTotal:       16384000 kB\nMemFree:         1000000 kB\n'
STAT = 'cpu  1 2 3\ncpu0 1 2 3\ncpu1 1 2 3\ncpu2 1 2 3\ncpu3 1 2 3\nintr 5\n'
PROC_CGROUPS_V2 = ('#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\ncpu\t0\t1\t1\n'
                   'memory\t0\t1\t1\npids\t0\t1\t1\n')
PROC_CGROUPS_V1 = ('#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t5\t1\ncpu\t1\t5\t1\n'
                   'cpuacct\t1\t5\t1\nmemory\t4\t143\t1\npids\t8\t35\t1\nhugetlb\t0\t1\t0\n')


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Host:
    """A fake host: proc/ and sys/fs/cgroup/ under a temporary directory."""

    def __init__(self, tmp_path, mode, in_mountinfo=True, systemd_path='/'):
        self.proc = tmp_path / 'proc'
        self.cg = tmp_path / 'sys/fs/cgroup'
        self.cg.mkdir(parents=True)
        self.mode = mode
        self.root = systemd_path
        write(self.proc / 'meminfo', MEMINFO)
        write(self.proc / 'stat', STAT)
        init = '%s/init.scope' % systemd_path.rstrip('/')
        mounts = []
        if mode == 'unified':
            mounts.append('30 23 0:26 / %s rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate'
                          % self.cg)
            write(self.cg / 'cgroup.controllers', 'cpuset cpu io memory hugetlb pids rdma misc\n')
            write(self.cg / systemd_path.strip('/') / 'cgroup.subtree_control', 'cpu io memory pids\n')
            write(self.proc / 'cgroups', PROC_CGROUPS_V2)
            write(self.proc / '1/cgroup', '0::%s\n' % init)
            self.v2 = self.cg
        else:
            mounts.append('25 23 0:22 / %s ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755' % self.cg)
            for number, (point, options) in enumerate((('cpu,cpuacct', 'rw,cpu,cpuacct'), ('memory', 'rw,memory'),
                                                       ('pids', 'rw,pids'), ('cpuset', 'rw,cpuset'),
                                                       ('systemd', 'rw,xattr,name=systemd'))):
                (self.cg / point).mkdir()
                mounts.append('%d 25 0:%d / %s/%s rw,nosuid - cgroup cgroup %s' % (40 + number, 30 + number, self.cg,
                                                                                   point, options))
            (self.cg / 'cpu').symlink_to('cpu,cpuacct')
            write(self.proc / 'cgroups', PROC_CGROUPS_V1)
            lines = ['4:memory:%s' % init, '1:cpu,cpuacct:%s' % init, '1:name=systemd:%s' % init]
            if mode == 'hybrid':
                mounts.append('26 25 0:23 / %s/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate' % self.cg)
                write(self.cg / 'unified/cgroup.controllers', '')
                write(self.cg / 'unified' / systemd_path.strip('/') / 'cgroup.subtree_control', '')
                lines.append('0::%s' % init)
                self.v2 = self.cg / 'unified'
            write(self.proc / '1/cgroup', '\n'.join(lines) + '\n')
        if not in_mountinfo:
            mounts = ['20 1 8:1 / / rw - ext4 /dev/sda1 rw']
        write(self.proc / 'self/mountinfo', '\n'.join(mounts) + '\n')

    def args(self, **extra):
        return dict(cgroup_root=str(self.cg), proc_root=str(self.proc), **extra)

    def v2_cgroup(self, path, **files):
        for name, value in files.items():
            write(self.cg / path.strip('/') / name.replace('_', '.', 1), value + '\n')

    def v1_cgroup(self, controller, path, **files):
        for name, value in files.items():
            write(self.cg / controller / path.strip('/') / name.replace('_', '.', 1), value + '\n')


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
