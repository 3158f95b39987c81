"""Issue 14, "a clean way back": removal returns a fresh host to what it was before the first run.

A snapshot of the fresh container (metadata of /etc, /usr/local, /var/cache and /var/lib/prometheus,
sha256 of small files, `systemctl list-unit-files`, `getent group`) is compared with the same snapshot
after site.yml and a removal: playbooks/remove.yml on one container, `site.yml -e
go_buildhost_state=absent` with go_cache_remove_caches on a second one, which also installs promtool
(Debian's prometheus package). A second removal changes nothing, and a removal in check mode changes
nothing on the host. The differences that remain are the ones in EXPECTED, each with its reason; the
same list is in docs/operations.md ("Removal"). The tests run in file order.
"""

import fnmatch
import json
import subprocess

import pytest

from .conftest import MIRROR, fresh_target

VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/',
        # Every role writes something: a runner service placed in the slice, a runtime knob in every layer.
        'build_cgroups_services': [{'name': 'fake-runner'}], 'go_env_gogc': 200,
        'build_cgroups_restart_services': True, 'go_cache_members': ['builder']}

# Differences that remain after a removal, each for a reason no role can undo. Exact paths, or a
# directory whose content is listed with its reason; nothing else is tolerated.
EXPECTED = {
    # apt's own caches: the package lists and archives go_cache's apt install fetched.
    '/var/cache/apt/pkgcache.bin': 'apt rebuilds its package cache after apt-get update',
    '/var/cache/apt/srcpkgcache.bin': 'apt rebuilds its source package cache after apt-get update',
    '/var/cache/apt/archives/partial': 'apt-get install (re)creates its download directory',
    '/var/cache/apt/archives/lock': 'apt-get install creates its download lock',
    '/var/cache/apt/archives/*.deb': 'apt keeps the archives it downloaded (apt-get clean empties it), among them '
                                     'python3-apt\'s, which Ansible\'s apt module installs for itself',
    # debconf's database: every package install and purge rewrites it (and keeps the old copy).
    '/var/cache/debconf/config.dat': 'dpkg rewrites debconf\'s database on install and purge',
    '/var/cache/debconf/config.dat-old': 'debconf keeps the previous copy of its database',
    '/var/cache/debconf/templates.dat': 'dpkg rewrites debconf\'s templates on install and purge',
    '/var/cache/debconf/templates.dat-old': 'debconf keeps the previous copy of its templates',
    '/var/cache/debconf/tmp.ci': 'debconf (Debian 13) keeps the empty directory apt-extracttemplates unpacks '
                                 'the packages\' config scripts into',
    # shadow's backups of the group files: groupadd, gpasswd and groupdel save the previous version.
    '/etc/group-': 'groupadd/groupdel keep the previous /etc/group as a backup',
    '/etc/gshadow-': 'groupadd/groupdel keep the previous /etc/gshadow as a backup',
    '/etc/passwd-': 'useradd/userdel (the package\'s system user) keep the previous /etc/passwd as a backup',
    '/etc/shadow-': 'useradd/userdel keep the previous /etc/shadow as a backup',
    # dpkg triggers.
    '/etc/ld.so.cache': 'the ldconfig trigger of the package install and purge rewrites it',
    '/var/cache/ldconfig/aux-cache': 'the ldconfig trigger rewrites its auxiliary cache',
}
# Kept on purpose by the default removal (go_cache_remove_caches: false): the caches, locked to root.
KEPT_CACHES = {'/var/cache/go': 'the caches\' parent, kept with them',
               '/var/cache/go/build': 'the build cache is users\' data: kept, 0700 root:root, no ACL',
               '/var/cache/go/mod': 'the module cache is users\' data: kept, 0700 root:root, no ACL'}

SNAPSHOT = r'''
import grp, hashlib, json, os, pwd, stat, subprocess
out = {}
def name(f, i):
    try:
        return f(i)[0]
    except KeyError:
        return str(i)
for top in ('/etc', '/usr/local', '/var/cache', '/var/lib/prometheus'):
    for root, dirs, files in os.walk(top):
        for entry in [root] + [os.path.join(root, f) for f in files] + [
                os.path.join(root, d) for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                st = os.lstat(entry)
            except OSError:
                continue
            item = {'mode': oct(st.st_mode), 'owner': name(pwd.getpwuid, st.st_uid),
                    'group': name(grp.getgrgid, st.st_gid)}
            if stat.S_ISLNK(st.st_mode):
                item['target'] = os.readlink(entry)
            elif stat.S_ISREG(st.st_mode) and st.st_size <= 1048576:
                with open(entry, 'rb') as handle:
                    item['sha256'] = hashlib.sha256(handle.read()).hexdigest()
            out[entry] = item
units = subprocess.run(['systemctl', 'list-unit-files', '--no-legend', '--no-pager'], capture_output=True,
                       text=True, check=True).stdout
for line in units.splitlines():
    parts = line.split()
    out['unit:' + parts[0]] = {'state': parts[1]}
for line in subprocess.run(['getent', 'group'], capture_output=True, text=True, check=True).stdout.splitlines():
    out['group:' + line.split(':', 1)[0]] = {'entry': line}
print(json.dumps(out))
'''


def failures(result):
    """The failed tasks' messages, loop items included."""
    found = []
    for name, outcome in result.tasks.items():
        if outcome.get('failed'):
            items = [r.get('msg') or r.get('stderr') for r in outcome.get('results', []) if r.get('failed')]
            found.append('%s: %s %s' % (name, outcome.get('msg', ''), items))
    return ' | '.join(found) or result.stderr[-2000:]


def snapshot(target):
    result = subprocess.run(['docker', 'exec', '-i', target.name, 'python3', '-'], input=SNAPSHOT,
                            capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def differences(before, after, allowed):
    """{path: (before, after)} for every entry that differs and is not in allowed (exact paths or patterns)."""
    found = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) and not any(fnmatch.fnmatchcase(key, p) for p in allowed):
            found[key] = (before.get(key), after.get(key))
    return found


def prepare(target):
    """What the fresh host has before the first run: a user to enrol and a runner service."""
    target.sh('useradd --create-home builder')
    target.sh('printf "[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n"'
              ' > /etc/systemd/system/fake-runner.service && systemctl daemon-reload'
              ' && systemctl start fake-runner.service')


@pytest.fixture(scope='module')
def fresh(target):
    prepare(target)
    return snapshot(target)


def converge(target, extra=None):
    result = target.play(dict(VARS, **(extra or {})))
    assert not result.failed, failures(result)
    # Everything the removal has to undo is really there.
    assert target.sh('getent group gobuilders').endswith(':builder')
    assert target.sh('cat /etc/ansible/facts.d/go_cache.fact | python3 -c "import json,sys; '
                     'print(json.load(sys.stdin)[\'installed_packages\'])"') != '[]'
    assert target.sh('systemctl is-enabled go-cache-health.timer') == 'enabled'
    assert 'GOGC' in target.sh('cat /etc/profile.d/go-buildhost-go-runtime.sh')
    assert target.sh('systemctl show -p Slice --value fake-runner.service') == 'gobuild.slice'
    return result


def test_remove_playbook_returns_the_host_to_its_fresh_state(target, fresh):
    converge(target)
    check = target.play({}, '--check', '--diff', playbook='playbooks/remove.yml')
    assert not check.failed, failures(check)
    assert check.changed > 0
    assert target.sh('systemctl is-enabled go-cache-health.timer') == 'enabled', 'check mode changed nothing'
    assert target.sh('getent group gobuilders').startswith('gobuilders:')

    removed = target.play({}, playbook='playbooks/remove.yml')
    assert not removed.failed, failures(removed)
    after = snapshot(target)
    left = differences(fresh, after, set(EXPECTED) | set(KEPT_CACHES))
    assert left == {}, json.dumps(left, indent=1)
    for path in KEPT_CACHES:
        if path != '/var/cache/go':
            assert after[path]['mode'] == '0o40700' and after[path]['group'] == 'root', after[path]
            assert 'posix_acl' not in target.sh('python3 -c "import os; print(os.listxattr(\'%s\'))"' % path)
    # The runner service lost its slice once restarted (no consent to restart it here): the drop-in is gone.
    assert target.sh('systemctl show -p DropInPaths --value fake-runner.service') == ''
    # go works no more (the toolchain is gone) and the builder account is as it was.
    assert target.sh('id -nG builder') == 'builder'


def test_a_second_removal_changes_nothing(target):
    again = target.play({}, playbook='playbooks/remove.yml')
    assert not again.failed, failures(again)
    assert again.changed == 0, [n for n, r in again.tasks.items() if r.get('changed')]


@pytest.fixture(scope='module')
def second(tmp_path_factory, platform):
    with fresh_target(tmp_path_factory, platform) as fresh:
        yield fresh


def test_site_with_state_absent_removes_everything_caches_and_promtool_included(second):
    prepare(second)
    fresh = snapshot(second)
    converge(second, {'go_cache_alert_rules_enabled': True})
    assert second.sh('test -x /usr/bin/promtool && echo yes') == 'yes'
    extra = {'go_buildhost_state': 'absent', 'go_cache_remove_caches': True, 'go_cache_alert_rules_enabled': True}
    check = second.play(extra, '--check')
    assert not check.failed, failures(check)
    assert second.sh('test -x /usr/bin/promtool && echo yes') == 'yes', 'check mode purged nothing'
    removed = second.play(extra)
    assert not removed.failed, failures(removed)
    left = differences(fresh, snapshot(second), set(EXPECTED))
    assert left == {}, json.dumps(left, indent=1)
    again = second.play(extra)
    assert not again.failed, failures(again)
    assert again.changed == 0, [n for n, r in again.tasks.items() if r.get('changed')]
