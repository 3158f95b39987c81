"""The supported platforms are named once in code (module_utils/platforms.py) and the same everywhere else.

The README's "Supported platforms" section (its list and its test matrix), its requirements, and every
role's meta/main.yml galaxy platforms agree with the table the roles' check refuses hosts by.
"""

import re

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import platforms

from .conftest import ROOT

ROLES = sorted(p.parent.parent.name for p in ROOT.glob('roles/*/meta/main.yml'))
NAMES = ['%s %s' % (distribution, version) for distribution, version, _codename in platforms.SUPPORTED]


def section():
    text = (ROOT / 'README.md').read_text()
    assert '\n## Supported platforms\n' in text, 'README.md has no "Supported platforms" section'
    return text.split('\n## Supported platforms\n', 1)[1].split('\n## ', 1)[0]


def tables():
    """Each markdown table of the section as a list of rows, each a list of cells (header first)."""
    found, current = [], []
    for line in section().splitlines() + ['']:
        if line.startswith('|'):
            cells = [cell.strip() for cell in line.strip().strip('|').split(' | ')]
            if not all(re.fullmatch(r'-+', cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def test_the_readme_lists_the_supported_releases():
    releases = tables()[0]
    assert releases[0][:3] == ['Distribution', 'Release', 'Codename']
    assert [tuple(row[:3]) for row in releases[1:]] == list(platforms.SUPPORTED)
    for distribution, _release, _codename, matched in releases[1:]:
        assert matched.startswith('`%s`' % platforms.MATCHED_FACT[distribution]), matched


def test_the_test_matrix_has_one_column_per_supported_release():
    matrix = tables()[1]
    assert matrix[0] == ['Scenario', *NAMES]
    assert all(len(row) == len(matrix[0]) for row in matrix), 'a row of the matrix has a cell too many or too few'


def test_the_test_matrix_names_every_molecule_scenario_and_the_suites():
    labels = [row[0] for row in tables()[1][1:]]
    scenarios = sorted(p.parent.name for p in ROOT.glob('molecule/*/molecule.yml'))
    for scenario in scenarios:
        assert any(label.startswith('Molecule `%s`' % scenario) for label in labels), scenario
    assert any('`tests/integration`' in label for label in labels)
    assert any('`tests/collection`' in label for label in labels)


def test_the_readme_shows_the_message_a_rocky_host_gets():
    message = platforms.platform_errors({'distribution': 'Rocky', 'distribution_version': '9.3',
                                         'distribution_major_version': '9'})
    assert '\n> %s\n' % message[0] in section()


def test_the_requirements_name_the_supported_releases():
    text = (ROOT / 'README.md').read_text()
    requirements = text.split('\n## Requirements\n', 1)[1].split('\n## ', 1)[0]
    managed = requirements.split('- Managed hosts:', 1)[1].split('\n- ', 1)[0]
    named = re.findall(r'(Debian|Ubuntu|or) ([0-9.]+) \(([a-z]+)\)', managed)
    versions = [(version, codename) for _word, version, codename in named]
    assert versions == [(version, codename) for _distribution, version, codename in platforms.SUPPORTED]


@pytest.mark.parametrize('role', ROLES)
def test_every_roles_galaxy_platforms_are_the_supported_ones(role):
    meta = yaml.safe_load((ROOT / 'roles' / role / 'meta/main.yml').read_text())
    assert meta['galaxy_info']['platforms'] == platforms.galaxy_platforms()
