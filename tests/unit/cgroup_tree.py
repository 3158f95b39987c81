"""Fake /proc and /sys/fs/cgroup trees of unified, hybrid and legacy hosts, for the cgroup module tests."""

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
