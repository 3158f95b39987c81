"""go_cache through playbooks/go_cache.yml against a real container of each supported platform.

Every bad input stops the run before anything changes; then a converge, a
no-op, drift repaired by the next run, and check mode reporting drift without
touching it. The tests run in file order and share one container. No packages
are installed here (node exporter and alert rules off): the Molecule scenario
covers those.
"""

import json

import pytest

from .conftest import PLATFORMS as ALL_PLATFORMS

# The shared caches, their ACLs and the health check differ by platform (the acl tools, systemd, the
# node exporter's package and paths): on every platform in make test.
PLATFORMS = tuple(ALL_PLATFORMS)

BASE = {
    'go_cache_node_exporter_enabled': False,
    'go_cache_alert_rules_enabled': False,
    'go_cache_go_env_enabled': False,
}
PLAYBOOK = 'playbooks/go_cache.yml'
URL_HOST = 'hooks.secret-team.example.com'  # stands for the secret part of a webhook URL


def untouched(target):
    assert target.sh('getent group gobuilders || true') == ''
    assert target.sh('ls -d /var/cache/go /etc/go-cache /etc/ansible/facts.d/go_cache.fact 2>/dev/null; true') == ''


@pytest.mark.parametrize('extra, message', [
    ({'go_cache_group': 'Go Builders'}, 'go_cache_group "Go Builders" is not a valid group name'),
    ({'go_cache_members': ['ok', 'Not Valid']}, 'go_cache_members has invalid user names: Not Valid.'),
    ({'go_cache_build_dir': 'var/cache/go/build'},
     'go_cache_build_dir must be an absolute path such as /var/cache/go/build, got "var/cache/go/build".'),
    ({'go_cache_mod_dir': '/var/cache/go/build/mod'}, 'must be separate directories, neither inside the other'),
    ({'go_cache_max_bytes': 'lots'}, 'go_cache_max_bytes "lots" is not a size'),
    ({'go_cache_max_bytes': '20 gigs'}, 'go_cache_max_bytes "20 gigs" is not a size'),
    ({'go_cache_webhook_url': 'ftp://%s/hook' % URL_HOST},
     'go_cache_webhook_url must be an http:// or https:// URL (its value is a secret and is not shown here).'),
    ({'go_cache_health_on_calendar': 'every five minutes'},
     'go_cache_health_on_calendar "every five minutes" is not a calendar expression systemd accepts '
     "(systemd-analyze calendar says: Failed to parse calendar specification 'every five minutes'"),
    ({'go_cache_health_on_calendar': '*-*-* 25:00:00'}, 'is not a calendar expression systemd accepts'),
    ({'go_cache_cleanup_low_water_percent': 100}, 'go_cache_cleanup_low_water_percent must be a whole number'),
    ({'go_env_cache': '/var/cache/go/build'},
     "go_env_cache or go_env_modcache names a shared cache of this role (go_cache_build_dir, go_cache_mod_dir). "
     "go.env applies to every account, and only members of gobuilders can write the shared caches: every other "
     "account's go would fail."),
], ids=['group', 'member-name', 'relative-path', 'nested-paths', 'size-word', 'size-unit', 'webhook-scheme',
        'calendar-words', 'calendar-hour', 'low-water', 'go-env-shared-cache'])
@pytest.mark.refusal_matrix
def test_bad_input_stops_before_any_change(target, extra, message):
    result = target.play(dict(BASE, **extra), playbook=PLAYBOOK)
    assert result.failed
    assert message in result.messages()
    assert result.changed == 0
    assert result.result('Fail with every invalid go_cache variable')['failed'] is True
    assert URL_HOST not in json.dumps(result.data) + result.stderr
    untouched(target)


def test_every_error_is_reported_at_once(target):
    result = target.play(dict(BASE, go_cache_group='-bad', go_cache_max_bytes='x', go_cache_mod_dir='mod'),
                         playbook=PLAYBOOK)
    for message in ('go_cache_group "-bad"', 'go_cache_max_bytes "x"', 'go_cache_mod_dir must be an absolute path'):
        assert message in result.messages()
    untouched(target)


def test_a_member_that_does_not_exist_stops_before_any_change(target):
    result = target.play(dict(BASE, go_cache_members=['nosuchuser1']), playbook=PLAYBOOK)
    assert result.failed
    assert 'go_cache_members lists users that do not exist on this host: nosuchuser1' in result.messages()
    untouched(target)


def test_converge_then_nothing_to_do(target):
    first = target.play(BASE, playbook=PLAYBOOK)
    assert not first.failed, first.messages()
    assert first.changed >= 3
    assert target.sh('stat -c "%U %G %a" /var/cache/go/build /var/cache/go/mod') == \
        'root gobuilders 2770\nroot gobuilders 2770'
    assert target.sh('systemctl is-active go-cache-health.timer') == 'active'
    metrics = target.sh('cat /var/lib/prometheus/node-exporter/go_cache.prom')
    assert 'go_cache_bytes{cache="build",path="/var/cache/go/build"}' in metrics
    fact = json.loads(target.sh('cat /etc/ansible/facts.d/go_cache.fact'))
    assert fact['gocache'] == '/var/cache/go/build' and fact['on_calendar'] == '*:0/5'
    again = target.play(BASE, playbook=PLAYBOOK)
    assert not again.failed and again.changed == 0, [name for name, r in again.tasks.items() if r.get('changed')]
    check = 'Fail with every invalid go_cache variable'
    assert first.result(check)['probed'] == ['__go_cache_calendar'], 'a new calendar expression is asked about'
    assert again.result(check)['probed'] == [], 'an accepted calendar expression is not checked again'


def test_check_mode_reports_drift_without_repairing_it(target):
    # The image has no acl package: drop the ACLs the way setfacl -b would, through the xattrs.
    target.sh('mkdir -p /var/cache/go/build/ab && python3 -c "import os; [os.removexattr(\'/var/cache/go/build/ab\', '
              '\'system.posix_acl_\' + n) for n in (\'default\', \'access\')]" '
              '&& chown nobody:nogroup /var/cache/go/build/ab && chmod 00700 /var/cache/go/build/ab')
    result = target.play(BASE, '--check', '--diff', playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    step = result.result('Ensure the caches are 2770')
    assert step['changed'] is True and step['caches'][0]['wrong'] == 1
    assert 'ab: wrong_group, no_setgid, not_group_writable, missing_default_acl, member_cannot_write' in \
        step['diff']['before']
    assert target.sh('stat -c "%U %a" /var/cache/go/build/ab') == 'nobody 700'


def test_drift_is_repaired_then_reported_healthy(target):
    target.sh('chmod 0755 /var/cache/go/mod && touch /var/cache/go/build/ab/x && chmod 0600 /var/cache/go/build/ab/x')
    result = target.play(BASE, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    step = result.result('Ensure the caches are 2770')
    assert [c['repaired'] for c in step['caches']] == [2, 1]
    assert target.sh('python3 -c "import os; print(os.getxattr(\'/var/cache/go/build/ab\', '
                     '\'system.posix_acl_default\').hex())"') != ''
    assert target.sh('stat -c "%U %G %a" /var/cache/go/build/ab /var/cache/go/mod') == \
        'nobody gobuilders 2770\nroot gobuilders 2770'
    # The handler ran the health check after the repair: the metrics say so already.
    metrics = target.sh('grep "^go_cache_permission_problems" /var/lib/prometheus/node-exporter/go_cache.prom')
    assert metrics and all(line.endswith(' 0') for line in metrics.splitlines()), metrics
    assert target.play(BASE, playbook=PLAYBOOK).changed == 0


def test_health_check_off_stops_and_disables_the_timer_then_on_again(target):
    off = target.play(dict(BASE, go_cache_health_enabled=False), playbook=PLAYBOOK)
    assert not off.failed, off.messages()
    step = off.go_cache_bundle()
    assert step['service_actions'] == ['disable go-cache-health.timer', 'stop go-cache-health.timer'], step
    assert target.sh('systemctl is-active go-cache-health.timer || true') == 'inactive'
    assert target.sh('systemctl is-enabled go-cache-health.timer || true') == 'disabled'
    assert target.play(dict(BASE, go_cache_health_enabled=False), playbook=PLAYBOOK).changed == 0
    on = target.play(BASE, playbook=PLAYBOOK)
    assert on.go_cache_bundle()['service_actions'] == ['enable go-cache-health.timer',
                                                                        'start go-cache-health.timer']
    assert target.sh('systemctl is-active go-cache-health.timer') == 'active'
    assert target.sh('systemctl is-enabled go-cache-health.timer') == 'enabled'


def test_a_changed_timer_unit_is_reloaded_and_restarted(target):
    result = target.play(dict(BASE, go_cache_health_on_calendar='*:0/10'), playbook=PLAYBOOK)
    step = result.go_cache_bundle()
    assert '/etc/systemd/system/go-cache-health.timer' in step['changed_paths']
    assert step['daemon_reloaded'] is True and step['service_actions'] == ['restart go-cache-health.timer']
    assert target.sh('systemctl show -p TimersCalendar --value go-cache-health.timer').count('*-*-* *:00/10:00') == 1
    assert target.play(dict(BASE, go_cache_health_on_calendar='*:0/10'), playbook=PLAYBOOK).changed == 0
