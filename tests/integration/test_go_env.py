"""go_env through ansible-playbook against a real container
(Debian 12 in make test, every platform in make test-platforms).

A toolchain installed in the same site.yml run gets its go.env; the no-op costs two module calls;
the runtime layers come and go; users' `go env -w` overrides are reported, then removed; check
mode writes nothing; and every kind of bad input stops the run in the validation task with a
message naming the variable, with nothing written. The tests run in file order and share one
container.
"""

import json

import pytest

from .conftest import MIRROR

ROOT = '/usr/local/lib/go'
FACT = '/etc/ansible/facts.d/go_env.fact'
PROFILE = '/etc/profile.d/go-buildhost-go-runtime.sh'
SYSTEMD = '/etc/systemd/system.conf.d/60-go-buildhost-go-runtime.conf'
BASE = {'go_toolchain_release_index': str(MIRROR / 'index.json'), 'go_toolchain_mirror': 'http://127.0.0.1:8080/'}
PLAYBOOK = 'playbooks/go_env.yml'
GO_KEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8'
GO_ENV_PLAY = 'Configure the Go environment for every shell, user and service'
# site.yml, limited to the two concerns under test (as an operator would run it).
TAGS = ('--tags', 'go_toolchain,go_env')


@pytest.fixture(scope='module')
def versions(releases):
    ordered = sorted(releases, key=lambda v: tuple(int(p) for p in v.split('.')))
    return ordered[-2], ordered[-1]


def go_env(target, *keys, user=None):
    command = '/usr/local/bin/go env -json %s' % ' '.join(keys)
    if user:
        command = 'su - %s -c "%s"' % (user, command)
    return json.loads(target.sh(command))


def snapshot(target):
    """Everything go_env may write, to prove a refused run changed nothing."""
    paths = '%s/*/go.env /etc/environment %s %s %s /home/dev/.config/go/env' % (ROOT, FACT, PROFILE, SYSTEMD)
    return target.sh('for f in %s; do if [ -e "$f" ]; then sha256sum "$f"; else echo "absent $f"; fi; done' % paths)


def go_env_tasks(result):
    """The go_env tasks that ran on the host (skipped ones cost nothing)."""
    ran = {}
    for play in result.data['plays']:
        if play['play']['name'] != GO_ENV_PLAY:
            continue
        for task in play['tasks']:
            outcome = next(iter(task['hosts'].values()), {})
            if not outcome.get('skipped'):
                ran[task['task']['name']] = outcome
    return ran


def test_site_yml_writes_go_env_of_the_toolchain_it_installs(target, versions):
    old, new = versions
    result = target.play(dict(BASE, go_toolchain_version=old), *TAGS)
    assert not result.failed, result.messages()
    assert go_env(target, 'GOTOOLCHAIN', 'GOPROXY', 'GOSUMDB') == {
        'GOTOOLCHAIN': 'local', 'GOPROXY': 'https://proxy.golang.org,direct', 'GOSUMDB': 'sum.golang.org'}

    # The upgrade and the go.env of the new toolchain happen in one run, although the
    # facts of that run were gathered before the install.
    result = target.play(dict(BASE, go_toolchain_version=new), *TAGS)
    assert not result.failed, result.messages()
    step = result.result("Ensure every Go toolchain's go.env")
    assert '%s/%s/go.env' % (ROOT, new) in step['changed_files']
    assert go_env(target, 'GOTOOLCHAIN', 'GOVERSION') == {'GOTOOLCHAIN': 'local', 'GOVERSION': 'go%s' % new}
    for version in (old, new):
        assert 'GOTOOLCHAIN=local\n' in target.sh('cat %s/%s/go.env' % (ROOT, version))
    fact = json.loads(target.sh('cat %s' % FACT))
    assert fact['command']['files'] == ['%s/%s/go.env' % (ROOT, v) for v in (old, new)]


def test_noop_costs_one_module_call(target, versions):
    settings = dict(BASE, go_toolchain_version=versions[1])
    # Converged first here, not by the test before: this test also runs alone (pytest -k).
    first = target.play(settings, *TAGS)
    assert not first.failed, first.messages()
    result = target.play(settings, *TAGS)
    assert not result.failed and result.changed == 0, result.messages()
    ran = go_env_tasks(result)
    # Modules by their short name: the tasks call them by FQCN (go_buildhost.buildhost.go_env_file).
    action = {name: outcome.get('action', '').rsplit('.', 1)[-1] for name, outcome in ran.items()}
    calls = [name for name in ran if action[name] == 'go_env_file']
    # role_check runs on the controller: with the play's facts and no probe it calls no module on the host.
    others = [name for name in ran
              if action[name] not in ('go_env_file', 'gather_facts', 'role_check')]
    assert len(calls) == 1 and others == [], ran.keys()


def test_settings_reach_root_and_a_user(target):
    target.sh('id dev >/dev/null 2>&1 || useradd -m -s /bin/bash dev')
    result = target.play({'go_env_proxy': ['https://goproxy.corp.example.com', 'https://proxy.golang.org', 'direct'],
                          'go_env_private': ['*.corp.example.com'], 'go_env_nosumdb': ['mirror.example.net'],
                          'go_env_flags': ['-mod=readonly', '-ldflags=-s -w']}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    want = {'GOPROXY': 'https://goproxy.corp.example.com,https://proxy.golang.org,direct',
            'GOPRIVATE': '*.corp.example.com', 'GONOSUMDB': '*.corp.example.com,mirror.example.net',
            'GONOPROXY': '*.corp.example.com', 'GOFLAGS': "-mod=readonly '-ldflags=-s -w'"}
    assert go_env(target, *want) == want
    assert go_env(target, *want, user='dev') == want


def test_check_mode_writes_nothing(target):
    before = snapshot(target)
    result = target.play({'go_env_private': ['other.example.com'], 'go_env_gogc': 150}, '--check', '--diff',
                         playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    outcome = result.result("Ensure every Go toolchain's go.env")
    assert outcome['changed'], outcome
    assert any(p.endswith('/go.env') for p in outcome['changed_files']), 'GOPRIVATE goes to go.env'
    assert outcome['runtime']['changed_files'], 'GOGC goes to the runtime layers'
    assert snapshot(target) == before


def test_runtime_layers_come_and_go(target):
    result = target.play({'go_env_gogc': 150, 'go_env_memlimit': '2GiB', 'go_env_runtime_layers': ['environment']},
                         playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    assert 'GOGC=150\nGOMEMLIMIT=2GiB\n' in target.sh('cat /etc/environment') + '\n'
    assert target.sh('ls %s %s 2>/dev/null; true' % (PROFILE, SYSTEMD)) == ''
    assert 'GOGC=150' in target.sh('su - dev -c env')

    result = target.play({'go_env_gogc': 150, 'go_env_memlimit': '2GiB'}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    assert 'GOGC=150' in target.sh('systemd-run --quiet --wait --pipe env')
    assert "export GOGC='150'" in target.sh('cat %s' % PROFILE)

    result = target.play({}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    assert 'GO' not in target.sh('cat /etc/environment')
    assert target.sh('ls %s %s 2>/dev/null; true' % (PROFILE, SYSTEMD)) == ''
    assert 'GOGC' not in target.sh('systemd-run --quiet --wait --pipe env')
    assert json.loads(target.sh('cat %s' % FACT))['runtime'] == {'env': {}, 'files': []}


def test_user_overrides_are_reported_then_removed(target):
    target.sh('su - dev -c "go env -w GOPROXY=https://user.example.com GOTOOLCHAIN=auto GOBIN=/home/dev/bin"')
    assert go_env(target, 'GOPROXY', user='dev')['GOPROXY'] == 'https://user.example.com'
    # The file's mode is the user's umask's: 644 on Debian 12, 664 where pam_umask gives a user with a
    # group of its own umask 002 (Debian 13, Ubuntu). The role keeps it, whichever it is.
    made = target.sh('stat -c "%U %a" /home/dev/.config/go/env')
    assert made.split()[0] == 'dev' and made.split()[1] in ('644', '664'), made

    result = target.play({}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    step = result.result("Ensure every Go toolchain's go.env")
    assert step['changed'] is True  # the fact now lists the overrides
    warnings = ' '.join(step.get('warnings', []))
    assert '/home/dev/.config/go/env (user dev) overrides GOPROXY=https://user.example.com' in warnings
    assert 'go_env_enforce: true' in warnings
    fact = json.loads(target.sh('cat %s' % FACT))
    assert sorted(o['key'] for o in fact['command']['user_overrides']) == ['GOPROXY', 'GOTOOLCHAIN']
    assert go_env(target, 'GOPROXY', user='dev')['GOPROXY'] == 'https://user.example.com'

    result = target.play({'go_env_enforce': True}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    assert target.sh('cat /home/dev/.config/go/env') == 'GOBIN=/home/dev/bin'
    assert target.sh('stat -c "%U %a" /home/dev/.config/go/env') == made
    assert go_env(target, 'GOPROXY', 'GOTOOLCHAIN', user='dev') == {
        'GOPROXY': 'https://proxy.golang.org,direct', 'GOTOOLCHAIN': 'local'}
    assert target.play({'go_env_enforce': True}, playbook=PLAYBOOK).changed == 0


# ---- bad input: the validation task fails, naming the variable; nothing is written ----

@pytest.mark.parametrize('extra_vars,fragments', [
    ({'go_env_proxy': ['ftp://x']}, ['go_env_proxy element 1', 'scheme ftp://', 'https://, http:// and file://']),
    ({'go_env_proxy': ['https://proxy.golang.org', '', 'direct']}, ['go_env_proxy has an empty element']),
    ({'go_env_sumdb': GO_KEY.replace('+033de0ae+', '+033de0af+')},
     ['go_env_sumdb', 'is not a valid checksum database key', 'expected 033de0ae', 'name+hash+key']),
    ({'go_env_memlimit': '3GB'}, ['go_env_memlimit', "Go's size syntax", 'Write 3GiB']),
    ({'go_env_gogc': -5}, ['go_env_gogc', 'integer >= 0', 'write off']),
    ({'go_env_private': ['corp.example.com', 'github.com/acme private']}, ['go_env_private element', 'whitespace']),
    ({'go_env_nosumdb': 'corp.example.com, github.com/acme'}, ['go_env_nosumdb element', 'whitespace']),
    ({'go_env_sumdb': 'off'}, ['go_env_sumdb is "off"', 'module integrity', 'go_env_allow_insecure: true']),
    ({'go_env_insecure': ['git.corp.example.com']}, ['go_env_insecure is set', 'module integrity']),
    ({'go_env_flags': ['-insecure']}, ['go_env_flags contains -insecure', 'module integrity']),
    ({'go_env_extra': {'GOGC': '50'}}, ['go_env_extra sets GOGC: use go_env_gogc instead']),
], ids=['proxy-ftp', 'proxy-empty-element', 'sumdb-bad-key', 'memlimit-3GB', 'gogc-negative',
        'pattern-with-space', 'pattern-string-with-spaces', 'sumdb-off', 'goinsecure', 'flags-insecure',
        'extra-runtime-key'])
@pytest.mark.refusal_matrix
def test_bad_input_is_refused_before_anything_is_written(target, extra_vars, fragments):
    before = snapshot(target)
    result = target.play(extra_vars, playbook=PLAYBOOK)
    assert result.failed
    failing = result.result('Fail with every invalid go_env variable')
    assert failing.get('failed'), 'the validation task, not a later one, must stop the run'
    for fragment in fragments:
        assert fragment in failing['msg'], failing['msg']
    assert 'Nothing was written.' in failing['msg']
    assert not [t for t in result.tasks if t.startswith("Ensure every Go toolchain's go.env")]
    assert snapshot(target) == before


def test_several_bad_variables_are_reported_together(target):
    result = target.play({'go_env_proxy': ['ftp://x'], 'go_env_memlimit': '3GB', 'go_env_gogc': '-5'},
                         playbook=PLAYBOOK)
    message = result.result('Fail with every invalid go_env variable')['msg']
    assert 'go_env_proxy' in message and 'go_env_memlimit' in message and 'go_env_gogc' in message


def test_the_opt_in_allows_gosumdb_off(target):
    result = target.play({'go_env_sumdb': 'off', 'go_env_allow_insecure': True}, playbook=PLAYBOOK)
    assert not result.failed, result.messages()
    assert go_env(target, 'GOSUMDB') == {'GOSUMDB': 'off'}
    result = target.play({}, playbook=PLAYBOOK)
    assert go_env(target, 'GOSUMDB') == {'GOSUMDB': 'sum.golang.org'}
