"""file_bundle: several files in one call, written atomically, validated, with check and diff modes."""

# ruff: noqa: S103 - these tests make permissive and broken modes on purpose, to audit and repair them

import os

import pytest

from .conftest import ModuleFail
from .systemd_fake import install

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='files owned by root with chosen modes need root')


@pytest.fixture
def bundle(tmp_path, run_module):
    def run(files, check=False, diff=False):
        return run_module('file_bundle', dict(files=files), check=check, diff=diff)

    return run


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith('.tmp-')]


def test_creates_files_and_parents_then_changes_nothing(bundle, tmp_path):
    files = [dict(path=str(tmp_path / 'etc/app/a.conf'), content='a\n'),
             dict(path=str(tmp_path / 'lib/app/run.py'), content='#!/usr/bin/python3\n', mode='0755')]
    result = bundle(files, diff=True)
    assert result['changed'] is True
    assert result['created'] == result['changed_paths'] == [f['path'] for f in files]
    assert (tmp_path / 'etc/app/a.conf').read_text() == 'a\n'
    assert os.stat(tmp_path / 'lib/app/run.py').st_mode & 0o7777 == 0o755
    assert os.stat(tmp_path / 'etc/app').st_mode & 0o7777 == 0o755
    assert [d['after'] for d in result['diff']] == ['a\n', '#!/usr/bin/python3\n']
    again = bundle(files)
    assert again['changed'] is False and again['changed_paths'] == [] and again['created'] == []


def test_only_the_files_that_differ_are_written(bundle, tmp_path):
    files = [dict(path=str(tmp_path / 'a'), content='a\n'), dict(path=str(tmp_path / 'b'), content='b\n')]
    bundle(files)
    inode_b = os.stat(tmp_path / 'b').st_ino
    files[0]['content'] = 'a2\n'
    result = bundle(files, diff=True)
    assert result['changed_paths'] == [str(tmp_path / 'a')]
    assert result['diff'][0]['before'] == 'a\n' and result['diff'][0]['after'] == 'a2\n'
    assert os.stat(tmp_path / 'b').st_ino == inode_b
    assert leftovers(tmp_path) == []


def test_mode_drift_is_fixed_in_place(bundle, tmp_path):
    files = [dict(path=str(tmp_path / 'a'), content='a\n', mode='0640')]
    bundle(files)
    os.chmod(tmp_path / 'a', 0o666)
    inode = os.stat(tmp_path / 'a').st_ino
    result = bundle(files, diff=True)
    assert result['changed'] is True and os.stat(tmp_path / 'a').st_mode & 0o7777 == 0o640
    assert os.stat(tmp_path / 'a').st_ino == inode
    assert result['diff'][0]['before_header'].endswith('root:root 0666')


def test_check_mode_writes_nothing(bundle, tmp_path):
    result = bundle([dict(path=str(tmp_path / 'new/a'), content='a\n', validate='/bin/false %s')], check=True)
    assert result['changed'] is True and result['created'] == [str(tmp_path / 'new/a')]
    assert not (tmp_path / 'new').exists()


def test_a_file_that_fails_validation_is_not_written(bundle, tmp_path):
    path = tmp_path / 'rules.yml'
    path.write_text('old\n')
    with pytest.raises(ModuleFail, match=r'rules.yml failed validation with grep -q good %s \(rc=1\)'):
        bundle([dict(path=str(path), content='bad\n', validate='grep -q good %s')])
    assert path.read_text() == 'old\n' and leftovers(tmp_path) == []
    bundle([dict(path=str(path), content='good\n', validate='grep -q good %s')])
    assert path.read_text() == 'good\n'


def test_validate_needs_the_placeholder(bundle, tmp_path):
    with pytest.raises(ModuleFail, match='must contain %s'):
        bundle([dict(path=str(tmp_path / 'a'), content='a', validate='/bin/true')])


def test_absent_files_are_removed(bundle, tmp_path):
    (tmp_path / 'secret').write_text('x')
    result = bundle([dict(path=str(tmp_path / 'secret'), state='absent')], check=True)
    assert result['changed'] is True and (tmp_path / 'secret').exists()
    bundle([dict(path=str(tmp_path / 'secret'), state='absent')])
    assert not (tmp_path / 'secret').exists()
    assert bundle([dict(path=str(tmp_path / 'secret'), state='absent')])['changed'] is False


@pytest.mark.parametrize('kind', ['dir', 'symlink'])
def test_refuses_to_replace_what_is_not_a_regular_file(bundle, tmp_path, kind):
    target = tmp_path / 'x'
    if kind == 'dir':
        target.mkdir()
    else:
        target.symlink_to('/etc/passwd')
    with pytest.raises(ModuleFail, match='is not a regular file'):
        bundle([dict(path=str(target), content='a')])


@pytest.mark.parametrize('spec, error', [
    (dict(path='relative', content='a'), 'must be absolute'),
    (dict(path='/tmp/x', content='a', mode='rw'), 'must be an octal mode'),
    (dict(path='/tmp/x', content='a', owner='nosuchuser1'), 'owner nosuchuser1 of /tmp/x does not exist'),
    (dict(path='/tmp/x'), 'content is required'),
])
def test_bad_arguments(bundle, spec, error):
    with pytest.raises(ModuleFail, match=error):
        bundle([spec])


# services: the units that the files feed, kept enabled and running in the same call.

@pytest.fixture
def systemd(monkeypatch):
    return install(monkeypatch)


def bundle_with(run_module, files, services, check=False, **extra):
    return run_module('file_bundle', dict(files=files, services=services, **extra), check=check)


def test_units_are_enabled_and_started_after_a_daemon_reload_then_left_alone(run_module, systemd, tmp_path):
    systemd.add('demo.timer', active=False, file_state='disabled')
    systemd.add('exporter.service', active=False, file_state='disabled')
    unit = str(tmp_path / 'etc/systemd/system/demo.timer')
    files = [dict(path=str(tmp_path / 'config.json'), content='{}\n')]
    services = [dict(name='demo.timer', enabled=True, state='started', restart_on=[unit]),
                dict(name='exporter.service', enabled=True, state='started')]
    result = bundle_with(run_module, files, services)
    assert result['changed'] is True
    assert result['service_actions'] == ['enable demo.timer', 'start demo.timer', 'enable exporter.service',
                                         'start exporter.service']
    # nothing under /etc/systemd/ changed (tmp_path is elsewhere): no reload
    assert result['daemon_reloaded'] is False and 'daemon-reload' not in systemd.verbs()
    systemd.calls.clear()
    again = bundle_with(run_module, files, services)
    assert again['changed'] is False and again['service_actions'] == []
    assert systemd.verbs() == ['show'], 'a no-op reads every unit with one systemctl show and does nothing else'


def test_a_changed_input_restarts_its_unit_and_reloads_systemd(run_module, systemd, tmp_path):
    systemd.add('exporter.service', active=True)
    dropin = str(tmp_path / 'etc/systemd/system/exporter.service.d/textfile.conf')
    services = [dict(name='exporter.service', enabled=True, state='started', restart_on=[dropin])]
    result = bundle_with(run_module, [dict(path=dropin, content='[Service]\n')], services,
                         unit_dirs=[str(tmp_path / 'etc/systemd')])
    assert result['daemon_reloaded'] is True
    assert result['service_actions'] == ['restart exporter.service']
    assert systemd.verbs() == ['daemon-reload', 'show', 'restart']


def test_stopped_and_disabled_and_missing_units_ignored(run_module, systemd, tmp_path):
    systemd.add('old.timer', active=True, file_state='enabled')
    services = [dict(name='old.timer', enabled=False, state='stopped'),
                dict(name='gone.timer', enabled=False, state='stopped', missing='ignore')]
    result = bundle_with(run_module, [dict(path=str(tmp_path / 'f'), content='x\n')], services)
    assert result['service_actions'] == ['disable old.timer', 'stop old.timer']
    assert systemd.units['old.timer']['ActiveState'] == 'inactive'


def test_a_missing_unit_fails_naming_it_but_not_in_check_mode(run_module, systemd, tmp_path):
    files = [dict(path=str(tmp_path / 'f'), content='x\n')]
    services = [dict(name='prometheus-node-exporter.service', enabled=True, state='started')]
    checked = bundle_with(run_module, files, services, check=True)
    assert checked['service_actions'] == ['enable prometheus-node-exporter.service',
                                          'start prometheus-node-exporter.service']
    assert not (tmp_path / 'f').exists()
    assert 'start' not in systemd.verbs() and 'enable' not in systemd.verbs()
    with pytest.raises(ModuleFail) as failure:
        bundle_with(run_module, files, services)
    assert 'prometheus-node-exporter.service is not installed' in failure.value.result['msg']


def test_check_mode_reports_unit_actions_without_running_them(run_module, systemd, tmp_path):
    systemd.add('demo.timer', active=False, file_state='disabled')
    result = bundle_with(run_module, [dict(path=str(tmp_path / 'f'), content='x\n')],
                         [dict(name='demo.timer', enabled=True, state='started')], check=True)
    assert result['changed'] is True and result['service_actions'] == ['enable demo.timer', 'start demo.timer']
    assert systemd.verbs() == ['show']


@pytest.mark.parametrize('name', ['ssh', '../x.service', 'a/b.timer'])
def test_a_unit_name_without_suffix_is_refused(run_module, systemd, tmp_path, name):
    with pytest.raises(ModuleFail) as failure:
        bundle_with(run_module, [dict(path=str(tmp_path / 'f'), content='x\n')], [dict(name=name, state='started')])
    assert 'services:' in failure.value.result['msg'] and 'unit name' in failure.value.result['msg']
    assert not (tmp_path / 'f').exists()
