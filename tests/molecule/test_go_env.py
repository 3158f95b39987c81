"""Verify the go_env role on the real containers of molecule/go_env.

`go env -json` in every context, as root and as builder, against the inventory; the runtime
settings in real processes; a real module fetch through the proxy fixture; the GOTOOLCHAIN
trap; the per-user override that go_env_enforce removed; the local fact.
"""

import json
import os
import shlex
import time

import pytest
import testinfra.utils.ansible_runner

pytestmark = pytest.mark.skipif(os.environ.get('MOLECULE_SCENARIO_NAME') != 'go_env',
                                reason='needs the fixtures and inventory of molecule/go_env')

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ['MOLECULE_INVENTORY_FILE']).get_hosts('go_buildhosts')

FACT = '/etc/ansible/facts.d/go_env.fact'
RUNTIME_FILES = ['/etc/environment', '/etc/profile.d/go-buildhost-go-runtime.sh',
                 '/etc/systemd/system.conf.d/60-go-buildhost-go-runtime.conf']
GO = '/usr/local/bin/go'


def sh(command):
    return shlex.quote(command)


# Each context runs a shell command line as that user, the way such a process really starts.
CONTEXTS = {
    'root, login shell': lambda c: 'bash -lc %s' % sh(c),
    'root, non-login bash -c': lambda c: 'bash -c %s' % sh(c),
    'root, env -i': lambda c: 'env -i /bin/sh -c %s' % sh(c),
    'root, systemd service': lambda c: 'systemd-run --quiet --wait --pipe /bin/sh -c %s' % sh(c),
    'builder, login shell': lambda c: 'su - builder -c %s' % sh(c),
    'builder, non-login bash -c': lambda c: 'su builder -c %s' % sh('bash -c %s' % sh(c)),
    'builder, sudo -u': lambda c: 'sudo -u builder /bin/sh -c %s' % sh(c),
    'builder, sudo -i': lambda c: 'sudo -iu builder /bin/sh -c %s' % sh(c),
    'builder, env -i': lambda c: 'setpriv --reuid=builder --regid=builder --init-groups env -i /bin/sh -c %s' % sh(c),
    'builder, systemd service': lambda c: ('systemd-run --quiet --wait --pipe --property=User=builder /bin/sh -c %s'
                                           % sh(c)),
}
RUNTIME_CONTEXTS = ['root, login shell', 'root, systemd service', 'builder, login shell',
                    'builder, non-login bash -c', 'builder, sudo -i', 'builder, systemd service']


@pytest.fixture(scope='module')
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope='module')
def expected(inventory):
    """The go command settings the inventory asks for, derived here independently of the role."""
    private = ','.join(inventory.get('go_env_private', []))
    flags = list(inventory.get('go_env_flags', []))
    if inventory.get('go_env_modcache_shared'):
        flags.append('-modcacherw')
    values = {
        'GOPROXY': ','.join(inventory.get('go_env_proxy', ['https://proxy.golang.org', 'direct'])),
        'GOSUMDB': inventory.get('go_env_sumdb', 'sum.golang.org'),
        'GOPRIVATE': private,
        # go_env_nosumdb extends go_env_private (Go alone would replace it)
        'GONOSUMDB': ','.join(dict.fromkeys(inventory.get('go_env_private', []) + inventory.get('go_env_nosumdb', []))),
        'GONOPROXY': ','.join(inventory.get('go_env_noproxy', [])) or private,
        'GOFLAGS': ' '.join(flags),
        'GOTOOLCHAIN': inventory.get('go_env_toolchain', 'local'),
        'GOCACHE': inventory.get('go_env_cache', ''),
        'GOMODCACHE': inventory.get('go_env_modcache', ''),
    }
    values.update({k: str(v) for k, v in inventory.get('go_env_extra', {}).items()})
    assert values['GOCACHE'] and values['GOMODCACHE'], 'the scenario sets both cache paths'
    return values


@pytest.fixture(scope='module')
def runtime(inventory):
    godebug = ','.join('%s=%s' % (k, v) for k, v in sorted(inventory['go_env_godebug'].items()))
    return {'GOMAXPROCS': str(inventory['go_env_maxprocs']), 'GOMEMLIMIT': inventory['go_env_memlimit'],
            'GOGC': str(inventory['go_env_gogc']), 'GOTRACEBACK': inventory['go_env_traceback'], 'GODEBUG': godebug}


def go_env(host, context, keys):
    out = host.check_output(CONTEXTS[context]('%s env -json %s' % (GO, ' '.join(sorted(keys)))))
    return json.loads(out)


@pytest.mark.parametrize('context', sorted(CONTEXTS))
def test_go_env_in_every_context(host, expected, context):
    assert go_env(host, context, expected) == expected


def test_go_env_under_cron(host, expected):
    """Real crontabs of root and builder (the distribution's cron PATH, no login shell) ran `go env -json`."""
    converged = host.file(FACT).mtime.timestamp()
    for user in ('root', 'builder'):
        record = '/tmp/cron-go-env-%s.json' % user
        deadline = time.time() + 75
        while not (host.file(record).exists and host.file(record).mtime.timestamp() > converged):
            if time.time() > deadline:
                pytest.fail('cron did not run `go env -json` as %s within 75 s of the converge' % user)
            time.sleep(3)
        seen = json.loads(host.file(record).content_string)
        assert {k: seen[k] for k in expected} == expected, user


def runtime_seen(host, context, runtime):
    out = host.check_output(CONTEXTS[context]('env'))
    return dict(line.split('=', 1) for line in out.splitlines() if line.split('=', 1)[0] in runtime)


def test_runtime_settings_reach_the_process_environment(host, runtime):
    for context in RUNTIME_CONTEXTS:
        assert runtime_seen(host, context, runtime) == runtime, context


def test_runtime_settings_under_cron(host, runtime):
    converged = host.file(FACT).mtime.timestamp()
    for user in ('root', 'builder'):
        record = host.file('/tmp/cron-env-%s' % user)
        deadline = time.time() + 75
        while not (record.exists and record.mtime.timestamp() > converged):
            assert time.time() < deadline, 'no cron run as %s after the converge' % user
            time.sleep(3)
            record = host.file('/tmp/cron-env-%s' % user)
        seen = dict(line.split('=', 1) for line in record.content_string.splitlines()
                    if line.split('=', 1)[0] in runtime)
        assert seen == runtime, user


def test_runtime_settings_documented_gaps(host, runtime):
    """No PAM environment and no profile: env -i does not get them (README)."""
    assert runtime_seen(host, 'root, env -i', runtime) == {}


def test_runtime_settings_under_sudo_follow_the_distribution(host, runtime, sudo_pam_env):
    """`sudo -u` without -i: Ubuntu's sudo PAM stack runs pam_env and gets them; Debian's has none (README)."""
    stack = host.file('/etc/pam.d/sudo').content_string
    assert any(line.split()[:3] == ['session', 'required', 'pam_env.so']
               for line in stack.splitlines() if not line.startswith('#')) == sudo_pam_env, stack
    assert runtime_seen(host, 'builder, sudo -u', runtime) == (runtime if sudo_pam_env else {})


PROBE = r'''package probe

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestProbe(t *testing.T) {
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		panic(nil)
	}()
	fmt.Printf("procs=%d gogc=%d memlimit=%d panic=%T goflags=%q goproxy=%q\n", runtime.GOMAXPROCS(0),
		debug.SetGCPercent(100), debug.SetMemoryLimit(-1), recovered, os.Getenv("GOFLAGS"), os.Getenv("GOPROXY"))
}
'''
PROBED = 'procs=3 gogc=200 memlimit=1073741824 panic=<nil> goflags="" goproxy=""'


@pytest.fixture(scope='module')
def probe(host):
    """A Go test binary reporting the runtime settings it runs with, built once by builder."""
    script = ('set -e; rm -rf /tmp/go-probe; mkdir /tmp/go-probe; cd /tmp/go-probe; '
              'printf "module example.com/probe\\n\\ngo 1.27\\n" > go.mod; cat > probe_test.go <<"EOF"\n%sEOF\n'
              'go test -c -o probe.test .' % PROBE)
    host.check_output(CONTEXTS['builder, login shell'](script))
    return '/tmp/go-probe'


def test_the_go_runtime_applies_them_in_a_service(host, probe):
    out = host.check_output(CONTEXTS['builder, systemd service']('%s/probe.test -test.run TestProbe' % probe))
    assert PROBED in out.splitlines()


def test_go_test_passes_runtime_settings_on_but_not_go_env(host, expected, probe):
    """`go test` runs the test binary with its own process environment; go.env configures the go
    command only (GOFLAGS and GOPROXY are set there, yet the test binary sees them empty)."""
    out = host.check_output(CONTEXTS['builder, login shell']('cd %s && go test -count=1 -v .' % probe))
    assert PROBED in out.splitlines()
    assert expected['GOFLAGS'] and expected['GOPROXY']


def fetch(host, module):
    script = ('d=$(mktemp -d); cd "$d"; printf "module example.com/consumer\\n\\ngo 1.27\\n" > go.mod; '
              'go mod download -json %s' % module)
    return host.run(CONTEXTS['builder, login shell'](script))


@pytest.mark.parametrize('module', ['corp.example.com/lib@v1.0.0', 'mirror.example.net/tool@v1.0.0'])
def test_private_and_nosumdb_modules_download_through_the_proxy(host, expected, module):
    result = fetch(host, module)
    assert result.rc == 0, result.stdout + result.stderr
    info = json.loads(result.stdout)
    assert info['Dir'].startswith(expected['GOMODCACHE'] + '/')
    assert host.file(info['Zip']).exists
    # -modcacherw: the extracted module stays writable, so a shared cache can be pruned
    assert host.file(info['Dir']).mode & 0o200


def test_unlisted_module_is_refused_without_the_checksum_database(host):
    result = fetch(host, 'example.com/public@v1.0.0')
    text = result.stdout + result.stderr
    assert result.rc != 0, text
    assert 'verifying go.mod' in text and 'sum.golang.org/lookup/example.com/public@v1.0.0' in text, text


def test_gotoolchain_local_refuses_a_newer_go_line(host):
    script = ('d=$(mktemp -d); cd "$d"; printf "module example.com/new\\n\\ngo 1.99.0\\n" > go.mod; '
              'echo "package new" > new.go; go build ./...')
    result = host.run(CONTEXTS['builder, login shell'](script))
    assert result.rc != 0
    assert 'go.mod requires go >= 1.99.0' in result.stderr and 'GOTOOLCHAIN=local' in result.stderr


def test_gotoolchain_switch_bypasses_the_managed_go_env(host, expected):
    """Why the default is local: with auto, a go.mod line makes go download and run another toolchain,
    whose GOROOT is in the module cache, so it reads that toolchain's stock go.env, not ours.

    Toolchain downloads are always checked against sum.golang.org, unless GOPROXY is a lone file://
    URL and GONOSUMDB matches, hence those process-environment overrides (which hide the managed
    GOPROXY and GONOSUMDB here; the others show).
    """
    script = ('d=$(mktemp -d); cd "$d"; printf "module example.com/new\\n\\ngo 1.99.0\\n" > go.mod; '
              'GOTOOLCHAIN=auto GOPROXY=file:///srv/goproxy GONOSUMDB=golang.org/toolchain '
              'GOFLAGS=-modcacherw GOMODCACHE="$d/modcache" '
              'go env -json GOROOT GOPRIVATE GONOPROXY GOVCS GOCACHE')
    result = host.run(CONTEXTS['builder, login shell'](script))
    assert result.rc == 0, result.stderr
    assert 'go: downloading go1.99.0' in result.stderr
    seen = json.loads(result.stdout)
    assert '/modcache/golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64' in seen['GOROOT']
    lost = {k: (expected[k], seen[k]) for k in ('GOPRIVATE', 'GONOPROXY', 'GOVCS', 'GOCACHE')}
    assert lost == {'GOPRIVATE': (expected['GOPRIVATE'], ''), 'GONOPROXY': (expected['GONOPROXY'], ''),
                    'GOVCS': (expected['GOVCS'], ''), 'GOCACHE': (expected['GOCACHE'], '/home/builder/.cache/go-build')}


def test_builder_override_was_removed_and_the_rest_kept(host):
    record = host.file('/home/builder/.config/go/env')
    assert record.content_string == 'GOBIN=/home/builder/bin\n'
    assert (record.user, record.group, record.mode) == ('builder', 'builder', 0o600)
    assert go_env(host, 'builder, login shell', ['GOBIN']) == {'GOBIN': '/home/builder/bin'}
    assert host.check_output('ls -A /home/builder/.config/go | grep -c "^.tmp-" || true') == '0'


def test_every_toolchain_go_env_and_the_fact(host, expected, runtime):
    fact = json.loads(host.file(FACT).content_string)
    # Every GOROOT, not the go launcher's bin/.
    goroots = host.check_output('find /usr/local/lib/go -mindepth 1 -maxdepth 1 -type d ! -name ".*" '
                                '! -name bin').split()
    assert fact['command']['files'] == sorted(r + '/go.env' for r in goroots)
    assert fact['command']['env'] == {k: v for k, v in expected.items() if v}
    assert fact['command']['user_overrides'] == [] and fact['command']['unsupported_toolchains'] == []
    assert fact['runtime'] == {'env': runtime, 'files': RUNTIME_FILES}
    for goroot in goroots:
        text = host.file(goroot + '/go.env').content_string
        assert text.startswith('# This file contains the initial defaults for go command configuration.')
        assert 'GOTOOLCHAIN=local\n' in text and 'GOTOOLCHAIN=auto' not in text
        assert host.file(goroot + '/go.env').mode == 0o644


def test_runtime_files(host, runtime):
    for path in RUNTIME_FILES:
        record = host.file(path)
        assert (record.user, record.mode) == ('root', 0o644), path
    assert 'DefaultEnvironment=' in host.file(RUNTIME_FILES[2]).content_string
    assert host.check_output('bash -n %s && echo ok' % RUNTIME_FILES[1]) == 'ok'
    manager = host.check_output('systemctl show-environment').splitlines()
    for key, value in runtime.items():
        assert '%s=%s' % (key, value) in manager
