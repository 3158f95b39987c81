"""The README's layout table names every role, module, plugin, shared module and playbook of the tree."""

import re

import pytest

from .conftest import ROOT


def layout():
    text = (ROOT / 'README.md').read_text()
    return text.split('## Layout\n', 1)[1].split('\n## ', 1)[0]


def rows():
    """{each path the first cell names: the row's content}."""
    table = {}
    for match in re.finditer(r'^\| ([^|]+) \| (.+) \|$', layout(), re.M):
        for path in re.findall(r'`([^`]+)`', match.group(1)):
            table[path] = match.group(2)
    return table


def names_in(path, pattern='*.py'):
    return sorted(p.stem for p in (ROOT / path).glob(pattern) if p.stem != '__init__')


@pytest.mark.parametrize('row, names', [
    ('library/', names_in('library')),
    ('plugins/module_utils/', names_in('plugins/module_utils')),
    ('plugins/filter/', names_in('plugins/filter')),
    ('plugins/action/', names_in('plugins/action')),
    ('plugins/callback/', names_in('plugins/callback')),
    ('plugins/lookup/', names_in('plugins/lookup')),
    ('plugins/plugin_utils/', names_in('plugins/plugin_utils')),
    ('plugins/doc_fragments/', names_in('plugins/doc_fragments')),
    ('playbooks/', names_in('playbooks', '*.yml')),
    ('roles/', sorted(p.name for p in (ROOT / 'roles').iterdir() if p.is_dir())),
])
def test_the_layout_table_names_everything_in_the_tree(row, names):
    table = rows()
    assert row in table, 'README layout has no row for %s' % row
    missing = [name for name in names if not re.search(r'`%s(\.yml)?`' % re.escape(name), table[row])]
    assert names and missing == [], 'README layout row %s does not name %s' % (row, missing)


def test_every_top_level_entry_of_the_tree_is_in_the_table():
    tracked = {p.name for p in ROOT.iterdir() if not p.name.startswith('.')}
    table = ' '.join(rows())
    left_out = {'README.md', 'CONTRIBUTING.md', 'Makefile', 'ansible.cfg', 'pyproject.toml', 'bindep.txt',
                'execution-environment.yml', 'docs', 'bench', 'plugins', 'tests'}
    missing = sorted(name for name in tracked - left_out
                     if not name.startswith('requirements') and name not in table and name + '/' not in table)
    assert missing == []
