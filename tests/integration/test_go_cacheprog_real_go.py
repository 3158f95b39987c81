"""go_cache's GOCACHEPROG helper with a real Go toolchain, no Docker: two builders share one server.

Go 1.27.3 from the project's Go mirror fixture (.cache/go-mirror, the newest release in its index.json)
is unpacked once for the module. Builder A builds cmd/gofmt with a fresh GOCACHE and a fresh local tier,
through the helper, against the server of tests/cacheprog_server.py; builder B, with a GOCACHE and a
local tier of its own, then compiles (next to) nothing, links the same binary, and finds A's test result
cached. Builder C starts with a server that holds A's outputs, which goes away in the middle of its build:
the build still succeeds, and links the same binary.
"""

import json
import shlex
import subprocess
import sys
import tarfile

import pytest

from tests.cacheprog_server import CacheServer
from tests.harness import MIRROR, ROOT

pytestmark = pytest.mark.integration

HELPER = ROOT / 'roles/go_cache/files/go_cacheprog.py'
TARGET = 'cmd/gofmt'
TEST_PACKAGE = 'unicode/utf16'  # no dependencies to speak of, and a test that runs in milliseconds
A_REQUESTS = []  # the requests of builder A's cold build


@pytest.fixture(scope='module')
def goroot(tmp_path_factory):
    index = MIRROR / 'index.json'
    if not index.exists():
        pytest.skip('no Go mirror fixture at %s: run `make mirror`' % MIRROR)
    newest = json.loads(index.read_text())[0]['files'][0]['filename']
    if not (MIRROR / newest).exists():
        pytest.skip('%s is not in the Go mirror fixture: run `make mirror`' % newest)
    root = tmp_path_factory.mktemp('goroot')
    with tarfile.open(MIRROR / newest) as tar:
        tar.extractall(root, filter='data')  # noqa: S202 - the checksum-verified release of the project's own mirror
    return root / 'go'


@pytest.fixture(scope='module')
def server():
    with CacheServer() as running:
        yield running


class Builder:
    def __init__(self, base, goroot, url, **config):
        base.mkdir()
        self.base, self.goroot = base, goroot
        # timeout: generous, so that a loaded machine (make test's workers side by side) does not open the breaker.
        config = dict({'dir': str(base / 'tier'), 'url': url, 'timeout': 10, 'stats_file': str(base / 'stats.json')},
                      **config)
        (base / 'cacheprog.json').write_text(json.dumps(config))
        self.env = {
            'PATH': '%s:/usr/bin:/bin' % (goroot / 'bin'),
            'HOME': str(base / 'home'),
            'GOCACHE': str(base / 'gocache'),
            'GOCACHEPROG': '%s %s %s' % (shlex.quote(sys.executable), shlex.quote(str(HELPER)),
                                         shlex.quote(str(base / 'cacheprog.json'))),
            'GOTOOLCHAIN': 'local', 'GOFLAGS': '', 'GOPROXY': 'off', 'GOENV': 'off', 'GOTELEMETRY': 'off',
            'CGO_ENABLED': '0', 'GOPATH': str(base / 'gopath'), 'TMPDIR': str(base),
        }

    def go(self, *args):
        # At the lowest priority: make test runs this beside the VM scenario, whose TCG guests must not
        # starve (a reboot there waits for the guest to come back).
        run = subprocess.run(['nice', '-n', '19', str(self.goroot / 'bin/go'), *args], cwd=self.base, env=self.env,
                             capture_output=True, text=True, check=False, timeout=300)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return run

    def build(self, output):
        """go build -x: (the number of compile actions it ran, its stderr)."""
        run = self.go('build', '-x', '-o', output, TARGET)
        compiles = sum(1 for line in run.stderr.splitlines() if '/compile ' in line and ' -o ' in line)
        return compiles, run.stderr

    def stats(self):
        return json.loads((self.base / 'stats.json').read_text())


@pytest.fixture(scope='module')
def builder_a(tmp_path_factory, goroot, server):
    """Builder A, after its build of gofmt through the server: (builder, compile actions)."""
    a = Builder(tmp_path_factory.mktemp('share') / 'a', goroot, server.url)
    compiles, stderr = a.build('a.bin')
    A_REQUESTS[:] = server.requests
    assert 'go-cacheprog' not in stderr, stderr[-2000:]
    return a, compiles


def test_second_builder_compiles_nothing_and_links_the_same_binary(builder_a, goroot, server):
    a, a_compiles = builder_a
    assert a_compiles >= 20, 'builder A should have compiled gofmt and its dependencies'
    assert a.stats()['uploads'] == a.stats()['puts'] > 0
    assert a.stats()['upload_errors'] == 0

    b = Builder(a.base.parent / 'b', goroot, server.url)
    b_compiles, stderr = b.build('b.bin')
    print('builder A compiled %d packages, builder B %d' % (a_compiles, b_compiles))
    assert b_compiles <= a_compiles // 100, (a_compiles, b_compiles)
    assert 'go-cacheprog' not in stderr, stderr[-2000:]
    assert (a.base / 'a.bin').read_bytes() == (b.base / 'b.bin').read_bytes()
    assert b.stats()['remote_hits'] > 0
    assert b.stats()['corrupt'] == 0

    first = a.go('test', TEST_PACKAGE)
    assert '(cached)' not in first.stdout, first.stdout
    second = b.go('test', TEST_PACKAGE)
    assert '(cached)' in second.stdout, second.stdout


def test_build_succeeds_when_the_server_goes_away_midway(builder_a, goroot, server):
    a, a_compiles = builder_a
    # go first looks up the module index of every package it loads (cmd/go/internal/modindex, cached
    # too), then the compiled packages; an all-hits build asks /ac/ for each action and /cas/ for most of
    # them (about two requests an action). This server answers 1.8 requests per action of
    # A's cold build, the index and most compiled packages, then drops every later request unanswered, as
    # a server that goes away does: C gets those from the fleet and compiles the rest.
    actions = sum(1 for method, path, _auth in A_REQUESTS if method == 'GET' and path.startswith('/ac/'))
    answered = int(1.8 * actions)
    with CacheServer(drop_after=answered) as going:
        going.store.update(server.store)
        c = Builder(a.base.parent / 'c', goroot, going.url, breaker_failures=3)
        c_compiles, stderr = c.build('c.bin')
        dropped = len(going.requests) - answered
    print('builder C compiled %d packages; %d requests answered, %d dropped' % (c_compiles, answered, dropped))
    assert dropped >= 3, 'the server should have gone away during the build'
    assert (a.base / 'a.bin').read_bytes() == (c.base / 'c.bin').read_bytes()
    stats = c.stats()
    assert stats['remote_hits'] > 0
    assert stats['breaker_opens'] == 1
    assert 0 < c_compiles < a_compiles
    assert stderr.count('go-cacheprog:') == 1, stderr[-2000:]
