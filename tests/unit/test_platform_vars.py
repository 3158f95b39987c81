"""The roles' platform vars files (vars/<os family or distribution>[_<version>].yml) and how they load.

tasks/set_vars.yml loads, each over the one before, the OS family's file, the distribution's, then
its major and exact version's. Every file must name a supported platform, a distribution's file may
only override what its family's file sets, and set_vars must run before anything else in the role.
"""

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import SUPPORTED

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob('roles/*/tasks/set_vars.yml'))
# Debian and Ubuntu are both of the Debian OS family in Ansible's facts.
FAMILY = {'Debian': 'Debian', 'Ubuntu': 'Debian'}
NAMES = (set(FAMILY.values()) | {d for d, _v, _c in SUPPORTED}
         | {'%s_%s' % (d, v.split('.', maxsplit=1)[0]) for d, v, _c in SUPPORTED}
         | {'%s_%s' % (d, v) for d, v, _c in SUPPORTED})


def load(path):
    return yaml.safe_load(path.read_text())


def test_the_roles_with_platform_values_load_them():
    assert ROLES == ['build_cgroups', 'go_cache', 'sysctl_tuning']


@pytest.mark.parametrize('role', ROLES)
def test_set_vars_runs_first_and_for_every_tag(role):
    first = load(ROOT / 'roles' / role / 'tasks' / 'main.yml')[0]
    assert first['ansible.builtin.import_tasks'] == 'set_vars.yml'
    assert first['tags'] == ['always']


@pytest.mark.parametrize('role', ROLES)
def test_set_vars_loads_family_distribution_major_and_exact_version_in_that_order(role):
    task, = load(ROOT / 'roles' / role / 'tasks' / 'set_vars.yml')
    names = [re.sub(r"\{\{ ansible_facts\['(\w+)'\] \}\}", r'<\1>', item) for item in task['loop']]
    assert names == ['<os_family>.yml', '<distribution>.yml', '<distribution>_<distribution_major_version>.yml',
                     '<distribution>_<distribution_version>.yml']
    assert task['when'].endswith('is file')


@pytest.mark.parametrize('role', ROLES)
def test_every_vars_file_names_a_supported_platform_and_holds_internals_only(role):
    files = [p for p in (ROOT / 'roles' / role / 'vars').glob('*.yml') if p.stem not in ('main', 'absent')]
    assert files, 'set_vars.yml with no platform file'
    for path in files:
        assert path.stem in NAMES, '%s names no supported platform' % path
        assert all(key.startswith('__%s_' % role) for key in load(path)), path


@pytest.mark.parametrize('role', ROLES)
def test_a_distributions_file_overrides_only_what_its_family_sets(role):
    family = load(ROOT / 'roles' / role / 'vars' / 'Debian.yml')
    for distribution in sorted({d for d, _v, _c in SUPPORTED} - {'Debian'}):
        path = ROOT / 'roles' / role / 'vars' / ('%s.yml' % distribution)
        if path.exists():
            assert set(load(path)) <= set(family), path
