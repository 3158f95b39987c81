"""Issue 17: the fleet cache server (go_cache_server) on a real host, and a builder using it.

One fresh container (the reference platform in `make test`), tests in file order:

1. A store path that could hurt the system, and no write token, are refused with the variable named,
   and the host is unchanged.
2. The role runs nginx on its own port: a second run changes nothing.
3. From outside the host: a PUT needs a write token (no token, a read token or a wrong one get a 401), a
   GET needs a token when reads are closed, objects come back byte for byte, other paths are 404s.
4. A builder on the same host (go_toolchain and go_cache, go_cache_remote_url at the server): alice's
   build fills the server; after the host's caches are emptied bob compiles nothing; an object corrupted
   on the server is detected, compiled again, and the binary still runs.
5. The size cap: the timer's run evicts down to the low-water mark, and the metrics count the traffic.
6. Removal: the site, the tokens and the timer are gone, nginx (which the role installed) is purged,
   the store stays.
"""

import json
import re
import secrets
import urllib.error
import urllib.request

import pytest

from .conftest import MIRROR, docker
from .test_issue14_accounts import HELLO, compiles

# As the README says to make them (openssl rand -hex 32), and one with upper case letters.
WRITE = secrets.token_hex(32)
READ = 'Rd' + secrets.token_hex(20)
PORT = 9090
SERVER = {'go_cache_server_write_tokens': [WRITE], 'go_cache_server_read_tokens': [READ],
          'go_cache_server_open_reads': False, 'go_cache_server_port': PORT}
PLAYBOOK = 'playbooks/go_cache_server.yml'
BUILDER = {'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
           'go_toolchain_mirror': 'http://127.0.0.1:8080/', 'go_cache_members': ['alice', 'bob'],
           'go_cache_node_exporter_enabled': False, 'go_cache_alert_rules_enabled': False,
           'go_cache_remote_url': 'http://127.0.0.1:%d/' % PORT, 'go_cache_remote_token': WRITE,
           # Generous beside make test's other workers: a request that times out is a compile the tests count.
           'go_cache_remote_timeout': 30}
WORK = '/srv/work/hello'
KEY = 'ab' * 32
METRICS = '/var/lib/prometheus/node-exporter/go_cache_server.prom'


def request(url, method='GET', token=None, body=None):
    """(status, body) of one HTTP request from this process, outside the host."""
    req = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - the test server's http URL
    if token:
        req.add_header('Authorization', 'Bearer ' + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 - the test's own http URL
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def play(host, extra, playbook=PLAYBOOK):
    result = host.play(dict(SERVER, **extra) if playbook == PLAYBOOK else extra, playbook=playbook)
    assert WRITE not in result.stderr and READ not in result.stderr
    return result


@pytest.fixture(scope='module')
def host(target):
    # The host is a build host and the fleet's cache server too.
    inventory = json.loads(target.inventory.read_text())
    hosts = inventory['all']['children']['go_buildhosts']['hosts']
    inventory['all']['children']['go_cache_servers'] = {'hosts': dict.fromkeys(hosts)}
    target.inventory.write_text(json.dumps(inventory))
    return target


def test_a_store_that_could_hurt_the_system_and_no_write_token_are_refused(host):
    before = host.sh('ls -la /usr/lib | sha256sum; dpkg -l nginx 2>/dev/null | tail -1; true')
    for extra, message in (({'go_cache_server_dir': '/usr/lib'}, 'go_cache_server_dir is /usr/lib, a system '
                                                                  'directory'),
                           ({'go_cache_server_dir': '/srv'}, 'go_cache_server_dir is /srv, a system directory'),
                           ({'go_cache_server_write_tokens': []}, 'go_cache_server_write_tokens is empty')):
        result = play(host, extra)
        assert result.failed and message in result.messages(), result.messages()
        assert result.changed == 0
    assert host.sh('ls -la /usr/lib | sha256sum; dpkg -l nginx 2>/dev/null | tail -1; true') == before
    assert host.sh('ls /etc/nginx/conf.d/go-cache-server.conf /etc/nginx/go-cache-server.tokens '
                   '2>/dev/null; true') == ''


@pytest.fixture(scope='module')
def server(host):
    result = play(host, {})
    assert not result.failed, result.messages()
    again = play(host, {})
    assert again.changed == 0, again.messages()
    address = docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', host.name).stdout.strip()
    return host, 'http://%s:%d' % (address, PORT)


def test_the_server_runs_its_own_site_and_keeps_the_tokens_for_root(server):
    host, _url = server
    assert host.sh('stat -c "%a %U" /etc/nginx/go-cache-server.tokens') == '600 root'
    assert host.sh('stat -c "%a %U" /var/cache/go-cache-server') == '750 www-data'
    assert host.sh('systemctl is-active nginx go-cache-server-evict.timer') == 'active\nactive'
    assert WRITE not in host.sh('ps -eo args; journalctl --no-pager -o cat 2>/dev/null; true')


def test_writes_need_a_write_token_and_reads_a_token(server):
    _host, url = server
    body = b'an object\n'
    for token in (None, READ, 'x' * 24, WRITE.upper(), WRITE[:-1], WRITE + 'x'):
        assert request('%s/cas/%s' % (url, KEY), 'PUT', token, body)[0] == 401, token
    assert request('%s/cas/%s' % (url, KEY), token=READ)[0] == 404
    assert request('%s/cas/%s' % (url, KEY), 'PUT', WRITE, body)[0] in (201, 204)
    assert request('%s/cas/%s' % (url, KEY), token=READ) == (200, body)
    assert request('%s/cas/%s' % (url, KEY), token=WRITE) == (200, body)
    assert request('%s/cas/%s' % (url, KEY))[0] == 401, 'reads are closed'
    assert request('%s/cas/%s' % (url, KEY), token=READ.lower())[0] == 401, 'tokens are compared with their case'
    assert request('%s/other/%s' % (url, KEY), token=WRITE)[0] == 404
    assert request('%s/cas/../etc/passwd' % url, token=WRITE)[0] in (400, 404)
    assert request('%s/cas/%s' % (url, KEY), 'DELETE', WRITE)[0] in (403, 405)
    assert request('%s/cas/%s' % (url, KEY), token=READ) == (200, body), 'still there'


@pytest.fixture(scope='module')
def builder(server):
    host, url = server
    for user in ('alice', 'bob'):
        host.sh('useradd --create-home --shell /bin/bash %s' % user)
    for name, text in HELLO.items():
        host.sh("mkdir -p %s && cat > %s/%s <<'EOF'\n%sEOF" % (WORK, WORK, name, text))
    for playbook in ('playbooks/go_toolchain.yml', 'playbooks/go_cache.yml'):
        result = play(host, BUILDER, playbook=playbook)
        assert not result.failed, result.messages()
    return host, url


def build(host, user):
    host.sh('chown -R %s: %s' % (user, WORK))
    return host.sh("su - %s -c 'cd %s && rm -f hello && go build -x -o hello . 2>&1 && ./hello'" % (user, WORK))


def test_a_fresh_builder_compiles_nothing_and_a_corrupt_object_is_compiled_again(builder):
    host, _url = builder
    first = build(host, 'alice')
    assert len(compiles(first)) > 50 and first.endswith('hello')
    assert int(host.sh('ls /var/cache/go-cache-server/cas | wc -l')) > 50, 'the outputs went to nginx'
    host.sh('find /var/cache/go/build -mindepth 1 -delete')
    second = build(host, 'bob')
    assert compiles(second) == [] and second.endswith('hello'), compiles(second)
    # The biggest object on the server (the runtime's archive, say) gets another body of the same size.
    victim = host.sh('ls -S /var/cache/go-cache-server/cas | head -1')
    host.sh('f=/var/cache/go-cache-server/cas/%s; s=$(stat -c %%s $f); head -c $s /dev/zero > $f' % victim)
    host.sh('find /var/cache/go/build -mindepth 1 -delete')
    third = build(host, 'alice')
    assert len(compiles(third)) >= 1 and third.endswith('hello'), 'the corrupt output is compiled again'
    stats = host.sh('cat /var/cache/go/build/remote/stats.json')
    assert re.search(r'"corrupt": [1-9]', stats), stats


def test_the_size_cap_evicts_and_the_metrics_count_the_traffic(builder):
    host, _url = builder
    result = play(host, {'go_cache_server_max_bytes': '1M', 'go_cache_server_low_water_percent': 50})
    assert not result.failed, result.messages()
    host.sh('systemctl start go-cache-server-evict.service')
    used = int(host.sh("du -s --block-size=1 /var/cache/go-cache-server/ac /var/cache/go-cache-server/cas "
                       "| awk '{s+=$1} END {print s}'"))
    assert used <= 512 * 1024 + 8192, used
    metrics = host.sh('cat %s' % METRICS)
    for pattern in (r'^go_cache_server_evicted_objects_total [1-9]', r'^go_cache_server_hits_total [1-9]',
                    r'^go_cache_server_misses_total [1-9]', r'^go_cache_server_puts_total [1-9]',
                    r'^go_cache_server_requests_total\{method="PUT",code="401"\} [1-9]',
                    r'^go_cache_server_max_bytes 1048576'):
        assert re.search(pattern, metrics, re.M), (pattern, metrics)


def test_removal_takes_the_site_and_the_packages_it_installed_and_keeps_the_store(builder):
    host, url = builder
    result = play(host, {'go_cache_server_state': 'absent'})
    assert not result.failed, result.messages()
    assert host.sh('ls /etc/nginx/conf.d/go-cache-server.conf /etc/nginx/go-cache-server.tokens '
                   '/etc/systemd/system/go-cache-server-evict.timer /etc/ansible/facts.d/go_cache_server.fact '
                   '/usr/local/lib/go-cache-server 2>/dev/null; true') == ''
    assert host.sh('dpkg -l nginx 2>/dev/null | grep ^ii; true') == '', 'the role installed nginx: purged'
    assert host.sh('test -d /var/cache/go-cache-server/cas && echo kept') == 'kept'
    with pytest.raises(OSError):
        urllib.request.urlopen('%s/cas/%s' % (url, KEY), timeout=5)  # noqa: S310
    again = play(host, {'go_cache_server_state': 'absent'})
    assert not again.failed and again.changed == 0, again.messages()
