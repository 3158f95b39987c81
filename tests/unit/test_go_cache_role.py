"""The go_cache role's files: template headers, the alert rules under promtool, docs in line with the code."""

import re
import shutil
import subprocess

import jinja2
import pytest
import yaml

from .conftest import ROOT, load_health_program

ROLE = ROOT / 'roles/go_cache'
PROMTOOL = shutil.which('promtool')


def health_program():
    return load_health_program('go_cache_health_docs')


def render(template, **overrides):
    """Render a role template the way the template lookup does (trim_blocks), with the role defaults."""
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701 - YAML, not HTML
    env.filters['comment'] = lambda text: '#\n# %s\n#' % text
    variables = yaml.safe_load((ROLE / 'defaults/main.yml').read_text())
    variables.update(ansible_managed='Ansible managed', **overrides)
    return env.from_string((ROLE / 'templates' / template).read_text()).render(**variables)


@pytest.mark.parametrize('template', sorted(str(p.relative_to(ROLE / 'templates'))
                                            for p in (ROLE / 'templates').rglob('*.j2')))
def test_templates_start_with_the_managed_header_and_the_role(template):
    lines = (ROLE / 'templates' / template).read_text().splitlines()
    assert lines[0] == '{{ ansible_managed | comment }}'
    assert lines[1].startswith('# go_cache role (go-buildhost): '), 'the marker path_guard looks for'


def test_the_audit_code_shipped_with_the_health_check_is_the_module_utils_one():
    files = yaml.safe_load((ROLE / 'vars/main.yml').read_text())['__go_cache_health_files']
    shipped = next(f for f in files if f['path'].endswith('/go_cache_audit.py'))
    relative = shipped['content'].split("role_path ~ '")[1].split("'")[0]
    assert (ROLE / relative.lstrip('/')).resolve() == ROOT / 'plugins/module_utils/go_cache_audit.py'
    # One source: no copy and no link of it anywhere else in the tree.
    copies = [p for p in ROOT.rglob('go_cache_audit.py')
              if not p.is_relative_to(ROOT / 'collections') and not {'.venv', '.cache', '.ansible'} & set(p.parts)]
    assert copies == [ROOT / 'plugins/module_utils/go_cache_audit.py']


def test_readme_documents_every_metric_the_program_writes():
    readme = (ROLE / 'README.md').read_text()
    rows = dict(re.findall(r'^\| `(go_cache(?:prog)?_[a-z_]+)` \| (gauge|counter) \|', readme, re.MULTILINE))
    assert rows == dict((name, kind) for name, kind, _help in health_program().METRICS)


def test_readme_documents_every_permission_problem():
    readme = (ROLE / 'README.md').read_text()
    for problem in health_program().PROBLEM_NAMES:
        assert '`%s`' % problem in readme, problem


def test_the_rules_render_to_valid_yaml():
    rules = yaml.safe_load(render('etc/prometheus/rules/go_cache.rules.yml.j2'))
    names = [rule['alert'] for rule in rules['groups'][0]['rules']]
    assert names == ['GoCacheOverSizeLimit', 'GoCacheFilesystemInodesLow', 'GoCacheFilesystemSpaceLow',
                     'GoCachePermissionProblems', 'GoCacheHealthCheckStale']
    readme = (ROLE / 'README.md').read_text()
    for name in names:
        assert '| `%s` |' % name in readme


@pytest.mark.skipif(PROMTOOL is None, reason='no promtool: apt-get install --no-install-recommends prometheus '
                                             '(the Molecule scenario runs these tests in its containers too)')
def test_the_rules_pass_promtool_check_and_unit_tests(tmp_path):
    (tmp_path / 'go_cache.rules.yml').write_text(render('etc/prometheus/rules/go_cache.rules.yml.j2'))
    shutil.copy(ROOT / 'tests/prometheus/go_cache_rules_test.yml', tmp_path / 'test.yml')
    check = subprocess.run([PROMTOOL, 'check', 'rules', 'go_cache.rules.yml'], cwd=tmp_path, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run([PROMTOOL, 'test', 'rules', 'test.yml'], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert test.returncode == 0, test.stdout + test.stderr


@pytest.mark.skipif(PROMTOOL is None, reason='no promtool')
def test_promtool_refuses_a_broken_rules_file(tmp_path):
    text = render('etc/prometheus/rules/go_cache.rules.yml.j2').replace('> 0.85', '> > 0.85')
    (tmp_path / 'bad.yml').write_text(text)
    assert subprocess.run([PROMTOOL, 'check', 'rules', str(tmp_path / 'bad.yml')], capture_output=True,
                          check=False).returncode != 0


def test_units_render():
    service = render('etc/systemd/system/go-cache-health.service.j2', __go_cache_program_dir='/usr/local/lib/x',
                     __go_cache_config_path='/etc/go-cache/health.json', __go_cache_state_dir='/var/lib/x')
    assert 'ExecStart=/usr/bin/python3 /usr/local/lib/x/go_cache_health.py --config /etc/go-cache/health.json' \
        in service
    assert 'OnCalendar=*:0/5\n' in render('etc/systemd/system/go-cache-health.timer.j2')
