"""build_cgroups on a VM booted with the hybrid hierarchy (systemd.unified_cgroup_hierarchy=0)."""

import os
from pathlib import Path

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('cgroup_hybrid')

ROOT = Path(__file__).resolve().parents[2]


def test_the_vm_really_is_hybrid(host):
    assert 'systemd.unified_cgroup_hierarchy=0' in host.file('/proc/cmdline').content_string
    assert host.check_output('stat -fc %T /sys/fs/cgroup') == 'tmpfs'
    assert host.check_output('stat -fc %T /sys/fs/cgroup/unified') == 'cgroup2fs'


def test_enable_unified_set_the_kernel_argument_for_the_next_boot(host):
    default_grub = host.file('/etc/default/grub').content_string
    cmdline = [line for line in default_grub.splitlines() if line.startswith('GRUB_CMDLINE_LINUX=')]
    assert len(cmdline) == 1 and 'systemd.unified_cgroup_hierarchy=1' in cmdline[0]
    assert 'systemd.unified_cgroup_hierarchy=0' not in default_grub
    grub_cfg = host.file('/boot/grub/grub.cfg').content_string
    linux_lines = [line for line in grub_cfg.splitlines() if line.strip().startswith('linux')]
    assert linux_lines and all('systemd.unified_cgroup_hierarchy=1' in line for line in linux_lines)


def test_the_role_did_not_reboot(host):
    assert host.file('/proc/sys/kernel/random/boot_id').content_string == \
        host.file('/var/tmp/boot_id.prepare').content_string


def test_without_the_opt_in_the_role_stops_and_says_what_to_do(playbook):
    rc, _stats, data = playbook('molecule/vm/converge.yml', limit='cgroup_hybrid', build_cgroups_enable_unified=False)
    assert rc != 0
    messages = [h.get('msg', '') for p in data['plays'] for t in p['tasks'] for h in t['hosts'].values()
                if h.get('failed')]
    assert any('build_cgroups_enable_unified' in str(m) for m in messages), messages
