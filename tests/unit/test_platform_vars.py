"""The roles' platform vars files (vars/<os family or distribution>[_<version>].yml) and how they load.

vars/main.yml reads them through the platform_vars lookup (plugins/lookup/platform_vars.py), each over
the one before: the OS family's file, the distribution's, then its major and exact version's. Every
file must name a supported platform, a distribution's file may only override what its family's file
sets, and every value a file sets is a variable of vars/main.yml.
"""

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import SUPPORTED, platform_vars_files

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted({p.parent.parent.name for p in ROOT.glob('roles/*/vars/*.yml') if p.stem not in ('main', 'absent')})
# Debian and Ubuntu are both of the Debian OS family in Ansible's facts.
FAMILY = {'Debian': 'Debian', 'Ubuntu': 'Debian'}
NAMES = (set(FAMILY.values()) | {d for d, _v, _c in SUPPORTED}
         | {'%s_%s' % (d, v.split('.', maxsplit=1)[0]) for d, v, _c in SUPPORTED}
         | {'%s_%s' % (d, v) for d, v, _c in SUPPORTED})


def load(path):
    return yaml.safe_load(path.read_text())


def test_the_roles_with_platform_values_load_them():
    assert ROLES == ['build_cgroups', 'go_cache', 'go_cache_server', 'sysctl_tuning']


@pytest.mark.parametrize('role', ROLES)
def test_vars_main_reads_every_platform_value_through_the_lookup(role):
    variables = load(ROOT / 'roles' / role / 'vars' / 'main.yml')
    assert variables['__%s_platform' % role].strip() == (
        "{{ query('go_buildhost.buildhost.platform_vars', role_path ~ '/vars', facts=ansible_facts) | first }}")
    keys = {key for p in (ROOT / 'roles' / role / 'vars').glob('*.yml') if p.stem not in ('main', 'absent')
            for key in load(p)}
    for key in keys:
        assert variables[key] == '{{ __%s_platform.%s }}' % (role, key), key
    assert not (ROOT / 'roles' / role / 'tasks' / 'set_vars.yml').exists(), 'no include_vars task in every run'


def test_the_files_load_family_distribution_major_and_exact_version_in_that_order():
    facts = {'os_family': 'Debian', 'distribution': 'Ubuntu', 'distribution_major_version': '24',
             'distribution_version': '24.04'}
    assert platform_vars_files(facts) == ['Debian.yml', 'Ubuntu.yml', 'Ubuntu_24.yml', 'Ubuntu_24.04.yml']
    with pytest.raises(ValueError, match='ansible_facts.os_family, ansible_facts.distribution_version'):
        platform_vars_files({'distribution': 'Ubuntu', 'distribution_major_version': '24'})


def lookup(directory, facts):
    module = lookup_loader.get('go_buildhost.buildhost.platform_vars', loader=DataLoader())
    return module.run([str(directory)], variables={}, facts=facts)


def test_the_lookup_merges_each_file_over_the_one_before_and_skips_the_missing(tmp_path):
    (tmp_path / 'Debian.yml').write_text('__r_a: family\n__r_b: family\n')
    (tmp_path / 'Ubuntu.yml').write_text('__r_b: distribution\n')
    (tmp_path / 'Ubuntu_24.04.yml').write_text('__r_c: exact\n')
    (tmp_path / 'Ubuntu_22.04.yml').write_text('__r_c: another release\n')
    facts = {'os_family': 'Debian', 'distribution': 'Ubuntu', 'distribution_major_version': '24',
             'distribution_version': '24.04'}
    assert lookup(tmp_path, facts) == [{'__r_a': 'family', '__r_b': 'distribution', '__r_c': 'exact'}]
    assert lookup(tmp_path, dict(facts, distribution='Debian', distribution_major_version='12',
                                 distribution_version='12.7')) == [{'__r_a': 'family', '__r_b': 'family'}]


def test_the_lookup_refuses_a_file_that_is_not_a_mapping_and_facts_it_lacks(tmp_path):
    (tmp_path / 'Debian.yml').write_text('- a list\n')
    facts = {'os_family': 'Debian', 'distribution': 'Debian', 'distribution_major_version': '12',
             'distribution_version': '12.7'}
    with pytest.raises(AnsibleLookupError, match='holds no mapping'):
        lookup(tmp_path, facts)
    with pytest.raises(AnsibleLookupError, match='gather them'):
        lookup(tmp_path, {})


@pytest.mark.parametrize('role', ROLES)
def test_every_vars_file_names_a_supported_platform_and_holds_internals_only(role):
    files = [p for p in (ROOT / 'roles' / role / 'vars').glob('*.yml') if p.stem not in ('main', 'absent')]
    assert files, 'a role with platform values has their files'
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
