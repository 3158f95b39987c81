"""A role's internal variables as Ansible renders them, with the collection's filters by FQCN.

Loads the role's defaults and vars (every string trusted as a template, as Ansible trusts the
role's own files), applies overrides, and templates one expression. The collection loader is
installed by conftest.py, before any test imports the collection.
"""

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import SUPPORTED

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 templates every string: nothing to mark as trusted

    def trust_as_template(value):
        return value

ROOT = Path(__file__).resolve().parents[2]


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def render(role, expression, platform=('Debian', 'Debian'), **overrides):
    """The value of expression (e.g. '{{ __go_toolchain_errors }}') for role with overrides set, on the
    platform (os_family, distribution) at its first supported version: vars/main.yml reads its vars
    files through the platform_vars lookup, from role_path and the facts, as in a play."""
    version = next(v for d, v, _c in SUPPORTED if d == platform[1])
    variables = {'role_path': str(ROOT / 'roles' / role),
                 'ansible_facts': {'os_family': platform[0], 'distribution': platform[1],
                                   'distribution_version': version,
                                   'distribution_major_version': version.split('.', maxsplit=1)[0]}}
    for name in ('defaults', 'vars'):
        variables.update(_trusted(yaml.safe_load((ROOT / 'roles' / role / name / 'main.yml').read_text())))
    variables.update(overrides)
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


# Each role's argument_specs entry point, checked by the role's first task (plugins/action/role_check.py), the
# shared knobs of common's included; Ansible would add a validation task of its own for `main`.
ENTRY_POINTS = {'common': 'shared', 'go_toolchain': 'variables', 'go_env': 'variables', 'sysctl_tuning': 'variables',
                'build_cgroups': 'variables', 'go_cache': 'variables', 'go_cache_server': 'variables'}


def spec_options(role):
    """The options of role's meta/argument_specs.yml, at the entry point its variables are checked by."""
    specs = yaml.safe_load((ROOT / 'roles' / role / 'meta/argument_specs.yml').read_text())
    return specs['argument_specs'][ENTRY_POINTS.get(role, 'main')]['options']
