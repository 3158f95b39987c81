"""sysctl_profile against a fake /proc/sys tree and fake sysctl.d directories in a temporary directory."""

import importlib
import errno
import fcntl
import json
import os
import re
import stat

import pytest
from ansible.module_utils import basic

from .conftest import ModuleFail

SYSCTL = importlib.import_module('ansible_collections.go_buildhost.buildhost.plugins.module_utils.sysctl_conf')

DEFAULTS = {
    'vm.swappiness': 10,
    'fs.inotify.max_user_watches': 524288,
    'fs.inotify.max_user_instances': 1024,
    'net.core.somaxconn': 65535,
    'net.ipv4.tcp_max_syn_backlog': 65535,
}

# path below /proc/sys: (what the kernel prints, mode)
KERNEL = {
    'vm/swappiness': ('60\n', 0o644),
    'fs/inotify/max_user_watches': ('8192\n', 0o644),
    'fs/inotify/max_user_instances': ('128\n', 0o644),
    'net/core/somaxconn': ('4096\n', 0o644),
    'net/ipv4/tcp_max_syn_backlog': ('512\n', 0o644),
    'net/ipv4/ip_local_port_range': ('32768\t60999\n', 0o644),
    'net/ipv4/conf/eth0.100/rp_filter': ('1\n', 0o644),
    'kernel/perf_event_paranoid': ('2\n', 0o644),
    'kernel/kptr_restrict': ('1\n', 0o644),
    'kernel/core_pattern': ('core\n', 0o644),
    'fs/file-nr': ('1024\t0\t9223372036854775807\n', 0o444),
    'vm/drop_caches': ('', 0o200),
}
ORIGINAL = {'vm.swappiness': '60', 'fs.inotify.max_user_watches': '8192', 'fs.inotify.max_user_instances': '128',
            'net.core.somaxconn': '4096', 'net.ipv4.tcp_max_syn_backlog': '512'}
HEADER = '#\n# Ansible managed\n#\n# go-buildhost role sysctl_tuning\n'
DIRS = ('etc/sysctl.d', 'run/sysctl.d', 'usr/local/lib/sysctl.d', 'usr/lib/sysctl.d')


@pytest.fixture
def env(tmp_path, run_module, monkeypatch):
    proc = tmp_path / 'proc/sys'
    for path, (text, mode) in KERNEL.items():
        (proc / path).parent.mkdir(parents=True, exist_ok=True)
        (proc / path).write_text(text)
        (proc / path).chmod(mode)
    for directory in DIRS:
        (tmp_path / directory).mkdir(parents=True)

    class Env:
        root = tmp_path
        conf = tmp_path / 'etc/sysctl.d/60-go-buildhost.conf'
        state = tmp_path / 'var/lib/go-buildhost/sysctl_tuning.state.json'
        fact = tmp_path / 'facts.d/sysctl_tuning.fact'
        container = (False, None)
        readonly = set()     # dotted keys whose file cannot be opened for writing (a read-only mount)
        refuse = {}          # dotted key -> errno the fake kernel answers a write with
        clamp = {}           # (dotted key, value written) -> what the fake kernel stores instead
        writes = []

        def base(self, **extra):
            args = {'defaults': DEFAULTS, 'header': HEADER, 'path': str(self.conf), 'state_path': str(self.state),
                    'fact_path': str(self.fact), 'proc_root': str(proc),
                    'lock_path': str(tmp_path / 'run/go-buildhost.lock'),
                    'sysctl_dirs': [str(tmp_path / d) for d in DIRS]}
            args.update(extra)
            return args

        def run(self, check=False, diff=False, **extra):
            return run_module('sysctl_profile', self.base(**extra), check=check, diff=diff)

        def live(self, dotted):
            _d, path = SYSCTL.normalize_key(dotted)
            return ' '.join((proc / path).read_text().split())

        def snapshot(self):
            files = {p: p.read_bytes() for p in (self.conf, self.state, self.fact) if p.exists()}
            return files, {k: self.live(k) for k in ORIGINAL}

    env = Env()

    def dotted_of(full):
        return os.path.relpath(full, proc).translate(str.maketrans('/.', './'))

    def fake_write(full, value):
        key = dotted_of(full)
        if key in env.refuse:
            raise OSError(env.refuse[key], os.strerror(env.refuse[key]))
        env.writes.append((key, value))
        with open(full, 'w') as handle:
            handle.write(env.clamp.get((key, value), value) + '\n')

    monkeypatch.setattr(SYSCTL, 'write_live', fake_write)
    monkeypatch.setattr(SYSCTL, 'is_writable', lambda full: dotted_of(full) not in env.readonly)
    monkeypatch.setattr(SYSCTL, 'detect_container', lambda proc_root, run_command=None: env.container)
    env.warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, text: env.warnings.append(text))
    return env


def test_fresh_apply_writes_file_state_fact_and_live_then_noop(env):
    result = env.run()
    assert result['changed'] is True
    assert result['applied'] == sorted(DEFAULTS)
    assert env.conf.read_text() == HEADER + (
        'fs.inotify.max_user_instances = 1024\n'
        'fs.inotify.max_user_watches = 524288\n'
        'net.core.somaxconn = 65535\n'
        'net.ipv4.tcp_max_syn_backlog = 65535\n'
        'vm.swappiness = 10\n')
    assert stat.S_IMODE(env.conf.stat().st_mode) == 0o644
    assert {k: env.live(k) for k in DEFAULTS} == {k: str(v) for k, v in DEFAULTS.items()}
    state = json.loads(env.state.read_text())
    assert state == {'version': 1, 'path': str(env.conf), 'original': ORIGINAL}
    assert stat.S_IMODE(env.state.stat().st_mode) == 0o600
    fact = json.loads(env.fact.read_text())
    assert fact['live'] == sorted(DEFAULTS) and fact['pending'] == {} and fact['container'] is None
    assert result['keys']['vm.swappiness'] == {'value': '10', 'file_before': None, 'live_before': '60',
                                               'live_after': '10', 'status': 'applied'}

    env.writes.clear()
    again = env.run()
    assert again['changed'] is False and again['actions'] == [] and again['applied'] == []
    assert env.writes == []
    assert again['keys']['vm.swappiness'] == {'value': '10', 'file_before': '10', 'live_before': '10',
                                              'live_after': '10', 'status': 'unchanged'}


def test_check_mode_reports_everything_and_changes_nothing(env):
    result = env.run(check=True, diff=True)
    assert result['changed'] is True
    assert result['applied'] == sorted(DEFAULTS)
    assert not env.conf.exists() and not env.state.exists() and not env.fact.exists()
    assert env.writes == [] and env.live('vm.swappiness') == '60'
    file_diff, live_diff = result['diff']
    assert file_diff['before'] == '' and 'vm.swappiness = 10\n' in file_diff['after']
    assert 'vm.swappiness = 60\n' in live_diff['before'] and 'vm.swappiness = 10\n' in live_diff['after']


def test_diff_shows_only_what_changes(env):
    env.run()
    result = env.run(diff=True, settings={'vm.swappiness': 20})
    file_diff, live_diff = result['diff']
    assert 'vm.swappiness = 10\n' in file_diff['before'] and 'vm.swappiness = 20\n' in file_diff['after']
    assert 'vm.swappiness = 10\n' in live_diff['before'] and 'vm.swappiness = 20\n' in live_diff['after']
    assert result['applied'] == ['vm.swappiness']
    assert result['actions'][0] == 'set vm.swappiness = 20 (was 10)'


def test_settings_merge_over_defaults_and_null_drops_a_default(env):
    result = env.run(settings={'vm.swappiness': None, 'net/ipv4/ip_local_port_range': '10240 65000',
                               'fs.inotify.max_user_watches': '1048576'})
    text = env.conf.read_text()
    assert 'vm.swappiness' not in text
    assert 'net.ipv4.ip_local_port_range = 10240 65000\n' in text
    assert 'fs.inotify.max_user_watches = 1048576\n' in text
    assert env.live('vm.swappiness') == '60'
    assert env.live('net.ipv4.ip_local_port_range') == '10240 65000'
    assert 'vm.swappiness' not in result['settings']


def test_slash_notation_is_normalised_and_overrides_a_dotted_default(env):
    result = env.run(settings={'vm/swappiness': 20, 'net/ipv4/conf/eth0.100/rp_filter': 2})
    assert result['settings']['vm.swappiness'] == '20'
    assert result['settings']['net.ipv4.conf.eth0/100.rp_filter'] == '2'
    assert 'net.ipv4.conf.eth0/100.rp_filter = 2\n' in env.conf.read_text()
    assert (env.root / 'proc/sys/net/ipv4/conf/eth0.100/rp_filter').read_text() == '2\n'
    assert env.run(settings={'vm/swappiness': 20, 'net.ipv4.conf.eth0/100.rp_filter': 2})['changed'] is False


def test_multi_value_keys_take_a_string_or_a_list(env):
    env.run(settings={'net.ipv4.ip_local_port_range': [10240, 65000]})
    assert env.live('net.ipv4.ip_local_port_range') == '10240 65000'
    assert env.run(settings={'net.ipv4.ip_local_port_range': '10240\t65000 '})['changed'] is False


def test_values_are_written_in_canonical_decimal(env):
    result = env.run(settings={'vm.swappiness': '010', 'kernel.perf_event_paranoid': '-1'})
    assert result['settings']['vm.swappiness'] == '10'
    assert env.live('kernel.perf_event_paranoid') == '-1'


def test_string_settings_are_taken_as_they_are(env):
    env.run(settings={'kernel.core_pattern': '|/usr/lib/systemd/systemd-coredump %P %u'})
    assert 'kernel.core_pattern = |/usr/lib/systemd/systemd-coredump %P %u\n' in env.conf.read_text()


def test_duplicate_keys_with_the_same_value_are_fine(env):
    result = env.run(settings={'vm.swappiness': 20, 'vm/swappiness': '20'})
    assert result['settings']['vm.swappiness'] == '20'


BAD_INPUT = {
    'unknown key': ({'vm.swapiness': 10}, r"vm\.swapiness is not a setting of this kernel \(.*/proc/sys/vm/swapiness "
                                          r"does not exist\)"),
    'non-numeric value': ({'vm.swappiness': 'ten'}, r"vm\.swappiness = 'ten': \"ten\" is not an integer: the kernel "
                                                    r"expects a decimal integer \(it holds \"10\" now\)"),
    'hex value': ({'vm.swappiness': '0x10'}, r'"0x10" is not an integer'),
    'fraction': ({'vm.swappiness': 10.5}, r'10\.5 is a fraction'),
    'boolean (yes, on, true in YAML)': ({'vm.swappiness': True}, r'True is a boolean.*YAML reads on, off'),
    'boolean word': ({'net.core.somaxconn': 'on'}, r'"on" is a boolean word'),
    'key with spaces': ({'vm. swappiness': 10}, r"the key 'vm\. swappiness' contains whitespace"),
    'key with a glob': ({'net.ipv4.conf.*.rp_filter': 1}, r'contains characters a kernel setting never has'),
    'duplicate in dotted and slash form': (
        {'vm.swappiness': 10, 'vm/swappiness': 20},
        r"'vm\.swappiness' and 'vm/swappiness' name the same setting vm\.swappiness but give different values"),
    'too few fields': ({'net.ipv4.ip_local_port_range': 1024},
                       r'"1024" has 1 field, but the kernel holds 2 \("10240 65000"\)'),
    'non-integer field': ({'net.ipv4.ip_local_port_range': 'low high'}, r'not a list of integers.*2 decimal integers'),
    'a group, not a setting': ({'net.ipv4': 1}, r'net\.ipv4 is a group of settings'),
    'read-only statistic': ({'fs.file-nr': '1 0 2'}, r'fs\.file-nr is read-only'),
    'write-only action': ({'vm.drop_caches': 3}, r'vm\.drop_caches is write-only'),
    'a key with one part': ({'swappiness': 10}, r'names no setting'),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUT))
def test_bad_input_is_refused_before_any_change(env, case):
    env.run(settings={'net.ipv4.ip_local_port_range': '10240 65000'})
    before = env.snapshot()
    env.writes.clear()
    settings, message = BAD_INPUT[case]
    with pytest.raises(ModuleFail) as failure:
        env.run(settings=settings)
    msg = failure.value.result['msg']
    assert 'sysctl_tuning_settings' in msg and 'nothing was changed' in msg
    assert re.search(message, msg), msg
    assert env.snapshot() == before and env.writes == []


def test_every_problem_is_listed_in_one_message(env):
    with pytest.raises(ModuleFail, match=r'^3 problems in the kernel settings; nothing was changed: '):
        env.run(settings={'vm.swapiness': 1, 'net.core.somaxconn': True, 'fs.inotify.max_user_watches': 'x'})
    assert not env.conf.exists() and not env.state.exists()


def test_a_default_the_kernel_lacks_can_be_dropped(env):
    (env.root / 'proc/sys/fs/inotify/max_user_instances').unlink()
    with pytest.raises(ModuleFail, match=r"the role default 'fs\.inotify\.max_user_instances'.*set it to null in "
                                         r'sysctl_tuning_settings to drop it'):
        env.run()
    assert env.run(settings={'fs.inotify.max_user_instances': None})['changed'] is True


def test_kernel_refusal_is_relayed_and_rolled_back(env):
    env.refuse['vm.swappiness'] = errno.EINVAL
    with pytest.raises(ModuleFail) as failure:
        env.run(settings={'vm.swappiness': 300})
    msg = failure.value.result['msg']
    assert 'the kernel refused vm.swappiness = 300 (EINVAL: Invalid argument)' in msg
    assert 'Every value written before it was rolled back' in msg and 'nothing was changed' in msg
    # fs.* and net.* sort before vm.*: they were written, then put back.
    assert {k: env.live(k) for k in ORIGINAL} == ORIGINAL
    assert ('net.core.somaxconn', '65535') in env.writes and ('net.core.somaxconn', '4096') in env.writes
    assert not env.conf.exists() and not env.state.exists() and not env.fact.exists()


def test_kernel_refusal_keeps_an_existing_file_and_state(env):
    env.run()
    before = env.snapshot()
    env.refuse['net.core.somaxconn'] = errno.EINVAL
    with pytest.raises(ModuleFail, match=r'net\.core\.somaxconn = -1 \(EINVAL'):
        env.run(settings={'net.core.somaxconn': -1, 'vm.swappiness': 30})
    assert env.snapshot() == before


def test_a_value_the_kernel_clamps_is_an_error(env):
    env.clamp['net.core.somaxconn', '99999999'] = '65535'
    with pytest.raises(ModuleFail, match=r'took net\.core\.somaxconn = 99999999 but reports 65535'):
        env.run(settings={'net.core.somaxconn': 99999999})
    assert env.live('net.core.somaxconn') == '4096' and not env.conf.exists()


def test_container_auto_applies_namespaced_keys_and_reports_the_rest_pending(env):
    env.container = (True, '/.dockerenv exists')
    result = env.run()
    assert result['applied'] == ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog']
    assert sorted(result['pending']) == ['fs.inotify.max_user_instances', 'fs.inotify.max_user_watches',
                                         'vm.swappiness']
    pending = result['pending']['vm.swappiness']
    assert pending['value'] == '10' and pending['live'] == '60'
    assert 'host-wide setting, not written from a container (/.dockerenv exists)' in pending['reason']
    assert env.live('vm.swappiness') == '60' and env.live('net.core.somaxconn') == '65535'
    assert 'vm.swappiness = 10\n' in env.conf.read_text()
    fact = json.loads(env.fact.read_text())
    assert fact['container'] == '/.dockerenv exists'
    assert fact['live'] == ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog']
    assert fact['pending'] == result['pending']
    assert '3 pending (fs.inotify.max_user_instances' in result['msg']
    assert env.warnings == ['Persisted in %s but not in effect here: fs.inotify.max_user_instances = 1024 (now 128), '
                            'fs.inotify.max_user_watches = 524288 (now 8192), vm.swappiness = 10 (now 60): host-wide '
                            'setting, not written from a container (/.dockerenv exists): set it on the container host.'
                            % env.conf]
    assert env.run()['changed'] is False


def test_container_with_read_only_proc_sys(env):
    env.container = (True, '/proc/sys is mounted read-only')
    env.readonly.update(DEFAULTS)
    result = env.run()
    assert result['applied'] == [] and sorted(result['pending']) == sorted(DEFAULTS)
    assert 'cannot be written here' in result['pending']['net.core.somaxconn']['reason']
    assert env.conf.exists() and env.writes == []


def test_always_fails_before_any_change_when_a_key_cannot_be_written(env):
    env.container = (True, '/.dockerenv exists')
    env.readonly.update(['vm.swappiness', 'fs.inotify.max_user_watches', 'fs.inotify.max_user_instances'])
    with pytest.raises(ModuleFail) as failure:
        env.run(apply_live='always')
    msg = failure.value.result['msg']
    assert 'sysctl_tuning_apply_live is always, but vm.swappiness = 10 cannot be applied' in msg
    assert 'in a container (/.dockerenv exists)' in msg and 'nothing was changed' in msg.lower()
    assert env.writes == [] and not env.conf.exists() and not env.state.exists()


def test_always_relays_eperm_and_auto_leaves_it_pending(env):
    env.refuse['net.core.somaxconn'] = errno.EPERM
    with pytest.raises(ModuleFail, match=r'refused net\.core\.somaxconn = 65535 \(EPERM: Operation not permitted\)'):
        env.run(apply_live='always')
    assert {k: env.live(k) for k in ORIGINAL} == ORIGINAL
    result = env.run(apply_live='auto')
    assert 'EPERM' in result['pending']['net.core.somaxconn']['reason']
    assert result['keys']['net.core.somaxconn']['status'] == 'pending'
    assert env.live('vm.swappiness') == '10'


def test_never_only_writes_the_file(env):
    result = env.run(apply_live='never')
    assert result['applied'] == [] and env.writes == []
    assert result['pending']['vm.swappiness']['reason'] == 'sysctl_tuning_apply_live is never'
    assert env.conf.exists() and env.warnings == []


def test_absent_restores_the_values_from_before_the_first_apply(env):
    env.run()
    env.run(settings={'vm.swappiness': 20})
    assert json.loads(env.state.read_text())['original']['vm.swappiness'] == '60'
    check = env.run(check=True, state='absent')
    assert check['changed'] is True and env.conf.exists() and env.live('vm.swappiness') == '20'
    result = env.run(state='absent', diff=True)
    assert result['changed'] is True
    assert {k: env.live(k) for k in ORIGINAL} == ORIGINAL
    assert not env.conf.exists() and not env.state.exists() and not env.fact.exists()
    assert result['keys']['vm.swappiness']['status'] == 'restored'
    assert result['diff'][0]['after'] == ''
    assert env.run(state='absent')['changed'] is False


def test_absent_in_a_container_restores_only_what_it_may(env):
    env.container = (True, '/.dockerenv exists')
    env.run()
    result = env.run(state='absent')
    assert result['applied'] == ['net.core.somaxconn', 'net.ipv4.tcp_max_syn_backlog']
    assert result['pending'] == {} and not env.state.exists()
    assert {k: env.live(k) for k in ORIGINAL} == ORIGINAL


def test_absent_with_never_keeps_the_values_still_to_restore(env):
    env.run()
    result = env.run(state='absent', apply_live='never')
    assert sorted(result['pending']) == sorted(DEFAULTS)
    assert not env.conf.exists()
    assert json.loads(env.state.read_text())['original'] == ORIGINAL
    assert env.run(state='absent')['changed'] is True
    assert {k: env.live(k) for k in ORIGINAL} == ORIGINAL and not env.state.exists()


def test_a_dropped_key_is_restored_and_forgotten(env):
    env.run()
    result = env.run(settings={'vm.swappiness': None})
    assert env.live('vm.swappiness') == '60'
    assert 'restore vm.swappiness = 60 (was 10)' in result['actions']
    assert 'vm.swappiness' not in json.loads(env.state.read_text())['original']
    assert env.run(settings={'vm.swappiness': None})['changed'] is False


def test_renaming_the_file_removes_the_old_one(env):
    env.run()
    new = env.root / 'etc/sysctl.d/61-go-buildhost.conf'
    result = env.run(path=str(new))
    assert result['changed'] is True and new.exists() and not env.conf.exists()
    assert 'remove the previous drop-in %s' % env.conf in result['actions']


def test_a_wrong_mode_is_repaired(env):
    env.run()
    env.conf.chmod(0o600)
    result = env.run()
    assert result['changed'] is True and stat.S_IMODE(env.conf.stat().st_mode) == 0o644


def test_a_damaged_state_file_stops_the_run(env):
    env.state.parent.mkdir(parents=True)
    env.state.write_text('{not json')
    with pytest.raises(ModuleFail, match=r'state file .* is damaged.*nothing was changed'):
        env.run()
    assert not env.conf.exists()


def test_a_header_that_is_not_a_comment_is_refused(env):
    with pytest.raises(ModuleFail, match=r'must be a comment starting with "#"'):
        env.run(header='Ansible managed')


def test_a_file_name_that_systemd_would_skip_is_refused(env):
    with pytest.raises(ModuleFail, match=r'must be a file name ending in \.conf'):
        env.run(path=str(env.root / 'etc/sysctl.d/60-go-buildhost'))


# ---- the shadowed-key report ------------------------------------------------------

def write(env, relative, text):
    path = env.root / relative
    path.write_text(text)
    return str(path)


def test_keys_a_later_file_overrides_are_reported(env):
    debian = write(env, 'etc/sysctl.d/99-sysctl.conf', '# Debian links /etc/sysctl.conf here\nvm.swappiness=30\n')
    vendor = write(env, 'usr/lib/sysctl.d/99-zz-vendor.conf', 'net/core/somaxconn = 1024\n; comment\n')
    write(env, 'run/sysctl.d/70-same.conf', 'fs.inotify.max_user_watches = 524288\n')       # same value
    write(env, 'usr/lib/sysctl.d/10-early.conf', 'vm.swappiness = 1\n')                    # sorted before ours
    write(env, 'etc/sysctl.d/80-local.conf', '# nothing here\n')
    write(env, 'usr/lib/sysctl.d/80-local.conf', 'vm.swappiness = 2\n')                    # hidden by /etc's
    write(env, 'usr/lib/sysctl.d/90-glob.conf',
          'net.ipv4.*.tcp_max_syn_backlog = 1\n-fs.inotify.max_user_instances = 5\n')  # globs never win
    write(env, 'usr/lib/sysctl.d/95-notconf.txt', 'vm.swappiness = 3\n')
    write(env, 'usr/lib/sysctl.d/60-go-buildhost.conf', 'vm.swappiness = 4\n')             # ours in /etc wins
    result = env.run()
    assert result['shadowed'] == {
        'vm.swappiness': [{'path': debian, 'line': 2, 'value': '30'}],
        'net.core.somaxconn': [{'path': vendor, 'line': 1, 'value': '1024'}],
        'fs.inotify.max_user_instances': [{'path': str(env.root / 'usr/lib/sysctl.d/90-glob.conf'), 'line': 2,
                                           'value': '5'}],
    }
    assert any('vm.swappiness = 10 is overridden at boot by %s:2 (30)' % debian in w for w in env.warnings)
    assert json.loads(env.fact.read_text())['shadowed'] == result['shadowed']
    assert 'overridden at boot by a later file' in result['msg']


def test_a_same_named_file_of_higher_precedence_hides_ours(env):
    hider = write(env, 'etc/sysctl.d/60-go-buildhost.conf', 'kernel.core_pattern = core\n')
    ours = env.root / 'run/sysctl.d/60-go-buildhost.conf'
    result = env.run(path=str(ours))
    assert sorted(result['shadowed']) == sorted(DEFAULTS)
    assert result['shadowed']['vm.swappiness'][0]['path'] == hider


def test_a_file_outside_the_sysctl_dirs_gets_a_warning(env):
    env.run(path=str(env.root / 'elsewhere.conf'))
    assert any('not in a directory systemd-sysctl reads' in w for w in env.warnings)


def test_fail_on_shadowed_stops_before_any_change(env):
    write(env, 'etc/sysctl.d/99-sysctl.conf', 'vm.swappiness=30\n')
    with pytest.raises(ModuleFail, match=r'sysctl_tuning_fail_on_shadowed is true.*vm\.swappiness = 10 is '
                                         r'overridden at boot by .*99-sysctl\.conf:1 \(30\).*nothing was changed'):
        env.run(fail_on_shadowed=True)
    assert not env.conf.exists() and env.writes == []


def test_waits_for_the_host_lock_then_names_its_holder(env):
    lock = env.root / 'run/go-buildhost.lock'
    (env.root / 'run/go-buildhost.lock.holder').write_text(json.dumps(
        {'what': 'go_toolchain state=present', 'pid': 4242, 'since': '2026-11-22T07:00:00Z'}))
    with open(lock, 'w') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ModuleFail, match=r'holds .*go-buildhost.lock: go_toolchain state=present \(pid 4242'):
            env.run(lock_timeout=1)
    assert not env.conf.exists() and env.writes == []
    assert env.run()['changed'] is True
    holder = json.loads((env.root / 'run/go-buildhost.lock.holder').read_text())
    assert holder['what'] == 'sysctl_profile state=present path=%s' % env.conf
