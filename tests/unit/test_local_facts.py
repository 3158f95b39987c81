"""local_facts: reading, comparing, writing and removing /etc/ansible/facts.d files, in tmp_path."""

import json
import os
import stat

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.local_facts import (
    FACT_MODE, LocalFact, parse_fact, remove_fact, render_fact, want_fact,
)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.managed_files import FileSet


def test_render_and_parse():
    assert render_fact({'b': 1, 'a': [1]}) == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert parse_fact(render_fact({'a': 1})) == {'a': 1}
    assert parse_fact(None) == {} and parse_fact('not json') == {} and parse_fact('[1]') == {}


def test_write_compares_then_writes_0644_and_creates_the_directory(tmp_path):
    path = tmp_path / 'facts.d/x.fact'
    fact = LocalFact(str(path))
    assert fact.data == {} and not fact.exists
    assert fact.write({'a': 1}, check_mode=True) is True and not path.exists()
    assert fact.write({'a': 1}) is True
    assert json.loads(path.read_text()) == {'a': 1} and stat.S_IMODE(os.stat(path).st_mode) == FACT_MODE
    again = LocalFact(str(path))
    assert again.data == {'a': 1} and not again.needs_write({'a': 1}) and again.write({'a': 1}) is False
    os.chmod(path, 0o600)
    assert LocalFact(str(path)).write({'a': 1}) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == FACT_MODE


def test_remove(tmp_path):
    path = tmp_path / 'x.fact'
    path.write_text('{}\n')
    assert LocalFact(str(path)).remove(check_mode=True) is True and path.exists()
    assert LocalFact(str(path)).remove() is True and not path.exists()
    assert LocalFact(str(path)).remove() is False


def test_an_empty_path_writes_nothing(tmp_path):
    fact = LocalFact('')
    assert fact.write({'a': 1}) is False and fact.remove() is False and fact.plan({'a': 1}) is None


def test_want_fact_in_a_file_set_merges_sections(tmp_path):
    path = tmp_path / 'go_env.fact'
    path.write_text(render_fact({'runtime': {'x': 1}, 'command': {'old': True}}))
    files = FileSet()
    entry = want_fact(files, str(path), {'command': {'new': True}}, merge=True)
    assert entry.changed and files.diff()[0]['before'] == path.read_text()
    files.apply()
    assert json.loads(path.read_text()) == {'runtime': {'x': 1}, 'command': {'new': True}}


def test_remove_fact_in_a_file_set(tmp_path):
    path = tmp_path / 'x.fact'
    files = FileSet()
    assert remove_fact(files, '') is None
    assert not remove_fact(files, str(path)).changed
    path.write_text('{}\n')
    files = FileSet()
    entry = remove_fact(files, str(path))
    assert entry.action == 'remove' and entry.before == '{}\n'
    files.apply()
    assert not path.exists()
