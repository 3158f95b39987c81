"""Proof that it ships: the tarball ansible-galaxy builds, installed where a user would install it,
documents itself and converges a fresh host from a playbook that knows nothing of this repository."""

import json
import tarfile
import textwrap
import uuid

import pytest

from tests.harness import MIRROR, PlayResult, docker, start_systemd_container

from .conftest import CORES, ROOT, clean_env, core_bin, run, site_packages

# pytest-xdist (--dist loadgroup): one worker builds the tarball once and runs these in order.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group('collection')]

ROLES = sorted(p.parent.parent.name for p in (ROOT / 'roles').glob('*/meta/argument_specs.yml'))
MODULES = sorted(p.stem for p in (ROOT / 'library').glob('*.py'))
# What the user's playbook applies, in site.yml's order.
PLAY_ROLES = ['go_toolchain', 'sysctl_tuning', 'build_cgroups', 'go_cache', 'go_env']


def members(tarball):
    with tarfile.open(tarball) as archive:
        return {m.name: m for m in archive.getmembers()}


def test_the_tarball_holds_the_collection_and_none_of_the_projects_tooling(tarball):
    found = members(tarball)
    names = set(found)
    for kept in ('MANIFEST.json', 'galaxy.yml', 'meta/runtime.yml', 'meta/execution-environment.yml',
                 'CHANGELOG.rst', 'changelogs/changelog.yaml', 'requirements-ee.txt', 'bindep.txt',
                 'plugins/filter/go_env.py', 'plugins/module_utils/go_version.py', 'plugins/callback/drift_report.py',
                 'tests/unit/conftest.py', *('roles/%s/meta/argument_specs.yml' % r for r in ROLES)):
        assert kept in names or kept == 'galaxy.yml', kept
    # plugins/modules is a link to library/, and the modules behind it ship.
    link = found['plugins/modules']
    assert link.issym() and link.linkname == '../library'
    assert {'library/%s.py' % m for m in MODULES} <= names
    left_out = ('.venv/', '.cache/', '.git/', 'collections/ansible_collections', 'tests/integration/',
                'tests/molecule/', 'tests/collection/', 'tests/fleet/', 'tests/vm/', 'tests/harness.py', 'molecule/',
                'scripts/', 'bench/', 'inventory/', 'changelogs/.plugin-cache.yaml')
    assert not [n for n in names if n.startswith(left_out) or '__pycache__' in n]


def test_the_installed_copy_is_the_only_one_a_user_sees(installed):
    home = installed.parents[2].parent
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed.parents[2]))
    listed = run([core_bin('2.19', 'ansible-galaxy'), 'collection', 'list', 'go_buildhost.buildhost', '--format',
                  'json'], 'collection-list', cwd=home, env=env)
    assert list(json.loads(listed.stdout)) == [str(installed.parents[2] / 'ansible_collections')]
    assert (installed / 'plugins' / 'modules' / 'go_release.py').is_file()


@pytest.mark.parametrize('core', sorted(CORES))
def test_ansible_doc_renders_every_module_and_role(core, installed):
    home = installed.parents[2].parent
    env = clean_env(ANSIBLE_COLLECTIONS_PATH='%s:%s' % (installed.parents[2], site_packages(core)))
    doc = core_bin(core, 'ansible-doc')
    listed = json.loads(run([doc, '-l', '-j', 'go_buildhost.buildhost'], 'ansible-doc-list-%s' % core,
                            cwd=home, env=env).stdout)
    assert sorted(name.rsplit('.', 1)[1] for name in listed) == MODULES
    modules = run([doc, *('go_buildhost.buildhost.%s' % m for m in MODULES)], 'ansible-doc-modules-%s' % core,
                  cwd=home, env=env)
    assert '[WARNING]' not in modules.stderr, modules.stderr
    for module in MODULES:
        assert '> MODULE go_buildhost.buildhost.%s' % module in modules.stdout, module
    roles = run([doc, '-t', 'role', *('go_buildhost.buildhost.%s' % r for r in ROLES)], 'ansible-doc-roles-%s' % core,
                cwd=home, env=env)
    assert '[WARNING]' not in roles.stderr, roles.stderr
    for role in ROLES:
        assert '> ROLE: *go_buildhost.buildhost.%s*' % role in roles.stdout, role
    # No entry point `main`, for which Ansible would insert a task of its own: each role's first task checks
    # its variables (`variables`) and common's shared knobs (`shared`).
    assert roles.stdout.count('ENTRY POINT: *main*') == 0
    assert roles.stdout.count('ENTRY POINT: *variables*') == len(ROLES) - 1
    assert roles.stdout.count('ENTRY POINT: *shared*') == 1


@pytest.fixture
def host():
    if not (MIRROR / 'index.json').exists():
        pytest.fail('no Go mirror fixture: run `make mirror`')
    name = 'gbh-ship-%s' % uuid.uuid4().hex[:8]
    try:
        start_systemd_container(name, with_mirror=True)
        yield name
    finally:
        docker('rm', '-f', name, check=False)


def test_a_users_playbook_converges_a_fresh_host_then_changes_nothing(installed, host):
    home = installed.parents[2].parent
    collections_path = '%s:%s' % (installed.parents[2], site_packages('2.19'))
    (home / 'ansible.cfg').write_text('[defaults]\ncollections_path = %s\ninterpreter_python = auto_silent\n'
                                      % collections_path)
    (home / 'hosts.yml').write_text(json.dumps({'all': {'children': {'go_buildhosts': {'hosts': {host: {
        'ansible_connection': 'community.docker.docker'}}}}}}))
    (home / 'site.yml').write_text(textwrap.dedent('''\
        ---
        - name: A Go build host from go_buildhost.buildhost
          hosts: go_buildhosts
          become: true
          roles:
        ''') + ''.join('    - go_buildhost.buildhost.%s\n' % role for role in PLAY_ROLES))
    (home / 'vars.json').write_text(json.dumps({
        # The Go mirror fixture: its index on this machine, its archives on the host's loopback.
        'go_toolchain_version': '1.27', 'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/',
        # The container shares this machine's cgroups; promtool is not in the test image.
        'build_cgroups_require_unified': False, 'go_cache_alert_rules_enabled': False}))
    env = clean_env(ANSIBLE_CONFIG=str(home / 'ansible.cfg'), ANSIBLE_COLLECTIONS_PATH=collections_path,
                    ANSIBLE_STDOUT_CALLBACK='ansible.posix.json')
    command = [core_bin('2.19', 'ansible-playbook'), '-i', 'hosts.yml', '-e', '@vars.json', 'site.yml']
    results = []
    for attempt in ('first', 'second'):
        proc = run(command, 'collection-user-play-%s' % attempt, cwd=home, env=env, timeout=900)
        results.append(PlayResult(proc, host))
    first, again = results
    assert not first.failed and first.changed > 0, first.messages()
    assert not again.failed, again.messages()
    assert again.changed == 0, [name for name, r in again.tasks.items() if r.get('changed')]
    assert docker('exec', host, 'go', 'version').stdout.startswith('go version go1.27')
