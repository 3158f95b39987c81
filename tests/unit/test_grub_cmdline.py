"""grub_cmdline against a temporary /etc/default/grub and a fake update-grub."""

import pytest

from .conftest import ModuleFail

ARG = 'systemd.unified_cgroup_hierarchy=1'
DEBIAN = ('# If you change this file, run \'update-grub\' afterwards.\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n'
          'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
          'GRUB_CMDLINE_LINUX=""\n')


@pytest.fixture
def grub(tmp_path, run_module):
    class Grub:
        path = tmp_path / 'grub'
        log = tmp_path / 'update.log'
        update = tmp_path / 'update-grub'
        cmdline = tmp_path / 'cmdline'

        def run(self, check=False, diff=False, **extra):
            args = dict(present=[ARG], absent=['systemd.legacy_systemd_cgroup_controller'], path=str(self.path),
                        update_command=[str(self.update)], proc_cmdline=str(self.cmdline))
            args.update(extra)
            return run_module('grub_cmdline', args, check=check, diff=diff)

        def updates(self):
            return self.log.read_text().count('ran\n') if self.log.exists() else 0

    g = Grub()
    g.update.write_text('#!/bin/sh\necho ran >> %s\n' % g.log)
    g.update.chmod(0o755)
    g.cmdline.write_text('BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro systemd.unified_cgroup_hierarchy=0 quiet\n')
    return g


def test_adds_the_parameter_and_runs_update_grub_once(grub):
    grub.path.write_text(DEBIAN)
    result = grub.run()
    assert result['changed'] is True and result['updated'] is True
    assert result['cmdline'] == ARG
    assert result['reboot_required'] is True
    assert grub.path.read_text() == DEBIAN.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="%s"' % ARG)
    assert grub.updates() == 1
    again = grub.run()
    assert again['changed'] is False and again['updated'] is False
    assert again['reboot_required'] is True  # still booted with the old command line
    assert grub.updates() == 1


def test_conflicting_values_are_removed_everywhere(grub):
    grub.path.write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet systemd.unified_cgroup_hierarchy=0"\n'
                         "GRUB_CMDLINE_LINUX='console=ttyS0 systemd.legacy_systemd_cgroup_controller=1 "
                         "systemd.unified_cgroup_hierarchy=false'\n")
    grub.run()
    assert grub.path.read_text() == ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
                                     'GRUB_CMDLINE_LINUX="console=ttyS0 %s"\n' % ARG)


def test_already_there_changes_nothing_byte_for_byte(grub):
    text = "# mine\nGRUB_CMDLINE_LINUX='quiet  %s' # keep this comment\n" % ARG
    grub.path.write_text(text)
    grub.cmdline.write_text('root=/dev/vda1 %s\n' % ARG)
    result = grub.run()
    assert result['changed'] is False and result['reboot_required'] is False
    assert grub.path.read_text() == text
    assert grub.updates() == 0


def test_missing_assignment_is_appended(grub):
    grub.path.write_text('GRUB_TIMEOUT=5\n')
    grub.run()
    assert grub.path.read_text() == 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="%s"\n' % ARG


def test_check_mode_shows_the_diff_and_writes_nothing(grub):
    grub.path.write_text(DEBIAN)
    result = grub.run(check=True, diff=True)
    assert result['changed'] is True and result['updated'] is False and result['reboot_required'] is True
    assert 'GRUB_CMDLINE_LINUX="%s"' % ARG in result['diff']['after']
    assert grub.path.read_text() == DEBIAN
    assert grub.updates() == 0


def test_host_without_grub_gets_a_clear_message(grub):
    with pytest.raises(ModuleFail) as failed:
        grub.run()
    msg = failed.value.result['msg']
    assert 'does not exist. This host does not seem to boot through GRUB' in msg
    assert 'Add systemd.unified_cgroup_hierarchy=1 to its kernel command line yourself' in msg
    assert msg.endswith('Nothing was changed.')


def test_missing_update_grub_fails_before_writing(grub, tmp_path):
    grub.path.write_text(DEBIAN)
    with pytest.raises(ModuleFail, match='is not installed .no .*update-grub.*Nothing was changed'):
        grub.run(update_command=[str(tmp_path / 'no/update-grub')])
    assert grub.path.read_text() == DEBIAN


def test_failing_update_grub_is_reported(grub):
    grub.path.write_text(DEBIAN)
    grub.update.write_text('#!/bin/sh\necho "grub-probe: error: cannot find a device" >&2\nexit 1\n')
    with pytest.raises(ModuleFail, match='cannot find a device.*run .* by hand before rebooting'):
        grub.run()


def test_parameters_must_be_single_words(grub):
    grub.path.write_text(DEBIAN)
    with pytest.raises(ModuleFail, match='must be one word'):
        grub.run(present=['a b'])
    assert grub.path.read_text() == DEBIAN
