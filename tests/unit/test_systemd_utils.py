"""module_utils/systemd: systemctl through run_command, the show parser, and its errors."""

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.systemd import (
    by_name, daemon_reload, is_active, is_enabled, parse_systemctl_show, run_systemctl, show, unit_action,
)

from .conftest import ModuleFail


class FakeModule:
    def __init__(self, results=None):
        self.calls = []
        self.results = list(results or [])

    def get_bin_path(self, name, required=False):
        return '/usr/bin/' + name

    def run_command(self, args, environ_update=None):
        self.calls.append((args, environ_update))
        return self.results.pop(0) if self.results else (0, '', '')

    def fail_json(self, msg, **kwargs):
        raise ModuleFail(dict(kwargs, msg=msg))


def test_commands_run_in_the_c_locale():
    module = FakeModule()
    daemon_reload(module, 'x')
    unit_action(module, 'try-restart', ['a.service', 'b.service'], 'x')
    assert module.calls == [(['/usr/bin/systemctl', 'daemon-reload'], {'LC_ALL': 'C'}),
                            (['/usr/bin/systemctl', 'try-restart', '--', 'a.service', 'b.service'], {'LC_ALL': 'C'})]


def test_a_failure_names_the_command_its_error_and_what_to_do():
    module = FakeModule([(1, '', 'Access denied\n')])
    with pytest.raises(ModuleFail) as failed:
        run_systemctl(module, ['daemon-reload'], 'Run it by hand.')
    assert failed.value.result['msg'] == 'systemctl daemon-reload failed (rc=1): Access denied. Run it by hand.'


def test_show_parses_blocks_and_names():
    out = 'Id=a.service\nNames=a.service alias.service\nActiveState=active\nUnitFileState=static\n\n' \
          'Id=b.slice\nNames=b.slice\nActiveState=inactive\n\nId=a.service\nActiveState=failed\n'
    module = FakeModule([(0, out, '')])
    blocks = show(module, 'Id,Names,ActiveState', ['a.service', 'b.slice'], 'x')
    assert module.calls[0][0] == ['/usr/bin/systemctl', 'show', '--property=Id,Names,ActiveState', '--',
                                  'a.service', 'b.slice']
    assert [b['Id'] for b in blocks] == ['a.service', 'b.slice'] and blocks == parse_systemctl_show(out)
    names = by_name(blocks)
    assert names['alias.service'] is names['a.service'] and sorted(names) == ['a.service', 'alias.service', 'b.slice']
    assert is_active(names['a.service']) and not is_active(names['b.slice'])
    assert is_enabled(names['a.service']) and not is_enabled(names['b.slice'])
