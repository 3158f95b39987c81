"""Every filter the collection's FilterModules expose is documented (plugins/filter/<name>.yml), and nothing else is.

The documentation is read the way users read it, through ansible-doc, and the filters are the ones each
plugins/filter/*.py's FilterModule().filters() returns.
"""

import importlib
import inspect
import json
import os
import subprocess
import sys

import pytest

from .conftest import COLLECTION, ROOT

FILES = sorted(p.stem for p in (ROOT / 'plugins' / 'filter').glob('*.py') if p.stem != '__init__')
NAMESPACE = 'go_buildhost.buildhost.'


def exposed_filters():
    """{filter name: function} over every FilterModule of the collection."""
    filters = {}
    for name in FILES:
        module = importlib.import_module('%s.plugins.filter.%s' % (COLLECTION, name))
        for filter_name, function in module.FilterModule().filters().items():
            assert filter_name not in filters, '%s is exposed twice' % filter_name
            filters[filter_name] = function
    return filters


FILTERS = exposed_filters()
FQCN = [NAMESPACE + name for name in sorted(FILTERS)]


def ansible_doc(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope='module')
def docs():
    return ansible_doc('--json', '-t', 'filter', *FQCN)


def test_the_filter_files_expose_filters():
    assert FILES, 'no plugins/filter/*.py found'
    assert FILTERS, 'the FilterModules expose no filter'


def test_the_documented_filters_are_the_exposed_ones(docs):
    listed = set(ansible_doc('--list', '--json', '-t', 'filter', NAMESPACE.rstrip('.')))
    assert listed == set(FQCN)
    assert set(docs) == set(FQCN)


@pytest.mark.parametrize('fqcn', FQCN)
def test_each_filter_is_documented(fqcn, docs):
    assert fqcn in docs, 'ansible-doc does not know %s' % fqcn
    documentation = docs[fqcn]['doc']
    name = fqcn[len(NAMESPACE):]
    assert documentation.get('name') == name
    for section in ('short_description', 'description', 'author', 'version_added'):
        assert documentation.get(section), '%s: DOCUMENTATION has no %s' % (name, section)
    options = documentation.get('options') or {}
    assert '_input' in options, '%s: _input is not documented' % name
    assert options['_input'].get('type'), '%s: _input has no type' % name
    assert options['_input'].get('description'), '%s: _input has no description' % name
    returned = docs[fqcn].get('return') or {}
    assert '_value' in returned, '%s: RETURN has no _value' % name
    assert returned['_value'].get('type'), '%s: _value has no type' % name
    assert returned['_value'].get('description'), '%s: _value has no description' % name
    assert fqcn in (docs[fqcn].get('examples') or ''), '%s: EXAMPLES do not use the filter by its FQCN' % name


@pytest.mark.parametrize('fqcn', FQCN)
def test_the_documented_options_are_the_parameters(fqcn, docs):
    """_input is the first parameter; every other option is one of the function's parameters, by name."""
    name = fqcn[len(NAMESPACE):]
    parameters = list(inspect.signature(FILTERS[name]).parameters)
    documented = set(docs[fqcn]['doc'].get('options') or {})
    assert documented == {'_input', *parameters[1:]}
    positional = docs[fqcn]['doc'].get('positional')
    if len(parameters) > 1:
        assert [p.strip() for p in positional.split(',')] == ['_input', *parameters[1:]]
