"""module_utils/sysctl_conf.py: key notation, value checks, sysctl.d parsing and container detection."""

import importlib

import pytest

SYSCTL = importlib.import_module('ansible_collections.go_buildhost.buildhost.plugins.module_utils.sysctl_conf')


@pytest.mark.parametrize('key, dotted, path', [
    ('vm.swappiness', 'vm.swappiness', 'vm/swappiness'),
    ('vm/swappiness', 'vm.swappiness', 'vm/swappiness'),
    ('net.ipv4.conf.eth0/100.rp_filter', 'net.ipv4.conf.eth0/100.rp_filter', 'net/ipv4/conf/eth0.100/rp_filter'),
    ('net/ipv4/conf/eth0.100/rp_filter', 'net.ipv4.conf.eth0/100.rp_filter', 'net/ipv4/conf/eth0.100/rp_filter'),
    ('fs.inotify.max_user_watches', 'fs.inotify.max_user_watches', 'fs/inotify/max_user_watches'),
])
def test_normalize_key_follows_systemd(key, dotted, path):
    assert SYSCTL.normalize_key(key) == (dotted, path)


@pytest.mark.parametrize('key', ['', 'swappiness', 'vm..swappiness', 'vm.swappiness.', '/vm/swappiness',
                                 'vm/../etc', 'vm. swappiness', ' vm.swappiness', 'vm.swappiness\t', 'net.*.x',
                                 'vm.swappiness=1', '-vm.swappiness', 5])
def test_normalize_key_refuses(key):
    with pytest.raises(SYSCTL.SysctlError):
        SYSCTL.normalize_key(key)


@pytest.mark.parametrize('value, live, expected', [
    (10, '60', '10'),
    ('10', '60', '10'),
    (' 010 ', '60', '10'),
    (-1, '2', '-1'),
    ('10240 65000', '32768 60999', '10240 65000'),
    ([10240, 65000], '32768 60999', '10240 65000'),
    ('4096\t131072  6291456', '4096 131072 33554432', '4096 131072 6291456'),
    ('bbr', 'cubic', 'bbr'),
    ('|/bin/true %p', 'core', '|/bin/true %p'),
    (18446744073692774399, '18446744073692774399', '18446744073692774399'),
])
def test_format_value(value, live, expected):
    assert SYSCTL.format_value(value, live) == expected


@pytest.mark.parametrize('value, live, message', [
    (True, '60', 'is a boolean'),
    (False, '0', 'is a boolean'),
    ('yes', '1', 'boolean word'),
    ('Off', 'cubic', 'boolean word'),
    (1.5, '1', 'fraction'),
    ('', '1', 'empty'),
    ([], '1 2', 'empty'),
    ([1, True], '1 2', 'only integers'),
    ({'a': 1}, '1', 'is a dict'),
    ('1\n2', '1', 'several lines'),
    ('ten', '60', 'is not an integer'),
    ('0x10', '60', 'is not an integer'),
    ('1 2', '60', 'has 2 fields'),
    ('1', '1 2', 'has 1 field'),
])
def test_format_value_refuses(value, live, message):
    with pytest.raises(SYSCTL.SysctlError, match=message):
        SYSCTL.format_value(value, live)


def test_parse_conf_reads_what_systemd_reads():
    text = ('# comment\n; comment\n\nvm.swappiness=10\n  net/core/somaxconn = 1024 \n-fs.inotify.max_user_watches = 5\n'
            'net.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.all.rp_filter\nkernel.core_pattern = |/bin/x %p\n')
    assert SYSCTL.parse_conf(text) == [('vm/swappiness', '10', 4), ('net/core/somaxconn', '1024', 5),
                                       ('fs/inotify/max_user_watches', '5', 6),
                                       ('kernel/core_pattern', '|/bin/x %p', 9)]


def test_ordered_files_sorts_by_name_across_directories_and_etc_wins(tmp_path):
    dirs = [tmp_path / d for d in ('etc', 'run', 'usr')]
    for directory in dirs:
        directory.mkdir()
    (tmp_path / 'usr/10-a.conf').write_text('')
    (tmp_path / 'etc/50-b.conf').write_text('')
    (tmp_path / 'usr/50-b.conf').write_text('')
    (tmp_path / 'run/99-c.conf').write_text('')
    (tmp_path / 'run/README').write_text('')
    assert SYSCTL.ordered_files([str(d) for d in dirs]) == [
        ('10-a.conf', str(tmp_path / 'usr/10-a.conf')), ('50-b.conf', str(tmp_path / 'etc/50-b.conf')),
        ('99-c.conf', str(tmp_path / 'run/99-c.conf'))]


def test_namespaced_keys():
    assert SYSCTL.is_namespaced('net.core.somaxconn')
    assert SYSCTL.is_namespaced('kernel.shmmax') and SYSCTL.is_namespaced('fs.mqueue.msg_max')
    assert not SYSCTL.is_namespaced('vm.swappiness')
    assert not SYSCTL.is_namespaced('fs.inotify.max_user_watches')
    assert not SYSCTL.is_namespaced('kernel.perf_event_paranoid')


@pytest.mark.parametrize('files, evidence', [
    ({'.dockerenv': ''}, '/.dockerenv exists'),
    ({'run/.containerenv': ''}, '/run/.containerenv exists'),
    ({'run/systemd/container': 'lxc\n'}, '/run/systemd/container says lxc'),
    ({'proc/1/environ': 'PATH=/bin\0container=podman\0HOME=/'}, 'PID 1 has container=podman in its environment'),
])
def test_detect_container_markers(tmp_path, files, evidence):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert SYSCTL.detect_container(str(tmp_path), root=str(tmp_path)) == (True, evidence)


def test_detect_container_asks_systemd_last(tmp_path):
    assert SYSCTL.detect_container(str(tmp_path), root=str(tmp_path)) == (False, None)
    assert SYSCTL.detect_container(str(tmp_path), run_command=lambda: 'docker', root=str(tmp_path)) == (
        True, 'systemd-detect-virt --container says docker')
