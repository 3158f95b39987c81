"""Every custom module documents exactly the options its argument_spec takes, with the same types.

The documentation is read the way users read it, through ansible-doc (doc fragments merged),
and the argument_spec is the one main() builds, captured before any argument is parsed.
"""

import json
import os
import subprocess
import sys

import pytest
from ansible.module_utils import basic

from ansible_collections.go_buildhost.buildhost.plugins.action import role_check
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import go_version, platforms

from .conftest import ROOT, load_library

MODULES = sorted(p.stem for p in (ROOT / 'library').glob('*.py'))
FQCN = ['go_buildhost.buildhost.' + name for name in MODULES]


class Captured(Exception):
    def __init__(self, spec):
        super().__init__('argument_spec captured')
        self.spec = spec


@pytest.fixture(scope='module')
def docs():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), '--json', '-t', 'module',
                           *FQCN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# Modules documented in library/ and carried out by an action plugin of the same name: the spec it validates.
ACTION_SPECS = {'go_release': go_version.RELEASE_ARGUMENT_SPEC, 'platform_check': platforms.CHECK_ARGUMENT_SPEC,
                'role_check': role_check.ARGUMENT_SPEC}


def argument_spec(monkeypatch, name):
    if name in ACTION_SPECS:
        assert not hasattr(load_library(name), 'main'), '%s: one implementation, the action plugin' % name
        return ACTION_SPECS[name]

    def capture(self, argument_spec=None, **kwargs):
        raise Captured(argument_spec)

    monkeypatch.setattr(basic.AnsibleModule, '__init__', capture)
    module = load_library(name)
    with pytest.raises(Captured) as captured:
        module.main()
    return captured.value.spec


def text_problems(value, where):
    """Descriptions must be a string or a list of strings (YAML turns "I(x): y" into a mapping)."""
    if isinstance(value, str):
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return []
    return ['%s is not text: %r' % (where, value)]


def description_problems(options, where):
    problems = []
    for name, option in options.items():
        problems.extend(text_problems(option.get('description'), '%s%s.description' % (where, name)))
        problems.extend(description_problems(option.get('suboptions') or {}, '%s%s.' % (where, name)))
    return problems


def compare(documented, spec, where):
    """Differences between documented options and an argument_spec, nested suboptions included."""
    problems = []
    for option in sorted(set(spec) - set(documented)):
        problems.append('%s%s is accepted but not documented' % (where, option))
    for option in sorted(set(documented) - set(spec)):
        problems.append('%s%s is documented but not accepted' % (where, option))
    for option in sorted(set(spec) & set(documented)):
        doc, arg = documented[option], spec[option]
        if doc.get('type', 'str') != arg.get('type', 'str'):
            problems.append('%s%s: documented type %s, accepted type %s' % (
                where, option, doc.get('type', 'str'), arg.get('type', 'str')))
        if bool(doc.get('required')) != bool(arg.get('required')):
            problems.append('%s%s: required differs' % (where, option))
        if sorted(map(str, doc.get('choices') or [])) != sorted(map(str, arg.get('choices') or [])):
            problems.append('%s%s: documented choices %s, accepted %s' % (
                where, option, doc.get('choices'), arg.get('choices')))
        if str(doc.get('default')) != str(arg.get('default')):
            problems.append('%s%s: documented default %r, actual %r' % (
                where, option, doc.get('default'), arg.get('default')))
        if arg.get('options') or doc.get('suboptions'):
            problems.extend(compare(doc.get('suboptions') or {}, arg.get('options') or {}, '%s%s.' % (where, option)))
    return problems


@pytest.mark.parametrize('name', MODULES)
def test_documentation_matches_the_argument_spec(name, docs, monkeypatch):
    fqcn = 'go_buildhost.buildhost.' + name
    assert fqcn in docs, 'ansible-doc does not know %s' % fqcn
    documentation = docs[fqcn]['doc']
    for section in ('short_description', 'description', 'options', 'author'):
        assert documentation.get(section), '%s: DOCUMENTATION has no %s' % (name, section)
    assert docs[fqcn]['examples'], '%s has no EXAMPLES' % name
    assert docs[fqcn]['return'], '%s has no RETURN' % name
    assert text_problems(documentation['description'], 'description') == []
    assert description_problems(documentation['options'], '') == []
    assert description_problems(docs[fqcn]['return'], 'RETURN ') == []
    spec = argument_spec(monkeypatch, name)
    assert compare(documentation['options'], spec, '') == []


def test_ansible_doc_renders_every_module():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), PAGER='cat', ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), '-t', 'module', *FQCN],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and 'ERROR' not in proc.stderr, proc.stderr
    for name in FQCN:
        assert '> MODULE %s ' % name in proc.stdout, name
    assert proc.stdout.count('lock_timeout') >= 7, 'the host_lock doc fragment is merged'
