"""module_utils/go_cache_server_rules.py: the go_cache_server role's check, through its filter; no message shows
a token."""

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.filter.go_cache_server import FilterModule

from .conftest import ROOT

DEFAULTS = yaml.safe_load((ROOT / 'roles/go_cache_server/defaults/main.yml').read_text())
WRITE = 'w' * 8 + '0123456789abcdef'  # noqa: S105 - test values, checked never to appear in a message
READ = 'r' * 8 + '0123456789abcdef'


def errors(**changes):
    settings = dict(DEFAULTS, **dict({'go_cache_server_write_tokens': [WRITE]}, **changes))
    found = FilterModule().filters()['go_cache_server_errors'](settings)
    assert WRITE not in ' '.join(found) and READ not in ' '.join(found)
    return found


def test_the_defaults_with_a_write_token_are_valid():
    assert errors() == []
    assert errors(go_cache_server_read_tokens=[READ], go_cache_server_listen_address='10.0.0.7',
                  go_cache_server_max_bytes=53687091200, go_cache_server_port='9090') == []


@pytest.mark.parametrize('changes, message', [
    ({'go_cache_server_dir': 'var/cache/x'}, 'go_cache_server_dir must be an absolute path'),
    ({'go_cache_server_dir': '/var/cache/../x'}, 'go_cache_server_dir must be a normal absolute path'),
    ({'go_cache_server_port': 0}, 'go_cache_server_port must be a TCP port from 1 to 65535, got "0"'),
    ({'go_cache_server_port': 'http'}, 'go_cache_server_port must be a TCP port'),
    ({'go_cache_server_listen_address': '10.0.0.7; evil'}, 'go_cache_server_listen_address must be empty'),
    ({'go_cache_server_max_bytes': 'lots'}, 'go_cache_server_max_bytes "lots" is not a size'),
    ({'go_cache_server_max_object_bytes': '0'}, 'go_cache_server_max_object_bytes must be more than 0'),
    ({'go_cache_server_low_water_percent': 100}, 'go_cache_server_low_water_percent must be a whole number'),
    ({'go_cache_server_metrics_dir': 'metrics'}, 'go_cache_server_metrics_dir must be an absolute path'),
    ({'go_cache_server_write_tokens': []}, 'go_cache_server_write_tokens is empty: no client could ever write'),
    ({'go_cache_server_write_tokens': [WRITE + '"; evil']}, 'go_cache_server_write_tokens: token number 1 is not'),
    ({'go_cache_server_write_tokens': ['short']}, 'token number 1 is not 16 to 256 characters'),
    ({'go_cache_server_read_tokens': [READ, 'has space in it...']}, 'go_cache_server_read_tokens: token number 2'),
    ({'go_cache_server_read_tokens': WRITE}, 'go_cache_server_read_tokens must be a list of tokens'),
    ({'go_cache_server_read_tokens': [WRITE]}, 'share a token'),
    ({'go_cache_server_write_tokens': [WRITE, WRITE.upper()]}, 'go_cache_server_write_tokens lists a token twice'),
    ({'go_cache_server_port': 80}, 'go_cache_server_port must be a port of its own, not 80'),
])
def test_each_bad_value_is_named(changes, message):
    found = errors(**changes)
    assert len(found) == 1 and message in found[0], found
