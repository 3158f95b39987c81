"""awx/survey.json and awx/survey_answers.yml: a question left alone sets nothing, so the inventory decides.

AWX puts every question's default into the job's extra vars, and extra vars beat the inventory.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .role_vars import spec_options

ROOT = Path(__file__).resolve().parents[2]
SURVEY = json.loads((ROOT / 'awx' / 'survey.json').read_text())
QUESTIONS = SURVEY['spec']
ROLES = sorted(p.parent.parent.name for p in ROOT.glob('roles/*/meta/argument_specs.yml'))
# Survey targets that are playbook variables, not role variables, and the playbook that reads each.
PLAYBOOK_VARIABLES = {'fail_on_drift': 'playbooks/audit.yml'}
SPEC_TYPES = {'text': 'str', 'integer': 'int'}
BOOLEAN_CHOICES = ['false', 'true']


def awx_launch_vars(answers, unanswered=''):
    """The survey's part of a job's extra vars, as AWX builds them: each answer, else the question's
    default (AWX sends even an empty one), or `unanswered` for AWX versions that send null."""
    return {q['variable']: answers[q['variable']] if q['variable'] in answers
            else (q.get('default', '') if unanswered == '' else unanswered) for q in QUESTIONS}


def target_of(question):
    assert question['variable'].startswith('survey_'), question['variable']
    return question['variable'][len('survey_'):]


def role_of(variable):
    roles = [role for role in ROLES if variable.startswith(role + '_')]
    return roles[0] if roles else None


def choices(question):
    found = question.get('choices', [])
    return found.split('\n') if isinstance(found, str) else list(found)


@pytest.mark.parametrize('question', QUESTIONS, ids=[q['variable'] for q in QUESTIONS])
def test_question_is_optional_with_an_empty_default(question):
    assert question['required'] is False
    if question['type'] in ('text', 'textarea'):
        assert question.get('default') == ''
    else:
        # AWX accepts "" (or no default) for integer and multiple-choice questions.
        assert question.get('default', '') == ''


@pytest.mark.parametrize('question', QUESTIONS, ids=[q['variable'] for q in QUESTIONS])
def test_question_maps_to_a_documented_variable_of_its_type(question):
    target = target_of(question)
    role = role_of(target)
    if role is None:
        assert target in PLAYBOOK_VARIABLES, '%s is neither a role variable nor a known playbook variable' % target
        assert target in (ROOT / PLAYBOOK_VARIABLES[target]).read_text()
        return
    options = spec_options(role)
    assert target in options, '%s is not in roles/%s/meta/argument_specs.yml' % (target, role)
    spec_type = options[target]['type']
    if question['type'] == 'multiplechoice' and sorted(choices(question)) == BOOLEAN_CHOICES:
        assert spec_type == 'bool', target
    elif question['type'] == 'multiplechoice':
        assert spec_type == 'str' and set(choices(question)) <= set(options[target].get('choices', [])), target
    else:
        assert spec_type == SPEC_TYPES[question['type']], target


def test_no_question_shadows_a_variable_of_the_roles_or_playbooks():
    # An extra var named like a role variable beats the inventory even when its value is "".
    names = {name for role in ROLES for name in spec_options(role)} | set(PLAYBOOK_VARIABLES)
    assert not names & {q['variable'] for q in QUESTIONS}
    assert len({q['variable'] for q in QUESTIONS}) == len(QUESTIONS)


def test_job_template_runs_the_survey_answers_before_site_yml():
    configure = yaml.safe_load((ROOT / 'awx' / 'configure.yml').read_text())
    tasks = configure[0]['tasks']
    template = next(t['awx.awx.job_template'] for t in tasks if 'awx.awx.job_template' in t)
    playbook = yaml.safe_load((ROOT / template['playbook']).read_text())
    imports = [entry['ansible.builtin.import_playbook'] for entry in playbook]
    assert imports == ['survey_answers.yml', '../site.yml']
    survey_variables = {q['variable'] for q in QUESTIONS}
    for task in tasks:
        schedule = task.get('awx.awx.schedule')
        if schedule:
            # A template without ask_variables_on_launch takes only survey variables from a schedule.
            assert set(schedule.get('extra_data', {})) <= survey_variables, schedule['name']


def resolved(tmp_path, survey_vars):
    """What the roles see after awx/survey_answers.yml, on a host whose inventory sets every target."""
    inventory = {'all': {'hosts': {'h1': {}, 'localhost': {}}, 'vars': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'go_toolchain_version': '1.26', 'go_toolchain_keep_versions': 4,
        'go_toolchain_download_on_controller': True, 'fail_on_drift': True}}}
    (tmp_path / 'hosts.yml').write_text(json.dumps(inventory))
    (tmp_path / 'extravars.json').write_text(json.dumps(survey_vars))
    targets = [target_of(q) for q in QUESTIONS]
    probe = '{{ {%s} }}' % ', '.join("'%s': [%s, %s | type_debug]" % (t, t, t) for t in targets)
    (tmp_path / 'probe.yml').write_text(yaml.safe_dump([
        {'name': 'Survey answers', 'ansible.builtin.import_playbook': str(ROOT / 'awx' / 'survey_answers.yml')},
        {'name': 'Probe', 'hosts': 'h1:localhost', 'gather_facts': False,
         'tasks': [{'name': 'Show the variables', 'ansible.builtin.debug': {'msg': probe}}]},
    ]))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'))
    proc = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', 'hosts.yml',
                           '-e', '@extravars.json', 'probe.yml'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = json.loads(proc.stdout)['plays'][-1]['tasks'][0]['hosts']
    assert shown['h1']['msg'] == shown['localhost']['msg']
    return {name: tuple(value) for name, value in shown['h1']['msg'].items()}


INVENTORY = {'go_toolchain_version': ('1.26', 'str'), 'go_toolchain_keep_versions': (4, 'int'),
             'go_toolchain_download_on_controller': (True, 'bool'), 'fail_on_drift': (True, 'bool')}


@pytest.mark.parametrize('unanswered', ['', None], ids=['empty', 'null'])
def test_a_launch_with_every_default_leaves_the_inventory_in_charge(tmp_path, unanswered):
    assert resolved(tmp_path, awx_launch_vars({}, unanswered)) == INVENTORY


def test_answered_questions_win_with_their_types(tmp_path):
    answers = {'survey_go_toolchain_version': '1.27', 'survey_go_toolchain_keep_versions': 3,
               'survey_go_toolchain_download_on_controller': 'false', 'survey_fail_on_drift': 'false'}
    assert resolved(tmp_path, awx_launch_vars(answers)) == {
        'go_toolchain_version': ('1.27', 'str'), 'go_toolchain_keep_versions': (3, 'int'),
        'go_toolchain_download_on_controller': (False, 'bool'), 'fail_on_drift': (False, 'bool')}


def test_one_answer_wins_and_the_rest_stay_with_the_inventory(tmp_path):
    seen = resolved(tmp_path, awx_launch_vars({'survey_go_toolchain_keep_versions': 1}, unanswered=None))
    assert seen == dict(INVENTORY, go_toolchain_keep_versions=(1, 'int'))
