"""ansible-test sanity and units on each ansible-core the collection claims (meta/runtime.yml).

Both run on this machine with no container (--local): sanity installs each of its tests' Python
requirements into venvs of its own under .cache/ansible-test-home, from the package index.
"""

import pytest

from .conftest import CORES, ansible_test_env, core_bin, run

# pytest-xdist (--dist loadgroup): with test_ship.py on one worker (one tarball, one ansible-test home).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group('collection')]


@pytest.mark.parametrize('core', sorted(CORES))
def test_sanity(core, shipped_tree):
    run([core_bin(core, 'ansible-test'), 'sanity', '--local', '--requirements', '--python', '3.11', '--color', 'no'],
        'ansible-test-sanity-%s' % core, cwd=shipped_tree, env=ansible_test_env(core), timeout=1500)


# Known differences of an older ansible-core, file by file, each with its reason.
NOT_ON = {
    # awx/survey_answers.yml sets each answer with set_fact from a template: 2.17 has no native types
    # there, so a numeric survey answer reaches the roles as a string (go_toolchain_keep_versions: '1').
    '2.17': {'tests/unit/test_awx_survey.py'},
}


@pytest.mark.parametrize('core', sorted(CORES))
def test_units(core, source_tree):
    # The venv already holds pytest-xdist, pytest-mock and mock (requirements*.txt).
    skipped = NOT_ON.get(core, set())
    targets = sorted(str(p.relative_to(source_tree)) for p in (source_tree / 'tests' / 'unit').glob('test_*.py'))
    targets = [t for t in targets if t not in skipped] if skipped else []
    run([core_bin(core, 'ansible-test'), 'units', '--local', '--python', '3.11', '--color', 'no', *targets],
        'ansible-test-units-%s' % core, cwd=source_tree, env=ansible_test_env(core), timeout=900)
