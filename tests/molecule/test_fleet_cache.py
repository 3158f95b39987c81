"""Verify the fleet cache on three real hosts (Molecule scenario fleet_cache).

gbh-fc-server runs go_cache_server (nginx); gbh-fc-a (Debian 12) and gbh-fc-b (Ubuntu 24.04) are builders
whose members' go hands its cache to the GOCACHEPROG helper. The tests run in file order and build on
each other: A builds cmd/go cold, B then builds it from the fleet cache, and the fault cases follow, each
on B with its caches emptied first, as on a re-imaged host.
"""

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
import testinfra
import yaml

pytestmark = pytest.mark.skipif(os.environ.get('MOLECULE_SCENARIO_NAME') != 'fleet_cache',
                                reason='needs the hosts of molecule/fleet_cache')

testinfra_hosts = ['ansible://gbh-fc-a']

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = yaml.safe_load((ROOT / 'molecule/fleet_cache/molecule.yml').read_text())
GROUP_VARS = SCENARIO['provisioner']['inventory']['group_vars']
WRITE = GROUP_VARS['go_cache_servers']['go_cache_server_write_tokens'][0]
READ = GROUP_VARS['go_cache_servers']['go_cache_server_read_tokens'][0]
STORE = '/var/cache/go-cache-server'
TIER = '/var/cache/go/build/remote'
PROGRAM = 'cmd/go'
PACKAGES = 'strings bytes unicode/utf8 encoding/base64'
COMPILE = re.compile(r'/compile -o \S+ -trimpath \S+ -p (\S+)')
RESULTS = {}  # what A did, for the tests after it


def other(name):
    return testinfra.get_host('ansible://%s' % name, ansible_inventory=os.environ['MOLECULE_INVENTORY_FILE'])


@pytest.fixture(scope='module')
def server():
    return other('gbh-fc-server')


@pytest.fixture(scope='module')
def builder_b():
    return other('gbh-fc-b')


def sh(host, command, timeout=900):
    result = host.run('timeout %d sh -c %s' % (timeout, shlex.quote(command)))
    assert result.rc == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout.strip()


def as_alice(host, command):
    return sh(host, 'su - alice -c %s' % shlex.quote(command))


def build(host, output='/tmp/go.bin'):
    """alice builds cmd/go with -x: (the packages compiled, the binary's sha256, seconds)."""
    start = time.monotonic()
    log = as_alice(host, 'go build -x -o %s %s 2>&1' % (output, PROGRAM))
    took = time.monotonic() - start
    return COMPILE.findall(log), sh(host, 'sha256sum %s' % output).split()[0], took


def fresh(host):
    """The caches of a re-imaged host: empty (the directories, their group and ACLs, kept)."""
    sh(host, 'find /var/cache/go/build -mindepth 1 -delete; rm -f /tmp/go.bin')


def stats(host):
    return json.loads(sh(host, 'cat %s/stats.json' % TIER))


def store_digest(server):
    return sh(server, 'cd %s && find ac cas -type f | sort | xargs -r sha256sum | sha256sum' % STORE)


def test_a_builds_cmd_go_cold_and_fills_the_server(host, server):
    compiled, digest, took = build(host)
    assert len(compiled) > 150, 'cmd/go and its dependencies, the standard library included'
    tests = as_alice(host, 'go test %s' % PACKAGES)
    assert tests.count('\nok') + tests.startswith('ok') == len(PACKAGES.split()), tests
    RESULTS.update(compiled=compiled, digest=digest, took=took)
    # The helper's uploads are done when go exits (close waits for them).
    assert int(sh(server, 'ls %s/cas | wc -l' % STORE)) >= len(compiled)
    assert int(sh(server, 'ls %s/ac | wc -l' % STORE)) >= len(compiled)


def test_b_never_built_anything_and_compiles_next_to_nothing(builder_b):
    assert sh(builder_b, 'ls -A /var/cache/go/build | wc -l') == '0', 'B starts cold'
    compiled, digest, _took = build(builder_b)
    assert len(compiled) <= len(RESULTS['compiled']) // 100, compiled
    assert digest == RESULTS['digest'], "B's binary is A's, byte for byte"
    assert sh(builder_b, '/tmp/go.bin version').startswith('go version go1.27')
    tests = as_alice(builder_b, 'go test %s' % PACKAGES)
    assert tests.count('(cached)') == len(PACKAGES.split()), tests
    counted = stats(builder_b)
    assert counted['remote_hits'] > 150 and counted['corrupt'] == 0, counted


def test_the_server_stopped_in_the_middle_of_a_build(builder_b, server):
    fresh(builder_b)
    sh(builder_b, "su - alice -c 'go build -o /tmp/go.bin %s > /tmp/stop.log 2>&1; echo $? > /tmp/stop.rc' "
                  '< /dev/null > /dev/null 2>&1 &' % PROGRAM)
    sh(builder_b, 'rm -f /tmp/stop.rc; n=0; while [ "$(find %s/o -type f 2>/dev/null | wc -l)" -lt 30 ] '
                  '&& [ $n -lt 600 ]; do sleep 0.2; n=$((n+1)); done' % TIER)
    sh(server, 'systemctl stop nginx')
    try:
        sh(builder_b, 'n=0; while [ ! -s /tmp/stop.rc ] && [ $n -lt 900 ]; do sleep 1; n=$((n+1)); done')
        assert sh(builder_b, 'cat /tmp/stop.rc') == '0', sh(builder_b, 'tail -20 /tmp/stop.log')
    finally:
        sh(server, 'systemctl start nginx')
    assert sh(builder_b, 'sha256sum /tmp/go.bin').split()[0] == RESULTS['digest']
    assert stats(builder_b)['breaker_opens'] >= 1


def test_a_server_that_stops_answering_costs_no_more_than_the_cold_build(builder_b, server):
    fresh(builder_b)
    sh(builder_b, 'rm -f %s/breaker.json' % TIER)
    sh(server, "pkill -STOP -f '^nginx: worker'")
    try:
        compiled, digest, took = build(builder_b)
    finally:
        sh(server, "pkill -CONT -f '^nginx: worker'")
    assert digest == RESULTS['digest'] and len(compiled) > 150
    # Five requests that time out (2 s each) open the breaker; then every go command keeps off the server.
    assert took < RESULTS['took'] * 1.5 + 30, (took, RESULTS['took'])
    RESULTS['slow'] = (took, RESULTS['took'])


def test_a_corrupted_object_is_detected_and_compiled_again(builder_b, server):
    victim = sh(server, 'ls -S %s/cas | head -1' % STORE)
    sh(server, 'f=%s/cas/%s; s=$(stat -c %%s $f); head -c $s /dev/zero > $f.new && chown www-data: $f.new '
               '&& mv $f.new $f' % (STORE, victim))
    fresh(builder_b)
    sh(builder_b, 'rm -f %s/breaker.json' % TIER)
    compiled, digest, _took = build(builder_b)
    assert 1 <= len(compiled) <= 10, compiled
    assert digest == RESULTS['digest'], 'the output compiled again is the right one'
    assert stats(builder_b)['corrupt'] >= 1
    # B's upload of the output it compiled put the right object back.
    assert sh(server, 'head -c 64 %s/cas/%s | tr -d "\\0" | wc -c' % (STORE, victim)) != '0'


def test_a_wrong_token_gets_a_401_on_writes_and_the_build_still_succeeds(builder_b, server):
    before = store_digest(server)
    code = sh(builder_b, 'python3 -c %s' % shlex.quote(
        'import urllib.request, urllib.error\n'
        'r = urllib.request.Request("http://gbh-fc-server:9092/cas/%s", data=b"x", method="PUT",\n'
        '                           headers={"Authorization": "Bearer %s"})\n'
        'try:\n    print(urllib.request.urlopen(r, timeout=10).status)\n'
        'except urllib.error.HTTPError as e:\n    print(e.code)\n' % ('ab' * 32, 'not-' + WRITE)))
    assert code == '401'
    token = sh(builder_b, 'cat /etc/go-cache/remote.token')
    sh(builder_b, 'echo wrong-%s > /etc/go-cache/remote.token' % READ)
    try:
        sh(builder_b, 'mkdir -p /srv/w && printf "module w\\n\\ngo 1.21\\n" > /srv/w/go.mod && printf '
                      '"package main\\n\\nfunc main() { println(\\"w\\") }\\n" > /srv/w/main.go '
                      '&& chown -R alice: /srv/w')
        as_alice(builder_b, 'cd /srv/w && go build -o w . && ./w')
        assert stats(builder_b)['upload_errors'] >= 1
    finally:
        sh(builder_b, 'echo %s > /etc/go-cache/remote.token' % token)
    assert store_digest(server) == before, 'nothing was written with a wrong token'


def test_a_read_only_client_writes_nothing(builder_b, server):
    sh(builder_b, "python3 -c 'import json; p=\"/etc/go-cache/cacheprog.json\"; c=json.load(open(p)); "
                  "c[\"read_only\"]=True; json.dump(c, open(p, \"w\"))'")
    before = store_digest(server)
    try:
        sh(builder_b, 'printf "package main\\n\\nfunc main() { println(\\"read only\\") }\\n" > /srv/w/main.go')
        assert as_alice(builder_b, 'cd /srv/w && go build -o w . && ./w 2>&1') == 'read only'
    finally:
        sh(builder_b, "python3 -c 'import json; p=\"/etc/go-cache/cacheprog.json\"; c=json.load(open(p)); "
                      "c[\"read_only\"]=False; json.dump(c, open(p, \"w\"))'")
    assert store_digest(server) == before, "the server's objects are unchanged"


def test_the_token_is_in_no_process_list_or_journal(host, builder_b, server):
    as_alice(host, 'cd /tmp && rm -rf t && mkdir t && cd t && printf "module t\\n\\ngo 1.21\\n" > go.mod && '
                   'printf "package main\\n\\nfunc main() {}\\n" > main.go && '
                   '{ go build -o t . & p=$!; while kill -0 $p 2>/dev/null; do ps -eo args >> /tmp/ps.txt; done; '
                   'wait $p; }')
    listing = sh(host, 'cat /tmp/ps.txt')
    assert 'go_cacheprog.py' in listing, 'the helper was seen running'
    for where in (host, builder_b, server):
        said = sh(where, 'journalctl --no-pager -o cat 2>/dev/null; ps -eo args; true')
        assert WRITE not in said and READ not in said
    assert WRITE not in listing
    # The token files: root and the group on a builder, root alone on the server.
    assert sh(host, 'stat -c "%a %U %G" /etc/go-cache/remote.token') == '640 root gobuilders'
    assert sh(server, 'stat -c "%a %U" /etc/nginx/go-cache-server.tokens') == '600 root'
