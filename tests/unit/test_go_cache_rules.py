"""module_utils/go_cache_rules.py: the go_cache role's check (through the go_cache_errors filter) and the
go_cache_perms module's path and name rules are one set of functions."""

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.filter.go_cache import FilterModule
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_cache_rules import (
    cache_errors, settings_errors, size_bytes)

from .conftest import ROOT

DEFAULTS = yaml.safe_load((ROOT / 'roles/go_cache/defaults/main.yml').read_text())
URL_HOST = 'hooks.secret-team.example.com'


def errors(**changes):
    return settings_errors(dict(DEFAULTS, **dict({'go_env_cache': '', 'go_env_modcache': ''}, **changes)))


def test_the_defaults_are_valid():
    assert errors() == []


@pytest.mark.parametrize('changes, message', [
    ({'go_cache_group': 'Go Builders'}, 'go_cache_group "Go Builders" is not a valid group name'),
    ({'go_cache_members': ['ok', 'Not Valid']}, 'go_cache_members has invalid user names: Not Valid.'),
    ({'go_cache_build_dir': 'var/cache/go/build'},
     'go_cache_build_dir must be an absolute path such as /var/cache/go/build, got "var/cache/go/build".'),
    ({'go_cache_build_dir': '/var/cache/go/../build'}, 'go_cache_build_dir must be a normal absolute path'),
    ({'go_cache_mod_dir': '/var/cache/go/build/mod'},
     'go_cache_build_dir and go_cache_mod_dir must be separate directories, neither inside the other.'),
    ({'go_cache_max_bytes': 'lots'}, 'go_cache_max_bytes "lots" is not a size'),
    ({'go_cache_mod_max_bytes': '20 gigs'}, 'go_cache_mod_max_bytes "20 gigs" is not a size'),
    ({'go_cache_webhook_url': 'ftp://%s/hook' % URL_HOST},
     'go_cache_webhook_url must be an http:// or https:// URL (its value is a secret and is not shown here).'),
    ({'go_cache_webhook_retries': 11}, 'go_cache_webhook_retries must be a whole number from 0 to 10.'),
    ({'go_cache_cleanup_low_water_percent': 100}, 'go_cache_cleanup_low_water_percent must be a whole number'),
    ({'go_cache_metrics_dir': 'metrics'}, 'go_cache_metrics_dir must be an absolute path, got "metrics".'),
    ({'go_cache_alert_rules_path': '/etc/prometheus/rules/'}, 'go_cache_alert_rules_path must be an absolute file'),
    ({'go_cache_go_binary': 'go'}, 'go_cache_go_binary must be an absolute path, got "go".'),
    ({'go_cache_alert_space_ratio': 1.5}, 'must be ratios between 0 and 1'),
    ({'go_cache_alert_stale_seconds': 59}, 'go_cache_alert_stale_seconds must be a whole number of seconds'),
    ({'go_env_cache': '/var/cache/go/build'},
     "go_env_cache or go_env_modcache names a shared cache of this role (go_cache_build_dir, go_cache_mod_dir). "
     "go.env applies to every account, and only members of gobuilders can write the shared caches: every other "
     "account's go would fail."),
])
def test_each_bad_value_is_named(changes, message):
    found = errors(**changes)
    assert len(found) == 1 and message in found[0], found
    assert URL_HOST not in ' '.join(found)


TOKEN = 's3cr3t-fleet-token'  # noqa: S105 - a test value, checked never to appear in a message
FLEET = 'https://go-cache.example.com:8443/'


@pytest.mark.parametrize('changes, message', [
    ({'go_cache_remote_url': 'ftp://go-cache.example.com/'}, 'go_cache_remote_url must be an http:// or https://'),
    ({'go_cache_remote_url': 'https://ci:%s@go-cache.example.com/' % TOKEN},
     'got a URL with credentials, a query or a fragment (not shown)'),
    ({'go_cache_remote_url': 'https://go-cache.example.com/?token=%s' % TOKEN}, 'without credentials, a query'),
    ({'go_cache_remote_url': FLEET, 'go_cache_health_enabled': False}, 'needs the health check to clean'),
    ({'go_cache_remote_url': FLEET, 'go_cache_cleanup_method': 'none'}, 'needs the health check to clean'),
    ({'go_cache_remote_url': FLEET, 'go_cache_max_bytes': '0'}, 'needs the health check to clean'),
    ({'go_cache_remote_url': FLEET, 'go_cache_go_env_enabled': False},
     'go_cache_remote_url needs go_cache_go_env_enabled'),
    ({'go_cache_remote_url': FLEET, 'go_cache_go_env_enabled': 'False'},
     'go_cache_remote_url needs go_cache_go_env_enabled'),
    ({'go_cache_remote_url': FLEET, 'go_cache_remote_token': TOKEN + ' \nX-Evil: 1'},
     'go_cache_remote_token must be one line of printable characters without spaces'),
    ({'go_cache_remote_token': TOKEN}, 'go_cache_remote_token is set but go_cache_remote_url is empty'),
    ({'go_cache_remote_timeout': 0}, 'go_cache_remote_timeout must be a number of seconds over 0'),
    ({'go_cache_remote_timeout': 'soon'}, 'go_cache_remote_timeout must be a number of seconds over 0'),
    ({'go_cache_remote_timeout': 61}, 'at most 60, got "61"'),
    ({'go_cache_remote_concurrency': 0}, 'go_cache_remote_concurrency must be a whole number from 1 to 64'),
    ({'go_cache_remote_concurrency': '8.5'}, 'go_cache_remote_concurrency must be a whole number from 1 to 64'),
])
def test_each_bad_fleet_cache_value_is_named_and_the_token_never_shown(changes, message):
    found = errors(**changes)
    assert len(found) == 1 and message in found[0], found
    assert TOKEN not in ' '.join(found)


def test_a_fleet_cache_with_a_token_is_valid():
    assert errors(go_cache_remote_url=FLEET, go_cache_remote_token=TOKEN, go_cache_remote_read_only=True,
                  go_cache_remote_timeout=0.5, go_cache_remote_concurrency='16') == []
    assert errors(go_cache_remote_url='http://10.0.0.7:8080') == []


def test_every_error_at_once():
    found = errors(go_cache_group='-bad', go_cache_max_bytes='x', go_cache_mod_dir='mod')
    assert [m.split(' ')[0] for m in found] == ['go_cache_group', 'go_cache_mod_dir', 'go_cache_max_bytes']


def test_the_calendar_is_judged_by_what_systemd_said():
    said = {'rc': 1, 'stderr': "Failed to parse calendar specification 'every five minutes': Invalid argument\n"}
    found = settings_errors(dict(DEFAULTS, go_cache_health_on_calendar='every five minutes'), said)
    assert found == ['go_cache_health_on_calendar "every five minutes" is not a calendar expression systemd accepts '
                     "(systemd-analyze calendar says: Failed to parse calendar specification 'every five minutes': "
                     'Invalid argument). Examples: "*:0/5" (every 5 minutes), "hourly", "*-*-* 02:30:00".']
    assert settings_errors(DEFAULTS, {'skipped': True}) == []
    assert settings_errors(DEFAULTS, {'rc': 0, 'stdout': 'ok'}) == []


def test_the_module_and_the_role_share_the_cache_path_rules():
    assert cache_errors([('var/cache/go', 'caches[].path', 'build')]) == [
        'caches[].path must be an absolute path such as /var/cache/go/build, got "var/cache/go".']
    assert cache_errors([('/srv/go', 'a', 'build'), ('/srv/go', 'b', 'mod')]) == [
        'a and b must be separate directories, neither inside the other.']
    assert cache_errors([('/srv/go-build', 'a', 'build'), ('/srv/go', 'b', 'mod')]) == []


@pytest.mark.parametrize('value, expected', [
    ('20G', 20 * 1024 ** 3), ('512M', 512 * 1024 ** 2), ('20GiB', 20 * 1024 ** 3), ('1 K', 1024),
    (21474836480, 21474836480), ('0', 0), ('5B', 5), ('lots', 0), ('20 gigs', 0),
])
def test_sizes_in_bytes(value, expected):
    assert size_bytes(value) == expected


def test_the_filters_are_the_functions():
    filters = FilterModule().filters()
    assert filters['go_cache_bytes']('256M') == 256 * 1024 ** 2
    assert filters['go_cache_errors'](dict(DEFAULTS, go_env_cache='', go_env_modcache='')) == []
