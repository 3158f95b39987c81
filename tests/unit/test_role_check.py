"""Each role's first task checks the host's platform and the shared knobs, then the role's argument spec, then
its own rules: one task (plugins/action/role_check.py) where roles/common's check, Ansible's inserted argument
spec check (for an entry point `main`; the roles declare theirs under `variables`) and a `fail` task were.
The argument spec is checked with ansible-core's own validator and message, and the rules' errors are the
role's filter's, as the `fail` task had them. Played here by ansible-playbook against hosts no connection
reaches: a check that called the host would show it unreachable.
"""

import concurrent.futures

import pytest
import yaml

from .conftest import ROOT
from .role_vars import render
from .test_platforms import HOSTS, ROLES, check_name, run_playbook

SUFFIX = {'go_toolchain': '', 'go_env': ' Nothing was written.', 'sysctl_tuning': '',
          'build_cgroups': ' Nothing was changed.', 'go_cache': ' Nothing was changed.'}
# A value each role's own rules refuse (its filter), and one its argument spec refuses.
RULES = {'go_toolchain': {'go_toolchain_install_root': 'lib/go'}, 'go_env': {'go_env_memlimit': '3GB'},
         'sysctl_tuning': {'sysctl_tuning_file_name': '../evil.conf'},
         'build_cgroups': {'build_cgroups_gomemlimit_percent': 150}, 'go_cache': {'go_cache_group': '-bad'}}
FACTS = dict(HOSTS['debian12'], architecture='x86_64')
# go_cache's check asks the host about a calendar expression it has not accepted before; not with the health
# check off.
QUIET = {'go_cache': {'go_cache_health_enabled': False}}


def play_role(tmp_path, role):
    """{case: (names of the play's tasks, the check's result for that case's host)} for role: one run each (a
    play whose every host failed or was unreachable ends the run)."""
    hosts = {}
    for case, extra in (('valid', {}), ('spec', {'%s_state' % role: 'removed'}), ('rules', RULES[role])):
        hosts['%s_%s' % (role, case)] = dict(QUIET.get(role, {}), fake=FACTS, **extra)
    plays = [{'name': role, 'hosts': 'all', 'gather_facts': False, 'pre_tasks': [{
        'name': 'Fake the facts', 'ansible.builtin.set_fact': {'{{ item.key }}': '{{ item.value }}', 'cacheable': True},
        'loop': '{{ fake | dict2items }}'}], 'roles': [{'role': 'go_buildhost.buildhost.' + role}]}]
    tasks = run_playbook(tmp_path, plays, hosts, '--check')['plays'][0]['tasks']
    names = [task['task']['name'].split(' : ', 1)[-1] for task in tasks]
    check = next(task for task in tasks if task['task']['name'].endswith(check_name(role)))
    return {case: (names, check['hosts']['%s_%s' % (role, case)]) for case in ('valid', 'spec', 'rules')}


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    """{role: play_role(role)}, the five runs side by side."""
    with concurrent.futures.ThreadPoolExecutor(len(ROLES)) as pool:
        runs = {role: pool.submit(play_role, tmp_path_factory.mktemp(role), role) for role in ROLES}
        return {role: run.result() for role, run in runs.items()}


@pytest.mark.parametrize('role', ROLES)
def test_the_check_is_the_roles_first_task_and_ansible_inserts_none(report, role):
    names, _result = report[role]['valid']
    assert names[:2] == ['Fake the facts', check_name(role)], names
    assert not [name for name in names if name.startswith('Validating arguments against arg spec')]
    specs = yaml.safe_load((ROOT / 'roles' / role / 'meta/argument_specs.yml').read_text())['argument_specs']
    assert sorted(specs) == ['variables']


@pytest.mark.parametrize('role', ROLES)
def test_valid_variables_pass_the_check_without_a_call_to_the_host(report, role):
    _names, result = report[role]['valid']
    assert not result.get('failed') and not result.get('unreachable'), result
    assert result['msg'] == 'Debian %s is supported; every variable of the role is valid' % (
        FACTS['distribution_version'])


@pytest.mark.parametrize('role', ROLES)
def test_the_argument_spec_is_checked_with_ansibles_own_message(report, role):
    _names, result = report[role]['spec']
    assert result.get('failed') is True and not result.get('unreachable'), result
    assert result['argument_errors'] == ['value of %s_state must be one of: present, absent, got: removed' % role]
    assert result['msg'] == 'Validation of arguments failed:\n' + '\n'.join(result['argument_errors'])


@pytest.mark.parametrize('role', ROLES)
def test_the_roles_own_rules_fail_with_every_message_of_its_filter(report, role):
    _names, result = report[role]['rules']
    assert result.get('failed') is True and not result.get('unreachable'), result
    errors = render(role, '{{ __%s_errors }}' % role, ansible_facts=FACTS, go_buildhost_state='present',
                    **dict(QUIET.get(role, {}), **RULES[role]))
    assert errors and result['msg'] == ' '.join(errors) + SUFFIX[role]
    assert next(iter(RULES[role])) in result['msg']
