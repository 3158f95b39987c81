"""Issue 17: the fleet cache's client side, installed by go_cache, on a real host.

One fresh container (the reference platform in `make test`), tests in file order. The cache server is
tests/cacheprog_server.py in this process, on the Docker bridge, so the tests see every object and
every request it got. The host has members (alice, bob) and an account outside the group (carol).

1. go_cache with go_cache_remote_url and a token: the helper, its configuration (no secret) and the
   token (0640 root:gobuilders) are in place; the launcher hands GOCACHEPROG to members only, with the
   shared build cache. A second run changes nothing.
2. alice builds: every compiled package goes to the server, each PUT with the token. The host's
   caches are then emptied, as on a re-imaged host: bob builds the same module and compiles nothing,
   and his binary is alice's, byte for byte. carol and root build with their own caches, untouched.
3. The token is in no process list, journal line or Ansible output; the health check counts the
   helper's hits and finds no permission problem in its tier.
4. Read-only: the host uploads nothing (the server's objects are unchanged), and still reads.
5. The server gone: the build still succeeds.
6. go_cache_remote_url "": the helper, its configuration and the token are removed; go builds as before.
"""

import json
import re

import pytest

from tests.cacheprog_server import CacheServer

from .conftest import MIRROR, docker
from .test_issue14_accounts import HELLO, compiles

TOKEN = 'fleet-token-7f3c1e9a'  # noqa: S105 - a test value, checked never to appear where it must not
VARS = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/', 'go_cache_members': ['alice', 'bob'],
        'go_cache_node_exporter_enabled': False, 'go_cache_alert_rules_enabled': False}
WORK = '/srv/work/hello'  # one path for every builder: the compiled main package is the same too
PROG = '/usr/local/lib/go-cache-health/go_cacheprog.py /etc/go-cache/cacheprog.json'
METRICS = '/var/lib/prometheus/node-exporter/go_cache.prom'


def gateway():
    return docker('network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}').stdout.strip()


@pytest.fixture(scope='module')
def server():
    with CacheServer(token=TOKEN, host=gateway()) as running:
        yield running


def fleet_vars(server, **extra):
    # timeout: generous, as in test_go_cacheprog_real_go.py: this process serves the objects, and make test's
    # other workers load the machine; a request that times out is a miss, and a compile these tests count.
    return dict(dict(VARS, go_cache_remote_url=server.url + '/', go_cache_remote_token=TOKEN,
                     go_cache_remote_timeout=30), **extra)


def build(host, user, flags='-x'):
    """user builds WORK (the module, handed to them) with go build; the output of -x."""
    host.sh('chown -R %s: %s' % (user, WORK))
    return host.sh("su - %s -c 'cd %s && rm -f hello && go build %s -o hello . 2>&1'" % (user, WORK, flags))


def wipe_caches(host):
    """What a re-imaged host has: empty shared caches, the directories themselves kept."""
    host.sh('find /var/cache/go/build -mindepth 1 -delete')


@pytest.fixture(scope='module')
def host(target, server):
    for user in ('alice', 'bob', 'carol'):
        target.sh('useradd --create-home --shell /bin/bash %s' % user)
    for name, text in HELLO.items():
        target.sh("mkdir -p %s && cat > %s/%s <<'EOF'\n%sEOF" % (WORK, WORK, name, text))
    result = target.play(VARS, playbook='playbooks/go_toolchain.yml')
    assert not result.failed, result.messages()
    return target


@pytest.fixture(scope='module')
def converged(host, server):
    result = host.play(fleet_vars(server), playbook='playbooks/go_cache.yml')
    assert not result.failed, result.messages()
    again = host.play(fleet_vars(server), playbook='playbooks/go_cache.yml')
    assert again.changed == 0, again.messages()
    return host, ''.join(json.dumps(r.data) + r.stderr for r in (result, again))


def test_the_helper_its_configuration_and_the_token_are_in_place(converged):
    host, _output = converged
    assert host.sh('stat -c "%a %U %G" /etc/go-cache/remote.token') == '640 root gobuilders'
    assert host.sh('cat /etc/go-cache/remote.token') == TOKEN
    config = json.loads(host.sh('cat /etc/go-cache/cacheprog.json'))
    assert config['dir'] == '/var/cache/go/build/remote'
    assert config['token_file'] == '/etc/go-cache/remote.token'  # noqa: S105 - a path
    assert TOKEN not in json.dumps(config)
    assert host.sh('stat -c "%a %U" /usr/local/lib/go-cache-health/go_cacheprog.py') == '755 root'
    assert 'GOCACHEPROG=%s' % PROG in host.sh('cat /etc/go-buildhost/shared-caches.env')


def test_the_launcher_hands_the_helper_to_members_only(converged):
    host, _output = converged
    for user, prog in (('alice', PROG), ('bob', PROG), ('carol', ''), ('root', '')):
        assert host.sh("su - %s -c 'go env GOCACHEPROG'" % user) == prog, user
    # A caller's own GOCACHE keeps the shared helper out; an empty GOCACHEPROG opts out.
    assert host.sh("su - alice -c 'GOCACHE=/tmp/own go env GOCACHEPROG'") == ''
    assert host.sh("su - alice -c 'GOCACHEPROG= go env GOCACHEPROG'") == ''


def test_a_fresh_host_builds_from_the_fleet_cache_and_compiles_nothing(converged, server):
    host, _output = converged
    first = build(host, 'alice')
    assert len(compiles(first)) > 50, 'alice compiles the standard library'
    assert server.keys('ac') and server.keys('cas'), 'her outputs went to the server'
    puts = [r for r in server.requests if r[0] == 'PUT']
    assert puts and all(auth == 'Bearer ' + TOKEN for _m, _p, auth in puts)
    alice_binary = host.sh('sha256sum %s/hello' % WORK).split()[0]
    wipe_caches(host)
    second = build(host, 'bob')
    assert compiles(second) == [], compiles(second)
    assert host.sh('sha256sum %s/hello' % WORK).split()[0] == alice_binary, 'the same binary, byte for byte'
    assert host.sh("su - bob -c 'cd %s && ./hello && go test ./...'" % WORK).startswith('hello\nok')
    # Accounts outside the group, and root, build with their own caches, the helper never started.
    for user, cache in (('carol', '/home/carol/.cache/go-build'), ('root', '/root/.cache/go-build')):
        host.sh('rm -rf /tmp/%s-hello && cp -r %s /tmp/%s-hello && chown -R %s: /tmp/%s-hello'
                % (user, WORK, user, user, user))
        out = host.sh("su - %s -c 'cd /tmp/%s-hello && go build -o hello . && ./hello && go env GOCACHE'"
                      % (user, user))
        assert out == 'hello\n' + cache, user


def test_the_token_is_in_no_process_list_journal_or_ansible_output(converged, server):
    host, output = converged
    assert TOKEN not in output
    # A run that changes the token and the configuration, with --diff, shows neither token (the JSON callback
    # gives every result in full, as -v would).
    other = 'other-' + TOKEN
    for token in (other, TOKEN):
        result = host.play(dict(fleet_vars(server), go_cache_remote_token=token, go_cache_remote_timeout=31),
                           '--diff', playbook='playbooks/go_cache.yml')
        assert not result.failed and result.changed, result.messages()
        said = json.dumps(result.data) + result.stderr
        assert TOKEN not in said and other not in said
    # The process list while the helper runs (sampled until go is done): its command line, no token.
    host.sh('chown -R alice: %s' % WORK)
    host.sh("su - alice -c 'cd %s && touch main.go && { go build -o hello-ps . & pid=$!; "
            "while kill -0 $pid 2>/dev/null; do ps -eo args >> /tmp/ps.txt; done; wait $pid; }'" % WORK)
    listing = host.sh('cat /tmp/ps.txt')
    assert 'go_cacheprog.py /etc/go-cache/cacheprog.json' in listing, 'the helper was seen running'
    assert TOKEN not in listing
    assert TOKEN not in host.sh('journalctl --no-pager -o cat 2>/dev/null; true')
    assert TOKEN not in host.sh("su - alice -c 'go env'")


def test_the_health_check_counts_the_helpers_hits_and_finds_its_tier_in_order(converged):
    host, _output = converged
    host.sh('systemctl start go-cache-health.service')
    metrics = host.sh('cat %s' % METRICS)
    hits = re.search(r'^go_cacheprog_remote_hits_total\{[^}]*\} (\d+)', metrics, re.M)
    assert hits and int(hits.group(1)) > 50, metrics
    assert re.search(r'^go_cacheprog_tier_bytes\{[^}]*\} [1-9]', metrics, re.M), metrics
    problems = re.findall(r'^go_cache_permission_problems\{cache="build"[^}]*\} (\d+)', metrics, re.M)
    assert problems and set(problems) == {'0'}, metrics
    assert host.sh('stat -c "%a %G" /var/cache/go/build/remote') == '2770 gobuilders'
    assert host.sh("find /var/cache/go/build/remote -perm -o+w -o ! -group gobuilders | head -3") == ''


def test_a_read_only_host_uploads_nothing_and_still_reads(converged, server):
    host, _output = converged
    result = host.play(fleet_vars(server, go_cache_remote_read_only=True), playbook='playbooks/go_cache.yml')
    assert not result.failed, result.messages()
    before = dict(server.store)
    requests = len(server.requests)
    wipe_caches(host)
    host.sh("sed -i 's/\"hello\"/\"hello, read-only\"/' %s/main.go %s/main_test.go" % (WORK, WORK))
    out = build(host, 'alice')
    assert compiles(out) == ['main'], 'the standard library from the server, main compiled here'
    assert server.store == before, 'the server holds exactly what it held'
    assert not [r for r in server.requests[requests:] if r[0] == 'PUT']
    assert host.sh("su - alice -c 'cd %s && ./hello'" % WORK) == 'hello, read-only'


def test_a_build_succeeds_when_the_server_is_gone(converged, server):
    host, _output = converged
    server.stop()
    wipe_caches(host)
    out = build(host, 'alice')
    assert len(compiles(out)) > 50, 'everything compiled locally'
    assert host.sh("su - alice -c 'cd %s && ./hello'" % WORK) == 'hello, read-only'


def test_without_a_url_the_helper_and_the_token_are_removed(converged):
    host, _output = converged
    result = host.play(VARS, playbook='playbooks/go_cache.yml')
    assert not result.failed, result.messages()
    assert host.sh('ls /etc/go-cache/remote.token /etc/go-cache/cacheprog.json '
                   '/usr/local/lib/go-cache-health/go_cacheprog.py 2>/dev/null; true') == ''
    assert 'GOCACHEPROG' not in host.sh('cat /etc/go-buildhost/shared-caches.env')
    assert host.sh("su - alice -c 'go env GOCACHEPROG'") == ''
    assert host.sh("su - alice -c 'cd %s && go build -o hello . && ./hello'" % WORK) == 'hello, read-only'
