"""The collection as it ships: its tarball, an install of it outside the repository, and the trees
ansible-test works on. Each ansible-core the collection claims (meta/runtime.yml) has a venv of its own.
"""

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = 'go_buildhost.buildhost'
# ansible-core release -> its venv (the Makefile builds both: venv, venv-2.17).
CORES = {'2.19': ROOT / '.venv', '2.17': ROOT / '.cache' / 'venv-2.17'}
LOGS = ROOT / '.cache' / 'logs'


def core_bin(core, tool):
    path = CORES[core] / 'bin' / tool
    if not path.exists():
        pytest.fail('no %s for ansible-core %s: run `make venv venv-2.17`' % (path, core))
    return path


def site_packages(core):
    """The venv's site-packages: its ansible_collections holds community.*, ansible.posix (the ansible package)."""
    return next((CORES[core] / 'lib').glob('python3*/site-packages'))


def clean_env(**extra):
    """The caller's environment without the project's Ansible settings (the Makefile exports ANSIBLE_CONFIG)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('ANSIBLE_')}
    env.update(ANSIBLE_FORCE_COLOR='0', PY_COLORS='0', ANSIBLE_NOCOLOR='1')
    env.update(extra)
    return env


def run(command, log_name, **kwargs):
    """Run a command, its output in .cache/logs/<log_name>.log; fail the test with its tail."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / ('%s.log' % log_name)
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, **kwargs)
    log.write_text('$ %s\n%s\n%s' % (' '.join(str(c) for c in command), proc.stdout, proc.stderr))
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).splitlines()[-80:]
        pytest.fail('%s failed (rc=%d); full log: %s\n%s' % (command[0], proc.returncode, log, '\n'.join(tail)),
                    pytrace=False)
    return proc


def working_tree_files():
    """The files git knows of or would add (tracked, plus untracked ones not ignored), as they are now."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split('\0')
    return [p for p in listed if p and os.path.lexists(ROOT / p)]


def copy_tree(dest, files):
    """Copy the files, links kept as links."""
    for rel in files:
        src, dst = ROOT / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, dst)


@pytest.fixture(scope='session')
def tarball(tmp_path_factory):
    """go_buildhost-buildhost-<version>.tar.gz, built by ansible-galaxy from this tree."""
    out = tmp_path_factory.mktemp('build')
    run([core_bin('2.19', 'ansible-galaxy'), 'collection', 'build', '--output-path', out, ROOT], 'collection-build',
        cwd=out, env=clean_env())
    (built,) = out.glob('go_buildhost-buildhost-*.tar.gz')
    return built


@pytest.fixture(scope='session')
def installed(tmp_path_factory, tarball):
    """The tarball installed into an empty collections directory outside the repository, the way a
    user installs it: offline, and without its dependency (community.general comes from the venv's
    ansible package)."""
    home = tmp_path_factory.mktemp('user')
    collections = home / 'collections'
    run([core_bin('2.19', 'ansible-galaxy'), 'collection', 'install', '--offline', '--no-deps', '-p', collections,
         tarball], 'collection-install', cwd=home, env=clean_env())
    return collections / 'ansible_collections' / 'go_buildhost' / 'buildhost'


def ansible_test_tree(tmp_path_factory, name, files):
    """A tree at .../ansible_collections/go_buildhost/buildhost, where ansible-test needs the collection."""
    base = tmp_path_factory.mktemp(name)
    tree = base / 'ansible_collections' / 'go_buildhost' / 'buildhost'
    tree.mkdir(parents=True)
    copy_tree(tree, files)
    return tree


@pytest.fixture(scope='session')
def shipped_tree(tmp_path_factory, tarball):
    """What ships, for ansible-test sanity: the tarball's content, with plugins/modules as a directory.

    ansible-test lists a collection's files without following links to directories, so it would see no
    module at all behind plugins/modules -> ../library. Here the modules are where a collection keeps
    them, and library/ (the same files) is left out.
    """
    base = tmp_path_factory.mktemp('sanity')
    tree = base / 'ansible_collections' / 'go_buildhost' / 'buildhost'
    tree.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(tree, filter='data')
    modules = tree / 'plugins' / 'modules'
    modules.unlink()
    shutil.copytree(tree / 'library', modules)
    shutil.rmtree(tree / 'library')
    return tree


@pytest.fixture(scope='session')
def source_tree(tmp_path_factory):
    """The whole working tree (tests/unit imports scripts/ too), for ansible-test units."""
    # collections/ansible_collections/go_buildhost/buildhost comes along: ansible.cfg finds the
    # collection through it when the tests run ansible-playbook on site.yml.
    return ansible_test_tree(tmp_path_factory, 'units', working_tree_files())


def ansible_test_env(core):
    """ansible-test's environment: a HOME of its own under .cache, where it keeps its sanity venvs, with
    the pip bootstrap it would otherwise download (tests/collection/pip_bootstrap.py)."""
    home = ROOT / '.cache' / 'ansible-test-home'
    cache = home / '.ansible' / 'test' / 'cache'
    cache.mkdir(parents=True, exist_ok=True)
    pip_version = {'2.19': '24_2', '2.17': '23_1_2'}[core]
    bootstrap = Path(__file__).with_name('pip_bootstrap.py')
    target = cache / ('get_pip_%s.py' % pip_version)
    if not target.exists() or target.read_bytes() != bootstrap.read_bytes():
        shutil.copy2(bootstrap, target)
    return clean_env(HOME=str(home), PATH='%s:%s' % (CORES[core] / 'bin', os.environ['PATH']))
