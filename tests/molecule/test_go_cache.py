"""Verify the go_cache role on the real system (Molecule scenario go_cache).

The tests run in file order on each host and build on each other: two members
build through the shared cache, another member prunes the module cache, the
node exporter is scraped, a directory is broken on purpose and reported, and an
overfilled cache is trimmed by the next timer run.
"""

import base64
import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')

pytestmark = pytest.mark.skipif(os.environ.get('MOLECULE_SCENARIO_NAME', 'go_cache') != 'go_cache',
                                reason='needs the fixtures of molecule/go_cache')

ROOT = Path(__file__).resolve().parents[2]
BUILD = '/var/cache/go/build'
MOD = '/var/cache/go/mod'
GROUP = 'gobuilders'
MAX_BYTES = 256 * 1024 * 1024
RULES = '/etc/prometheus/rules/go_cache.rules.yml'
WEBHOOK_RECORD = '/srv/webhook/requests.jsonl'
METRIC_LINE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')
COMPILE_STEP = re.compile(r'/pkg/tool/linux_[a-z0-9]+/compile ')
DOCUMENTED = ('go_cache_bytes', 'go_cache_files', 'go_cache_fs_inodes_used_ratio', 'go_cache_fs_bytes_used_ratio',
              'go_cache_oldest_entry_age_seconds', 'go_cache_permission_problems',
              'go_cache_cleanup_freed_bytes_total', 'go_cache_last_run_timestamp_seconds')


def as_user(host, user, script):
    """Run a bash script as user, with umask 077: the default ACL, not the umask, must decide."""
    return host.run('sudo -u %s -H bash -c %s' % (user, shlex.quote('umask 077; ' + script)))


def scrape(host):
    """{(name, frozenset(labels)): value} of the go_cache_* series the real node exporter serves."""
    text = host.check_output(
        "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:9100/metrics\", "
        "timeout=10).read().decode())'")
    series = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if not match or not match.group('name').startswith('go_cache_'):
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group('labels') or ''))
        series[(match.group('name'), labels)] = float(match.group('value'))
    return text, series


def value(series, name, **labels):
    return series[(name, frozenset(labels.items()))]


def problems(series, cache):
    return dict((dict(labels)['problem'], v) for (name, labels), v in series.items()
                if name == 'go_cache_permission_problems' and dict(labels)['cache'] == cache)


def run_health_check(host):
    """One run of the health check that starts now. `start` would join a run the timer began before
    the test changed the cache, and report what it saw then; `restart` ends such a run first."""
    host.check_output('systemctl restart go-cache-health.service')


def webhook_messages(host):
    return [json.loads(line) for line in host.file(WEBHOOK_RECORD).content_string.splitlines() if line.strip()]


def test_cache_directories_are_shared_with_the_group(host):
    for path in (BUILD, MOD):
        directory = host.file(path)
        assert (directory.user, directory.group, directory.mode) == ('root', GROUP, 0o2770)
        acl = host.check_output('getfacl --omit-header --absolute-names %s' % path).splitlines()
        for entry in ('group:%s:rwx' % GROUP, 'mask::rwx', 'other::---', 'default:user::rwx', 'default:group::rwx',
                      'default:group:%s:rwx' % GROUP, 'default:mask::rwx', 'default:other::---'):
            assert entry in acl, (path, acl)


def test_members_are_in_the_group(host):
    for user in ('builder', 'builder2'):
        assert GROUP in host.check_output('id -nG %s' % user).split()


def test_every_toolchain_points_at_the_shared_caches(host):
    out = as_user(host, 'builder', 'go env GOCACHE GOMODCACHE GOFLAGS')
    assert out.rc == 0, out.stderr
    assert out.stdout.split('\n')[:3] == [BUILD, MOD, '-modcacherw']


def test_second_member_builds_from_the_cache_without_permission_errors(host):
    clean = as_user(host, 'builder', 'go clean -cache')
    assert clean.rc == 0, clean.stderr
    first = as_user(host, 'builder', 'cd /srv/hello && go build -x -o /tmp/hello-builder . 2>&1')
    second = as_user(host, 'builder2', 'cd /srv/hello && go build -x -o /tmp/hello-builder2 . 2>&1')
    assert first.rc == 0 and second.rc == 0, first.stdout[-2000:] + second.stdout[-2000:]
    assert COMPILE_STEP.search(first.stdout), 'the first build compiled nothing: was the cache not cleaned?'
    assert not COMPILE_STEP.search(second.stdout), 'the second member compiled again:\n' + '\n'.join(
        line for line in second.stdout.splitlines() if COMPILE_STEP.search(line))[:2000]
    for out in (clean, first, second):
        assert 'permission denied' not in (out.stdout + out.stderr).lower()
    assert as_user(host, 'builder2', '/tmp/hello-builder2').stdout.strip() == 'hello from the shared cache'
    # builder's umask was 077, yet every entry it wrote is group-writable, thanks to the default ACL.
    assert host.check_output('find %s -user builder | head -1' % BUILD) != ''
    assert host.check_output('find %s ! -perm -g+w | head -5' % BUILD) == ''


def test_another_member_prunes_the_module_cache(host):
    download = as_user(host, 'builder', 'cd /tmp && GOPROXY=file:///srv/goproxy GOSUMDB=off '
                                        'go mod download -x example.com/greet@v1.0.0 2>&1')
    assert download.rc == 0, download.stdout
    module_dir = '%s/example.com/greet@v1.0.0' % MOD
    assert host.file(module_dir + '/greet.go').exists
    # -modcacherw (from go.env): directories stay group-writable, files stay read-only as Go wants.
    assert host.check_output('find %s -type d ! -perm -g+w | head -5' % MOD) == ''
    assert host.file(module_dir + '/greet.go').mode & 0o222 == 0
    prune = as_user(host, 'builder2', 'rm -rf %s %s/cache/download/example.com 2>&1' % (module_dir, MOD))
    assert prune.rc == 0 and 'permission denied' not in prune.stdout.lower(), prune.stdout
    assert not host.file(module_dir).exists


def test_node_exporter_serves_plausible_metrics(host):
    run_health_check(host)
    text, series = scrape(host)
    for name in DOCUMENTED:
        assert '# HELP %s ' % name in text and '# TYPE %s ' % name in text, name
    now = float(host.check_output('date +%s.%N'))
    build = dict(cache='build', path=BUILD)
    assert value(series, 'go_cache_bytes', **build) > 1024 * 1024
    assert value(series, 'go_cache_files', **build) > 10
    assert value(series, 'go_cache_max_bytes', **build) == MAX_BYTES
    assert value(series, 'go_cache_bytes', cache='mod', path=MOD) > 0
    for cache, path in (('build', BUILD), ('mod', MOD)):
        for ratio in ('go_cache_fs_bytes_used_ratio', 'go_cache_fs_inodes_used_ratio'):
            assert 0 < value(series, ratio, cache=cache, path=path) < 1
        assert problems(series, cache) and not any(problems(series, cache).values()), problems(series, cache)
    oldest = value(series, 'go_cache_oldest_entry_age_seconds', **build)
    newest = value(series, 'go_cache_newest_entry_age_seconds', **build)
    assert 0 <= newest <= oldest < 3600
    assert value(series, 'go_cache_cleanup_freed_bytes_total', **build) == 0
    assert now - 120 < value(series, 'go_cache_last_run_timestamp_seconds') <= now + 1


def test_timer_runs_on_the_configured_calendar(host):
    timer = host.check_output('systemctl show go-cache-health.timer -p ActiveState -p UnitFileState -p TimersCalendar')
    assert 'ActiveState=active' in timer and 'UnitFileState=enabled' in timer
    assert '*-*-* *:*:00/20' in timer


def test_alert_rules_pass_promtool_check_and_unit_tests(host):
    assert host.run('promtool check rules %s' % RULES).rc == 0
    tests = (ROOT / 'tests/prometheus/go_cache_rules_test.yml').read_bytes()
    host.check_output('mkdir -p /tmp/rules-test && cp %s /tmp/rules-test/go_cache.rules.yml' % RULES)
    host.check_output('echo %s | base64 -d > /tmp/rules-test/test.yml' % base64.b64encode(tests).decode())
    result = host.run('promtool test rules /tmp/rules-test/test.yml')
    assert result.rc == 0, result.stdout + result.stderr
    assert host.service('prometheus').is_enabled is False  # only promtool was wanted


def test_broken_directory_is_reported_once_by_metrics_and_webhook(host):
    assert webhook_messages(host) == [], 'a healthy host sent webhook messages'
    uid = host.user('builder2').uid
    subdir = '%s/%s' % (BUILD, host.check_output('ls %s | grep -E "^[0-9a-f]{2}$" | head -1' % BUILD))
    saved = host.check_output('getfacl --absolute-names %s' % subdir)
    # What a member with umask 077 and no default ACL would leave behind.
    host.check_output('setfacl -b {0} && chown builder2:builder2 {0} && chmod 00700 {0}'.format(subdir))
    try:
        run_health_check(host)
        _text, series = scrape(host)
        found = problems(series, 'build')
        for problem in ('wrong_group', 'no_setgid', 'not_group_writable', 'missing_default_acl', 'member_cannot_write'):
            assert found[problem] >= 1, found
        run_health_check(host)  # the same condition again: no second message
        messages = webhook_messages(host)
        assert len(messages) == 1, messages
        message = messages[0]
        assert message['path'] == '/hooks/go-cache' and message['content_type'] == 'application/json'
        payload = message['json']
        assert BUILD in payload['text'] and 'permission problems' in payload['text']
        attachment = payload['attachments'][0]
        fields = dict((f['title'], f['value']) for f in attachment['fields'])
        assert fields['Host'] and fields['Cache'].startswith(BUILD)
        assert fields['Affected UID'].startswith('%d (builder2)' % uid)
        assert 'bytes' in fields['Size']
        snapshot = host.check_output('ls -ldL %s' % BUILD)
        assert '$ ls -ldL %s\n%s' % (BUILD, snapshot) in attachment['text']
    finally:
        host.check_output('setfacl --restore=- <<"EOF"\n%s\nEOF' % saved)
    run_health_check(host)
    messages = webhook_messages(host)
    assert len(messages) == 2 and 'resolved' in messages[1]['json']['text'], messages[1:]
    _text, series = scrape(host)
    assert not any(problems(series, 'build').values())


def test_next_timer_run_trims_an_overfilled_cache(host):
    subdirs = host.check_output('ls %s | grep -E "^[0-9a-f]{2}$" | head -4' % BUILD).split()
    fill = []
    for number in range(24):  # 24 x 16 MiB = 384 MiB of entries unused for three days, over the 256 MiB limit
        name = '%s/%s/%064x-d' % (BUILD, subdirs[number % len(subdirs)], number)
        fill.append('dd if=/dev/zero of={0} bs=1M count=16 status=none && touch -d "3 days ago" {0}'.format(name))
    host.check_output(' && '.join(fill))
    filled = float(host.check_output('date +%s'))
    assert int(host.check_output('du -sB1 %s' % BUILD).split()[0]) > MAX_BYTES
    deadline = time.time() + 75
    while True:
        _text, series = scrape(host)
        if value(series, 'go_cache_last_run_timestamp_seconds') > filled + 1:
            break
        assert time.time() < deadline, 'the timer did not run the health check within 75 s'
        time.sleep(3)
    used = int(host.check_output('du -sB1 %s' % BUILD).split()[0])
    assert used <= MAX_BYTES * 0.8 + 16 * 1024 * 1024, used
    assert value(series, 'go_cache_bytes', cache='build', path=BUILD) <= MAX_BYTES
    assert value(series, 'go_cache_cleanup_freed_bytes_total', cache='build', path=BUILD) >= 100 * 1024 * 1024
    # The timer may have run again since (nothing left to trim then): take the run that cleaned up. Under
    # load the timer can also fire while the filler is still being written, so the trim can span two runs.
    lines = host.check_output('journalctl -u go-cache-health.service -o cat --no-pager | grep "^{"').splitlines()
    cleanups = [c for c in (json.loads(line)['caches']['build']['cleanup'] for line in lines) if c]
    trims = []
    for cleanup in reversed(cleanups):  # the trailing trims: the ones this test's filler caused
        if cleanup['method'] != 'trim':
            break
        trims.append(cleanup)
    assert trims and trims[0]['reached_low_water'], cleanups
    assert sum(c['freed_bytes'] for c in trims) >= 100 * 1024 * 1024, cleanups
    # Oldest first: the entries of the builds above were newer than the filler, so they survived.
    rebuild = as_user(host, 'builder2', 'cd /srv/hello && go build -x -o /tmp/hello-again . 2>&1')
    assert rebuild.rc == 0 and not COMPILE_STEP.search(rebuild.stdout), rebuild.stdout[-2000:]
