"""Issue 14: safe for every account on the host, and no path variable that can hurt the system.

One fresh container per supported platform (Debian 12, 13, Ubuntu 22.04, 24.04: `make test` runs this
suite on all four, as it does test_site_defaults.py), tests in file order:

1. Before any run, every path variable that could point a role at the system is refused by its
   role's playbook with a message naming the variable, and the host's metadata is unchanged.
2. site.yml with the shipped defaults (only the Go mirror variables set). Then every account
   builds and tests a module: root, an account in no group from a login shell, as a systemd
   service of its own, from its user crontab (cron's default PATH) and through `sudo -u`.
3. An admin adds members: they share the caches (a second member's build compiles only its own
   main package), and a runner service that started before its user joined still builds (with its
   own cache), is reported by the role and the health check, and is restarted on consent.
"""

import re
import time

import pytest

from .conftest import CRON_PATH, MIRROR, PLATFORMS as ALL_PLATFORMS

# The accounts the inventory never named see the host the same way on every platform (PAM, sudo and
# cron differ between Debian and Ubuntu): the bad-path matrix runs in full on Debian 12 only (conftest).
PLATFORMS = tuple(ALL_PLATFORMS)

VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/'}

HELLO = {
    'go.mod': 'module example.com/hello\n\ngo 1.21\n',
    'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(greeting()) }\n\n'
               'func greeting() string { return "hello" }\n',
    'main_test.go': 'package main\n\nimport "testing"\n\nfunc TestGreeting(t *testing.T) {\n'
                    '\tif greeting() != "hello" {\n\t\tt.Fatal(greeting())\n\t}\n}\n',
}

# Metadata of everything a role could touch (not /proc, /sys, /run, /tmp, logs and apt's caches,
# which change on their own): path, mode, owner, group, size, mtime and link target.
SNAPSHOT = ("find / -xdev \\( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log "
            "-o -path /var/cache/apt -o -path /var/lib/apt -o -path /var/cache/debconf -o -path /root/.ansible "
            "-o -path /var/lib/systemd -o -path /srv/go-mirror \\) -prune -o "
            "-printf '%p %m %u %g %s %T@ %l\\n' | sort | sha256sum; getent group | sha256sum")


def write_module(target, user, directory):
    for name, text in HELLO.items():
        target.sh("mkdir -p %s && cat > %s/%s <<'EOF'\n%sEOF" % (directory, directory, name, text))
    target.sh('chown -R %s: %s' % (user, directory))


def as_user(target, user, command):
    return target.sh("su - %s -c '%s'" % (user, command))


def compiles(output):
    """The packages `go build -x` compiled (cached ones are not compiled again)."""
    return re.findall(r'/compile -o \S+ -trimpath \S+ -p (\S+)', output)


@pytest.fixture(scope='module')
def host(target):
    # The accounts a real host has before the first run: none is in any group of ours.
    for user in ('carol', 'alice', 'bob', 'dave'):
        target.sh('id %s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %s' % (user, user))
    # cron comes with the test images, as with a real host (scripts/build-image.sh).
    target.sh('systemctl start cron')
    return target


# ---- 1. paths that cannot hurt the system --------------------------------------------------------

REFUSED = [
    ('go_cache', {'go_cache_build_dir': '/usr'}, 'go_cache_build_dir is /usr, a system directory'),
    ('go_cache', {'go_cache_mod_dir': '/home'}, 'go_cache_mod_dir is /home, a system directory'),
    ('go_cache', {'go_cache_mod_dir': '/home/carol'}, "go_cache_mod_dir is /home/carol, a system directory (an "
                                                      "account's home)"),
    ('go_cache', {'go_cache_build_dir': '/var/cache/go/../build'}, 'go_cache_build_dir must be a normal absolute '
                                                                   'path'),
    ('go_cache', {'go_cache_build_dir': '/srv/golink/build'}, 'go_cache_build_dir is /srv/golink/build, below the '
                                                              'symlink /srv/golink'),
    ('go_cache', {'go_cache_build_dir': '/srv/data'}, 'go_cache_build_dir is /srv/data, an existing directory that '
                                                      'does not look like a Go build cache'),
    ('go_cache', {'go_cache_alert_rules_enabled': True, 'go_cache_alert_rules_path': '/etc/passwd'},
     'go_cache_alert_rules_path is /etc/passwd, an existing file that the role did not write'),
    ('go_cache', {'go_cache_metrics_dir': '/etc'}, 'go_cache_metrics_dir is /etc, a system directory'),
    ('go_toolchain', {'go_toolchain_install_root': '/usr/local'}, 'go_toolchain_install_root is /usr/local, a '
                                                                  'system directory'),
    ('go_toolchain', {'go_toolchain_link': '/usr/local/bin'}, 'go_toolchain_link is /usr/local/bin, a system '
                                                              'directory'),
    ('go_toolchain', {'go_toolchain_bin_dirs': ['/bin']}, 'go_toolchain_bin_dirs lists /bin, which is or is below a '
                                                          'symlink'),
    ('go_env', {'go_env_cache': '/usr'}, 'go_env_cache (GOCACHE) is /usr, a system directory'),
    ('go_env', {'go_env_modcache': '/home'}, 'go_env_modcache (GOMODCACHE) is /home, a system directory'),
    # An inventory copied from an earlier release: go.env would point every account at the shared cache.
    ('go_env', {'go_env_cache': '/var/cache/go/build', 'go_cache_build_dir': '/var/cache/go/build'},
     'go_env_cache or go_env_modcache names a shared cache of the go_cache role'),
    ('build_cgroups', {'build_cgroups_wrapper_path': '/usr/bin/sudo'},
     'build_cgroups_wrapper_path is /usr/bin/sudo, a file of the installed package sudo'),
]


@pytest.mark.parametrize('role,extra,message', REFUSED, ids=['%s-%s' % (r, '-'.join(
    '%s' % v for v in e.values())) for r, e, _m in REFUSED])
@pytest.mark.refusal_matrix
def test_a_path_that_could_hurt_the_system_is_refused_and_nothing_changes(host, role, extra, message):
    host.sh('mkdir -p /srv/data && echo mine > /srv/data/notes.txt && ln -sfn /usr /srv/golink')
    before = host.sh(SNAPSHOT)
    result = host.play(dict(VARS, **extra), playbook='playbooks/%s.yml' % role)
    assert result.failed, 'the run must stop'
    assert message in result.messages(), result.messages()
    assert host.sh(SNAPSHOT) == before, 'the refused run changed the host'
    assert host.sh('stat -c "%a %U %G" /usr/bin/sudo /usr /etc/passwd') == \
        '4755 root root\n755 root root\n644 root root'


def test_a_package_that_owns_usr_bin_go_is_named_and_never_replaced(host):
    """The run installs Go everywhere else, leaves the package's go alone and says what to do."""
    # A stand-in for Debian's golang-go: a real package owning /usr/bin/go, installed with dpkg.
    host.sh('mkdir -p /tmp/fakego/DEBIAN /tmp/fakego/usr/bin && printf "#!/bin/sh\\necho distro go\\n" > '
            '/tmp/fakego/usr/bin/go && chmod 755 /tmp/fakego/usr/bin/go && printf "Package: golang-go-standin\\n'
            'Version: 1.0\\nArchitecture: all\\nMaintainer: test <t@example.com>\\nDescription: test\\n" > '
            '/tmp/fakego/DEBIAN/control && dpkg-deb -b /tmp/fakego /tmp/fakego.deb >/dev/null && '
            'dpkg -i /tmp/fakego.deb >/dev/null')
    try:
        result = host.play(VARS, playbook='playbooks/go_toolchain.yml')
        assert not result.failed, result.messages()
        done = result.result('Ensure the active Go toolchain is')
        assert done['skipped_commands'] == ['/usr/bin/go']
        warning = ' '.join(done['warnings'])
        assert 'belongs to the installed package golang-go-standin' in warning and 'apt-get remove' in warning
        assert 'out of go_toolchain_bin_dirs' in warning
        assert host.sh('/usr/bin/go') == 'distro go', 'never replaced'
        assert host.sh('dpkg -V golang-go-standin; echo $?') == '0'
        assert host.sh('/usr/local/bin/go version').startswith('go version go1.27')
    finally:
        host.sh('dpkg -r golang-go-standin >/dev/null; rm -rf /tmp/fakego /tmp/fakego.deb')


# ---- 2. the shipped defaults break no account ---------------------------------------------------

@pytest.fixture(scope='module')
def converged(host):
    # dave's runner is already running before the first run, as on a real build host.
    host.sh("cat > /etc/systemd/system/dave-runner.service <<'EOF'\n[Service]\nUser=dave\nWorkingDirectory=/home/dave\n"
            "ExecStart=/bin/sh -c 'while :; do if [ -f trigger ]; then rm -f trigger; (cd hello && go env GOCACHE "
            "&& go build -o out .) > build.log 2>&1; echo $? > rc; fi; sleep 0.2; done'\nEOF\n"
            "systemctl daemon-reload && systemctl start dave-runner")
    write_module(host, 'dave', '/home/dave/hello')
    result = host.play(VARS)
    assert not result.failed, result.messages()
    again = host.play(VARS)
    assert again.changed == 0, again.messages()
    return host


def test_root_builds_and_tests_with_its_own_caches(converged):
    write_module(converged, 'root', '/root/hello')
    assert converged.sh('cd /root/hello && go build -o hello . && ./hello && go test ./...').startswith('hello\nok')
    assert converged.sh('go env GOCACHE') == '/root/.cache/go-build', \
        'root never uses a cache that members write into'


def test_an_account_in_no_group_builds_from_a_login_shell(converged):
    write_module(converged, 'carol', '/home/carol/hello')
    out = as_user(converged, 'carol', 'cd hello && go build -o hello . && ./hello && go test ./... && go env GOCACHE')
    assert out.splitlines()[0] == 'hello' and out.splitlines()[1].startswith('ok')
    assert out.splitlines()[-1] == '/home/carol/.cache/go-build', 'its own cache, never an unusable one'


def test_an_account_in_no_group_builds_as_a_systemd_service_of_its_own(converged):
    converged.sh("cat > /etc/systemd/system/carol-build.service <<'EOF'\n[Service]\nType=oneshot\nUser=carol\n"
                 "WorkingDirectory=/home/carol/hello\nExecStart=/bin/sh -c 'go build -o svc-hello . && go test ./... "
                 "&& ./svc-hello > svc.out'\nEOF\nsystemctl daemon-reload")
    converged.sh('systemctl start carol-build', check=False)
    assert converged.sh('systemctl show -P Result carol-build') == 'success', converged.sh(
        'journalctl -u carol-build --no-pager | tail -20')
    assert converged.sh('cat /home/carol/hello/svc.out') == 'hello'


def test_an_account_in_no_group_builds_through_sudo(converged):
    out = converged.sh('cd /home/carol/hello && sudo -u carol -H go build -o sudo-hello . && sudo -u carol -H go test '
                       './... && ./sudo-hello')
    assert out.splitlines()[-1] == 'hello'


def test_an_account_in_no_group_builds_from_its_crontab_with_the_default_path(converged):
    converged.sh("printf '* * * * * cd hello && echo \"$PATH\" > cron.path && exec > cron.log 2>&1 && "
                 "go build -o cron-hello . && go test ./...; echo $? > cron.rc\\n' | crontab -u carol -")
    deadline = time.time() + 150
    while converged.sh('cat /home/carol/hello/cron.rc 2>/dev/null; true') == '' and time.time() < deadline:
        time.sleep(3)
    assert converged.sh('cat /home/carol/hello/cron.path') == CRON_PATH[converged.os_id], \
        "cron gave its distribution's default PATH"
    assert converged.sh('cat /home/carol/hello/cron.rc') == '0', converged.sh('cat /home/carol/hello/cron.log')
    assert converged.sh('/home/carol/hello/cron-hello') == 'hello'
    converged.sh('crontab -u carol -r')


# ---- 3. members share the caches; a runner that started before joining ---------------------------

@pytest.fixture(scope='module')
def members(converged):
    result = converged.play(dict(VARS, go_cache_members=['alice', 'bob', 'dave']), playbook='playbooks/go_cache.yml')
    assert not result.failed, result.messages()
    return converged, result


def test_members_share_the_caches_a_second_build_compiles_only_its_main(members):
    host, _result = members
    for user in ('alice', 'bob'):
        write_module(host, user, '/home/%s/hello' % user)
    assert as_user(host, 'alice', 'go env GOCACHE GOMODCACHE') == '/var/cache/go/build\n/var/cache/go/mod'
    first = host.sh("su - alice -c 'cd hello && go build -x -o hello . 2>&1 && go test ./...'")
    assert len(compiles(first)) > 50, 'the first member compiles the standard library into the shared cache'
    second = host.sh("su - bob -c 'cd hello && go build -x -o hello . 2>&1'")
    assert compiles(second) == ['main'], compiles(second)
    assert as_user(host, 'bob', 'cd hello && ./hello && go test ./...').startswith('hello\nok')
    # carol, still in no group, keeps her own caches and still builds.
    assert as_user(host, 'carol', 'cd hello && go build -o hello . && go env GOCACHE') == '/home/carol/.cache/go-build'


def test_a_runner_started_before_its_user_joined_builds_and_is_reported(members):
    host, result = members
    stale = result.result('Ensure the caches are 2770')['stale_members']
    assert [s['unit'] for s in stale] == ['dave-runner.service'], stale
    assert 'dave-runner.service (dave)' in ' '.join(result.result('Ensure the caches are 2770').get('warnings', []))
    host.sh('rm -f /home/dave/rc; touch /home/dave/trigger')
    deadline = time.time() + 240
    while host.sh('cat /home/dave/rc 2>/dev/null; true') == '' and time.time() < deadline:
        time.sleep(2)
    assert host.sh('cat /home/dave/rc') == '0', host.sh('cat /home/dave/build.log')
    assert host.sh('head -1 /home/dave/build.log') == '/home/dave/.cache/go-build', \
        'without the group, its own cache rather than a failure'
    host.sh('systemctl start go-cache-health.service')
    metrics = host.sh('cat /var/lib/prometheus/node-exporter/go_cache.prom')
    assert re.search(r'^go_cache_stale_member_processes [1-9]', metrics, re.M), metrics


def test_the_runner_is_restarted_with_consent_and_then_shares(members):
    host, _result = members
    pid = host.sh('systemctl show -P MainPID dave-runner')
    result = host.play(dict(VARS, go_cache_members=['alice', 'bob', 'dave'], go_cache_restart_services=True),
                       playbook='playbooks/go_cache.yml')
    assert not result.failed, result.messages()
    assert result.result('Ensure the caches are 2770')['restarted'] == ['dave-runner.service']
    assert host.sh('systemctl show -P MainPID dave-runner') != pid
    gid = host.sh('getent group gobuilders | cut -d: -f3')
    new_pid = host.sh('systemctl show -P MainPID dave-runner')
    assert gid in host.sh('grep ^Groups: /proc/%s/status' % new_pid).split()
    host.sh('rm -f /home/dave/rc; touch /home/dave/trigger')
    deadline = time.time() + 120
    while host.sh('cat /home/dave/rc 2>/dev/null; true') == '' and time.time() < deadline:
        time.sleep(1)
    assert host.sh('cat /home/dave/rc') == '0', host.sh('cat /home/dave/build.log')
    assert host.sh('head -1 /home/dave/build.log') == '/var/cache/go/build'
    again = host.play(dict(VARS, go_cache_members=['alice', 'bob', 'dave'], go_cache_restart_services=True),
                      playbook='playbooks/go_cache.yml')
    assert again.changed == 0, again.messages()
    host.sh('systemctl start go-cache-health.service')
    assert re.search(r'^go_cache_stale_member_processes 0$', host.sh(
        'cat /var/lib/prometheus/node-exporter/go_cache.prom'), re.M)


def test_no_account_is_pointed_at_a_cache_it_cannot_write(members):
    host, _result = members
    for user in ('root', 'carol', 'alice', 'bob', 'dave'):
        for key in ('GOCACHE', 'GOMODCACHE'):
            # The directory, or the nearest one that exists above it: Go creates the rest.
            check = ('d=$(go env %s); while [ ! -e "$d" ]; do d=$(dirname "$d"); done; test -w "$d" && echo "$d"'
                     % key)
            assert host.sh("su - %s -c '%s'" % (user, check)), (user, key)
