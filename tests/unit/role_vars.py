"""A role's internal variables as Ansible renders them, with the collection's filters by FQCN.

Loads the role's defaults and vars (every string trusted as a template, as Ansible trusts the
role's own files), applies overrides, and templates one expression. The collection loader is
installed by conftest.py, before any test imports the collection.
"""

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

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
    platform (os_family, distribution): its vars files load over vars/main.yml as tasks/set_vars.yml
    loads them."""
    variables = {}
    for name in ('defaults', 'vars'):
        variables.update(_trusted(yaml.safe_load((ROOT / 'roles' / role / name / 'main.yml').read_text())))
    for name in dict.fromkeys(platform):
        path = ROOT / 'roles' / role / 'vars' / ('%s.yml' % name)
        if path.exists():
            variables.update(_trusted(yaml.safe_load(path.read_text())))
    variables.update(overrides)
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))
