"""The supported platforms (module_utils/platforms.py), the platform_errors filter, and each role's check of them.

The facts are faked the way Ansible reports them (distribution, distribution_version,
distribution_major_version, distribution_release). The playbook runs at the end use a host no
connection reaches: the check runs on the controller, so a refused host is never contacted at all.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.filter.platforms import FilterModule, platform_errors
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import platforms

from .conftest import ROOT

SUPPORTED = 'go-buildhost supports Debian 12, 13 and Ubuntu 22.04, 24.04'
ROLES = ['go_toolchain', 'go_env', 'sysctl_tuning', 'build_cgroups', 'go_cache']


def check_name(role):
    """Each role's first task (tasks/validate.yml): the platform and the shared knobs, then its own variables."""
    return ('Fail with every invalid %s variable, or on a host outside the supported platforms, before anything changes'
            % role)


# The role the platform cases below are played with: after its check, its next task calls the host.
PROBE_ROLE = 'sysctl_tuning'
CHECK = check_name(PROBE_ROLE)


def facts(distribution, version, major=None, release='', os_family=None):
    return {'distribution': distribution, 'distribution_version': version,
            'distribution_major_version': major if major is not None else version.split('.')[0],
            'distribution_release': release, 'os_family': os_family or distribution}


HOSTS = {
    'debian12': facts('Debian', '12.7', release='bookworm'),
    'debian12_bare': facts('Debian', '12', release='bookworm'),
    'debian13': facts('Debian', '13.1', release='trixie'),
    'ubuntu2204': facts('Ubuntu', '22.04', release='jammy', os_family='Debian'),
    'ubuntu2404': facts('Ubuntu', '24.04', release='noble', os_family='Debian'),
}

REFUSED = {
    'rocky9': (facts('Rocky', '9.3', release='Blue Onyx', os_family='RedHat'), 'Rocky 9.3'),
    'rocky9_major_only': (facts('Rocky', '9', os_family='RedHat'), 'Rocky 9'),
    'centos7': (facts('CentOS', '7.9', release='Core', os_family='RedHat'), 'CentOS 7.9'),
    'centos_stream9': (facts('CentOS', '9', release='Stream', os_family='RedHat'), 'CentOS 9'),
    'debian11': (facts('Debian', '11.11', release='bullseye'), 'Debian 11.11'),
    'debian14': (facts('Debian', '14.0', release='forky'), 'Debian 14.0'),
    'ubuntu2004': (facts('Ubuntu', '20.04', release='focal', os_family='Debian'), 'Ubuntu 20.04'),
    'ubuntu2410': (facts('Ubuntu', '24.10', release='oracular', os_family='Debian'), 'Ubuntu 24.10'),
    'ubuntu2504': (facts('Ubuntu', '25.04', release='plucky', os_family='Debian'), 'Ubuntu 25.04'),
    # Debian derivatives report their own names, with os_family Debian: not what the tests run on.
    'mint21': (facts('Linux Mint', '21.3', release='virginia', os_family='Debian'), 'Linux Mint 21.3'),
}

# Debian testing and unstable: no VERSION_ID, so Ansible reports what lsb_release or /etc/debian_version say.
TESTING = {
    'sid_lsb': facts('Debian', 'n/a', major='n/a', release='sid'),
    'testing_debian_version': facts('Debian', 'trixie/sid', major='trixie/sid', release='trixie'),
    'forky_testing': facts('Debian', 'forky/sid', major='forky/sid', release='forky'),
}


def refusal(name):
    return ['%s is not a supported platform: %s, the releases its tests run on. Run it on one of those, or leave '
            'this host out of the play (the go_buildhosts group of site.yml); go-buildhost changed nothing on it.'
            % (name, SUPPORTED)]


def unknown(*missing):
    facts = ', '.join('ansible_facts.' + m for m in missing)
    return ["The host's platform is unknown: its facts were not gathered (no %s). %s and checks the platform "
            'before it changes anything: gather facts first (gather_facts: true in the play, or '
            'ansible.builtin.setup with gather_subset: [min]).' % (facts, SUPPORTED)]


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'platform_errors': platform_errors}


def test_the_supported_table():
    assert platforms.SUPPORTED == (('Debian', '12', 'bookworm'), ('Debian', '13', 'trixie'),
                                   ('Ubuntu', '22.04', 'jammy'), ('Ubuntu', '24.04', 'noble'))
    assert platforms.supported_list() == 'Debian 12, 13 and Ubuntu 22.04, 24.04'
    assert platforms.galaxy_platforms() == [{'name': 'Debian', 'versions': ['bookworm', 'trixie']},
                                            {'name': 'Ubuntu', 'versions': ['jammy', 'noble']}]


@pytest.mark.parametrize('host', sorted(HOSTS))
def test_the_supported_platforms_pass(host):
    assert platform_errors(HOSTS[host]) == []
    assert platforms.is_supported(HOSTS[host])


def test_an_ubuntu_point_release_is_its_lts():
    # VERSION_ID stays 24.04 on 24.04.1; a fact with the point release passes too.
    assert platform_errors(facts('Ubuntu', '24.04.1', release='noble')) == []


@pytest.mark.parametrize('host', sorted(REFUSED))
def test_other_platforms_are_refused_by_name_and_version(host):
    host_facts, name = REFUSED[host]
    assert platform_errors(host_facts) == refusal(name)


@pytest.mark.parametrize('host', sorted(TESTING))
def test_debian_testing_and_unstable_are_refused_whatever_their_codename(host):
    errors = platform_errors(TESTING[host])
    shown = TESTING[host]['distribution_version']
    if shown == 'n/a':
        shown = TESTING[host]['distribution_release']
    assert errors == refusal('Debian %s (testing or unstable, which have no release number)' % shown)


def test_ubuntu_is_matched_on_the_whole_version():
    # 24.10 and 22.10 share the major version of an LTS.
    assert platform_errors(facts('Ubuntu', '22.10', release='kinetic')) == refusal('Ubuntu 22.10')
    assert platform_errors(facts('Ubuntu', '24.041')) == refusal('Ubuntu 24.041')


def test_debian_is_matched_on_the_major_version():
    assert platform_errors(facts('Debian', '12.11', major='12')) == []
    assert platform_errors(facts('Debian', '13', major='13')) == []
    assert platform_errors(facts('Debian', '120.1')) == refusal('Debian 120.1')


def test_the_distribution_is_matched_exactly():
    assert platform_errors(facts('debian', '12')) == refusal('debian 12')
    assert platform_errors(facts('Ubuntu', '12', release='bookworm')) == refusal('Ubuntu 12')
    assert platform_errors(facts('Debian', '22.04')) == refusal('Debian 22.04')


@pytest.mark.parametrize('given', [{}, None, {'gather_subset': ['min'], 'module_setup': True}])
def test_facts_not_gathered_say_so(given):
    assert platform_errors(given) == unknown('distribution', 'distribution_version', 'distribution_major_version')


def test_facts_partly_missing_name_the_missing_ones():
    partial = {'distribution': 'Debian', 'distribution_version': '', 'os_family': 'Debian'}
    assert platform_errors(partial) == unknown('distribution_version', 'distribution_major_version')


def test_a_version_ansible_could_not_read_shows_the_release():
    assert platform_errors(facts('Rocky', 'NA', major='NA')) == refusal('Rocky of unknown version')


# roles/common: the knobs every role shares, declared once (defaults and argument spec), and no task of its own.
# Each role's first task checks them and the platform (plugins/action/role_check.py), before anything else.

def test_common_has_no_task_every_role_checks_first():
    assert not (ROOT / 'roles/common/tasks').exists()
    for role in ROLES:
        main = yaml.safe_load((ROOT / 'roles' / role / 'tasks/main.yml').read_text())
        assert main[0]['ansible.builtin.import_tasks'] == 'validate.yml', role
        validate = yaml.safe_load((ROOT / 'roles' / role / 'tasks/validate.yml').read_text())
        assert [task['name'] for task in validate] == [check_name(role)], role
        assert validate[0]['tags'] == ['always'], role
        assert 'go_buildhost.buildhost.role_check' in validate[0], role


@pytest.fixture(scope='module')
def checked(tmp_path_factory):
    """{case: the check's result} for every case below, from one ansible-playbook run of one play: each host's
    facts faked, or none (the check reads them)."""
    cases = dict(HOSTS)
    cases.update((name, host_facts) for name, (host_facts, _shown) in REFUSED.items())
    cases['no_facts'] = None
    cases['no_facts_local'] = None
    cases['bad_knobs'] = HOSTS['debian12']
    tmp_path = tmp_path_factory.mktemp('platforms')
    # One play (a play whose every host failed would end the run): each host's faked facts from its
    # host var, made ansible_facts by a cacheable set_fact, one fact per loop item.
    plays = [{'name': 'Probe', 'hosts': 'all', 'gather_facts': False, 'pre_tasks': [{
        'name': 'Fake the facts', 'ansible.builtin.set_fact': {'{{ item.key }}': '{{ item.value }}', 'cacheable': True},
        'loop': "{{ fake | default({}) | dict2items }}"}],
        'roles': [{'role': 'go_buildhost.buildhost.' + PROBE_ROLE}]}]
    hosts = {name: {'fake': host_facts} if host_facts else {} for name, host_facts in cases.items()}
    hosts['bad_knobs'].update(BAD_KNOBS)
    hosts['no_facts_local'] = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    report = run_playbook(tmp_path, plays, hosts, '--check')
    return {host: outcome(report['plays'][0]['tasks'], CHECK, host) for host in cases}


@pytest.mark.parametrize('host', sorted(HOSTS))
def test_common_lets_the_supported_platforms_through(checked, host):
    result = checked[host]
    assert not result.get('failed') and not result.get('unreachable'), result
    assert result['msg'] == '%s %s is supported; every variable of the role is valid' % (
        HOSTS[host]['distribution'], HOSTS[host]['distribution_version'])
    assert 'gathered' not in result, 'the facts were there: the host is not asked'


@pytest.mark.parametrize('host', sorted(REFUSED))
def test_common_fails_with_the_message(checked, host):
    result = checked[host]
    assert result.get('failed') is True and result['msg'] == refusal(REFUSED[host][1])[0]


# Set in the inventory, as a user would: each role's <role>_state follows go_buildhost_state.
BAD_KNOBS = {'go_buildhost_state': 'removed', 'go_buildhost_lock_timeout': 'soon'}


def test_common_checks_the_shared_knobs_with_ansibles_own_message(checked):
    """The knobs are checked against common's meta/argument_specs.yml (entry point `shared`) by the same task,
    with the message Ansible's inserted argument spec check gives, before anything reaches the host."""
    result = checked['bad_knobs']
    assert result.get('failed') is True and not result.get('unreachable'), result
    assert result['msg'] == 'Validation of arguments failed:\n' + '\n'.join(result['argument_errors'])
    # ansible-core's own wording, which names the value's type as 2.17 or 2.19 sees it.
    lock_timeout, state = sorted(result['argument_errors'])
    assert lock_timeout.startswith("argument 'go_buildhost_lock_timeout' is of type ")
    assert 'unable to convert to int' in lock_timeout
    assert state == 'value of go_buildhost_state must be one of: present, absent, got: removed'


def test_common_has_one_task_per_play_not_an_argument_spec_task_too():
    """For an entry point `main` Ansible would insert a task of its own before the check, in every play."""
    specs = yaml.safe_load((ROOT / 'roles/common/meta/argument_specs.yml').read_text())['argument_specs']
    assert sorted(specs) == ['shared']
    assert sorted(specs['shared']['options']) == ['go_buildhost_lock_timeout', 'go_buildhost_state']


def test_common_reads_the_facts_when_the_play_has_none(checked):
    """Here that is the first contact with a host no connection reaches: unreachable, not refused."""
    assert checked['no_facts'].get('unreachable') is True, checked['no_facts']


def test_common_checks_the_facts_it_read_itself(checked):
    """Without the play's facts, the check reads the min subset (here: the machine running the tests, through
    the local connection) and judges those: supported or refused by name, never 'not gathered'."""
    result = checked['no_facts_local']
    assert result.get('gathered') is True, result
    assert result['ansible_facts']['ansible_distribution'], result
    assert 'not gathered' not in result['msg'], result['msg']
    assert ' is supported; ' in result['msg'] or ' is not a supported platform' in result['msg'], result['msg']


def test_the_check_without_facts_names_them():
    assert platform_errors({}) == unknown('distribution', 'distribution_version', 'distribution_major_version')


# The roles as ansible-playbook runs them, against a host no connection reaches.

def run_playbook(tmp_path, plays, hosts, *args):
    """The JSON callback's report of these plays, against hosts no connection reaches (hosts: their names,
    or {name: host vars})."""
    inventory = tmp_path / 'hosts.yml'
    # Nothing listens on port 1: a task that reached the host would report it unreachable.
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {host: dict(
        {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 1},
        **(hosts[host] if isinstance(hosts, dict) else {})) for host in hosts}}}))
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k != 'ANSIBLE_INVENTORY'}
    env.update(ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_COLLECTIONS_PATH=str(ROOT / 'collections'),
               ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory),
                           str(playbook), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return json.loads(proc.stdout[proc.stdout.index('{'):])


def play(tmp_path, role, host_facts=None, *args):
    """The JSON callback's report of a play of one role on a host with faked facts (none: not gathered)."""
    pre_tasks = []
    if host_facts is not None:
        # cacheable set_fact puts them into ansible_facts, as setup would.
        pre_tasks = [{'name': 'Fake the facts', 'ansible.builtin.set_fact': dict(host_facts, cacheable=True)}]
    plays = [{'name': 'Probe', 'hosts': 'all', 'gather_facts': False, 'pre_tasks': pre_tasks,
              'roles': [{'role': 'go_buildhost.buildhost.' + role}]}]
    report = run_playbook(tmp_path, plays, ['target'], *args)
    return report['plays'][0]['tasks'], report['stats']['target']


def outcome(tasks, name, host='target'):
    for task in tasks:
        if task['task']['name'].split(' : ', 1)[-1] == name:
            return task['hosts'][host]
    raise AssertionError('%s did not run: %s' % (name, [t['task']['name'] for t in tasks]))


@pytest.mark.parametrize('role', ROLES)
def test_every_role_refuses_rocky_9_before_anything_changes(tmp_path, role):
    tasks, stats = play(tmp_path, role, REFUSED['rocky9'][0], '--check')
    assert outcome(tasks, check_name(role))['msg'] == refusal('Rocky 9.3')[0]
    # The role's check is the first task after the faked facts: no argument spec task of Ansible's before it.
    assert [t['task']['name'].split(' : ', 1)[-1] for t in tasks][:2] == ['Fake the facts', check_name(role)]
    # The check is the last task: none of the role's own ran, and the host was never contacted.
    assert tasks[-1]['task']['name'].endswith(check_name(role))
    assert (stats['failures'], stats['changed'], stats['unreachable']) == (1, 0, 0), stats


def test_a_role_run_without_facts_gathers_them_before_the_check(tmp_path):
    """The check reads the min facts itself: here that is the first contact, and the host is unreachable."""
    tasks, stats = play(tmp_path, 'go_toolchain', None, '--check')
    assert tasks[-1]['task']['name'].endswith(check_name('go_toolchain'))
    assert (stats['failures'], stats['changed'], stats['unreachable']) == (0, 0, 1), stats


def test_the_check_passes_ubuntu_24_04_without_contacting_it(tmp_path):
    tasks, stats = play(tmp_path, PROBE_ROLE, HOSTS['ubuntu2404'], '--check')
    assert outcome(tasks, CHECK).get('failed') is not True
    assert outcome(tasks, CHECK).get('unreachable') is not True
    # The role's next task is the first to call the host, which no connection reaches.
    assert stats['failures'] == 0 and tasks[-1]['task']['name'] != CHECK, stats


def test_debian_sid_is_refused_by_the_role(tmp_path):
    tasks, _stats = play(tmp_path, PROBE_ROLE, TESTING['sid_lsb'], '--check')
    assert outcome(tasks, CHECK)['msg'] == refusal(
        'Debian sid (testing or unstable, which have no release number)')[0]
