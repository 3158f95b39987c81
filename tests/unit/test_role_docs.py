"""Every role's README variable table, argument_specs and defaults agree."""

import json
import re
from pathlib import Path

import pytest
import yaml

from .role_vars import spec_options

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob('roles/*/meta/argument_specs.yml'))
# The shared knobs are named for the collection, not for the role that declares them.
PREFIX = {'common': 'go_buildhost_'}
COMMON = 'go_buildhost.buildhost.common'
ROW = re.compile(r'^\| `(?P<name>[a-z0-9_]+)` \| `(?P<default>.*?)` \|')


def readme_rows(role):
    rows = {}
    for line in (ROOT / 'roles' / role / 'README.md').read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group('name')] = match.group('default')
    return rows


def render(value):
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value)


@pytest.mark.parametrize('role', ROLES)
def test_readme_table_matches_argument_specs(role):
    options = spec_options(role)
    rows = readme_rows(role)
    assert sorted(rows) == sorted(options)
    for name, option in options.items():
        assert rows[name] == render(option.get('default')), name


@pytest.mark.parametrize('role', ROLES)
def test_argument_specs_match_defaults(role):
    options = spec_options(role)
    defaults = yaml.safe_load((ROOT / 'roles' / role / 'defaults/main.yml').read_text())
    public = {k for k in defaults if not k.startswith('__')}
    assert public == set(options), 'defaults/main.yml and argument_specs list different variables'
    for name, value in defaults.items():
        if isinstance(value, str) and '{{' in value:
            continue
        assert options[name].get('default') == value, name
        assert name.startswith(PREFIX.get(role, role + '_')), name


@pytest.mark.parametrize('role', ROLES)
def test_every_public_variable_has_a_comment(role):
    lines = (ROOT / 'roles' / role / 'defaults/main.yml').read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r'^[a-z]', line):
            assert lines[number - 1].startswith('#'), 'no comment above %s' % line


@pytest.mark.parametrize('role', [r for r in ROLES if r != 'common'])
def test_every_role_gets_the_shared_knobs_from_common(role):
    meta = yaml.safe_load((ROOT / 'roles' / role / 'meta/main.yml').read_text())
    assert COMMON in [d if isinstance(d, str) else d.get('role') for d in meta['dependencies']]
    shared = set(spec_options('common'))
    assert not shared & set(spec_options(role)), 'declared once, in roles/common'
    for path in (ROOT / 'roles' / role).rglob('*.yml'):
        text = path.read_text()
        for name in shared:
            assert not re.search(name + r'\s*\|\s*default\(', text), '%s: %s has its default in roles/common' % (
                path.relative_to(ROOT), name)


@pytest.mark.parametrize('role', ROLES)
def test_no_role_includes_another(role):
    """Roles depend in one direction, through meta dependencies and what they publish on the host."""
    for path in (ROOT / 'roles' / role).rglob('*.yml'):
        tasks = path.read_text()
        assert not re.search(r'(include|import)_role:', tasks), path.relative_to(ROOT)


def test_go_toolchain_maps_every_supported_architecture():
    arch_map = yaml.safe_load((ROOT / 'roles/go_toolchain/vars/main.yml').read_text())['__go_toolchain_arch_map']
    specs = spec_options('go_toolchain')['go_toolchain_arch']['choices']
    assert set(arch_map.values()) == set(specs) - {''}
    for fact, goarch in {'x86_64': 'amd64', 'aarch64': 'arm64', 'armv7l': 'armv6l', 'i686': '386',
                         'ppc64le': 'ppc64le', 's390x': 's390x'}.items():
        assert arch_map[fact] == goarch
