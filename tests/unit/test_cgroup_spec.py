"""Slice validation, nesting and the Go limits (module_utils/cgroup_spec.py)."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.cgroup_spec import (
    cpu_list, effective_limits, go_environment, gomaxprocs, gomemlimit, match_units, parse_size,
    quote_environment, render_dropin, render_env_file, render_slice, service_unit, size_bytes, slice_cgroup,
    slice_chain, validate)

ROLE = Path(__file__).resolve().parents[2] / 'roles' / 'build_cgroups'
GIB = 1024 ** 3
MIB = 1024 ** 2

# ---- the bad inputs of issue 5, and the text each one must produce -----------------------

BAD = {
    'memory_max with a space and GB': (
        [{'name': 'gobuild.slice', 'memory_max': '2 GB'}], [],
        'build_cgroups_slices[0] (gobuild.slice): memory_max "2 GB" is not a size: use bytes with an optional K, M, '
        'G or T suffix (base 1024, no space, e.g. "2G"), a percentage of RAM from 1% to 100% such as "80%", or '
        '"infinity".'),
    'cpu_quota without %': (
        [{'name': 'gobuild.slice', 'cpu_quota': '150'}], [],
        'build_cgroups_slices[0] (gobuild.slice): cpu_quota "150" is not a CPU quota: use a percentage of one CPU '
        'with a "%" sign, e.g. "150%" for one and a half CPUs.'),
    'cpu_quota as a YAML number': (
        [{'name': 'gobuild.slice', 'cpu_quota': 150}], [],
        'cpu_quota "150" is not a CPU quota'),
    'cpu_weight 0': (
        [{'name': 'gobuild.slice', 'cpu_weight': 0}], [],
        'build_cgroups_slices[0] (gobuild.slice): cpu_weight "0" is not a whole number from 1 to 10000 (100 is '
        "systemd's default)."),
    'slice name with a slash': (
        [{'name': 'go/build.slice'}], [],
        'build_cgroups_slices[0]: name "go/build.slice" is not a valid slice name: use letters, digits, ":", "_" '
        'and "." ending in ".slice", e.g. "gobuild.slice"; a "-" nests ("go-build.slice" is a child of '
        '"go.slice"), and "/", spaces and leading, trailing or doubled dashes are not allowed.'),
    'io_weight above 10000': (
        [{'name': 'gobuild.slice', 'io_weight': 10001}], [], 'io_weight "10001" is not a whole number from 1 to 10000'),
    'memory as 150% of RAM': (
        [{'name': 'gobuild.slice', 'memory_high': '150%'}], [], 'memory_high "150%" is not a size'),
    'lowercase suffix': ([{'name': 'gobuild.slice', 'memory_max': '2g'}], [], 'memory_max "2g" is not a size'),
    'memory_high above memory_max': (
        [{'name': 'gobuild.slice', 'memory_high': '3G', 'memory_max': '2G'}], [],
        'memory_high "3G" is above memory_max "2G"'),
    'percentages the wrong way round': (
        [{'name': 'gobuild.slice', 'memory_high': '90%', 'memory_max': '80%'}], [],
        'memory_high "90%" is above memory_max "80%"'),
    'tasks_max garbage': ([{'name': 'gobuild.slice', 'tasks_max': 'lots'}], [], 'tasks_max "lots" is not a task limit'),
    'allowed_cpus with a semicolon': (
        [{'name': 'gobuild.slice', 'allowed_cpus': '0-3;6'}], [],
        'allowed_cpus "0-3;6" is not a CPU list: use CPU numbers and ascending ranges separated by commas, '
        'e.g. "0-3,6".'),
    'allowed_cpus backwards': ([{'name': 'gobuild.slice', 'allowed_cpus': '3-1'}], [], 'allowed_cpus "3-1"'),
    'no .slice suffix': ([{'name': 'gobuild'}], [], 'name "gobuild" is not a valid slice name'),
    'doubled dash': ([{'name': 'go--build.slice'}], [], 'name "go--build.slice" is not a valid slice name'),
    'trailing dash': ([{'name': 'go-.slice'}], [], 'name "go-.slice" is not a valid slice name'),
    'space': ([{'name': 'go build.slice'}], [], 'name "go build.slice" is not a valid slice name'),
    "systemd's own slice": (
        [{'name': 'system.slice'}], [],
        'build_cgroups_slices[0]: "system.slice" belongs to systemd; name a slice of your own such as '
        '"gobuild.slice".'),
    'listed twice': ([{'name': 'a.slice'}, {'name': 'a.slice'}], [], '"a.slice" is listed more than once.'),
    'unknown key': (
        [{'name': 'a.slice', 'memory_limit': '2G'}], [],
        'build_cgroups_slices[0] (a.slice): unknown key(s) memory_limit; the keys are name, description, '
        'memory_high, memory_max, cpu_quota, cpu_weight, tasks_max, io_weight, allowed_cpus.'),
    'multi-line description': ([{'name': 'a.slice', 'description': 'a\nb'}], [], 'description must be a single line'),
    'service with a slash': (
        [{'name': 'a.slice'}], [{'name': '../etc/passwd'}],
        'build_cgroups_services[0]: name "../etc/passwd" is not a service name'),
    'service of another type': ([{'name': 'a.slice'}], [{'name': 'docker.socket'}], 'is not a service name'),
    'service in an unknown slice': (
        [{'name': 'a.slice'}], [{'name': 'gitlab-runner', 'slice': 'b.slice'}],
        'build_cgroups_services[0] (gitlab-runner): slice "b.slice" is not one of build_cgroups_slices (a.slice).'),
    'service without any slice': ([], [{'name': 'gitlab-runner'}], 'there is no slice to put it in'),
    'service listed twice': (
        [{'name': 'a.slice'}], [{'name': 'x'}, {'name': 'x.service'}], '"x.service" is listed more than once.'),
    'bad environment name': (
        [{'name': 'a.slice'}], [{'name': 'x', 'environment': {'GO-FLAGS': '1'}}],
        'environment key "GO-FLAGS" is not a variable name.'),
}


@pytest.mark.parametrize('case', sorted(BAD))
def test_bad_input_is_refused_with_its_text(case):
    slices, services, text = BAD[case]
    errors = validate(slices, services)
    assert any(text in e for e in errors), errors


def test_every_problem_is_reported_at_once():
    errors = validate([{'name': 'go/x.slice', 'memory_max': '2 GB', 'cpu_quota': '150', 'cpu_weight': 0}], [])
    assert len(errors) == 4


GOOD_SLICES = [
    {'name': 'gobuild.slice', 'description': 'Go builds', 'memory_high': '70%', 'memory_max': '80%',
     'cpu_quota': '', 'cpu_weight': 50, 'tasks_max': 8192, 'io_weight': 50, 'allowed_cpus': ''},
    {'name': 'go.slice', 'memory_max': 'infinity', 'cpu_quota': '400%', 'tasks_max': 'infinity'},
    {'name': 'go-build.slice', 'memory_high': '1536M', 'memory_max': '2G', 'cpu_quota': '150%', 'cpu_weight': 1,
     'io_weight': 10000, 'tasks_max': '25%', 'allowed_cpus': '0-3,6'},
    {'name': 'go-build-race.slice', 'memory_max': 1073741824, 'allowed_cpus': 0},
    {'name': 'ci:runners_2.x.slice'},
]
GOOD_SERVICES = [{'name': 'gitlab-runner'}, {'name': 'jenkins-agent@.service', 'slice': 'go-build.slice'},
                 {'name': 'actions.runner.*', 'environment': {'GOFLAGS': '-p=2'}}, {'name': 'buildkite-agent.service'}]


def test_good_input_passes():
    assert validate(GOOD_SLICES, GOOD_SERVICES, 'go-build.slice', 90, '/usr/local/bin/go-build-run') == []


def test_defaults_pass():
    defaults = yaml.safe_load((ROLE / 'defaults/main.yml').read_text())
    assert validate(defaults['build_cgroups_slices'], defaults['build_cgroups_services']) == []


@pytest.mark.parametrize('args,text', [
    ({'wrapper_slice': 'nope.slice'},
     'build_cgroups_wrapper_slice "nope.slice" is not one of build_cgroups_slices (gobuild.slice, go.slice, '
     'go-build.slice, go-build-race.slice, ci:runners_2.x.slice).'),
    ({'gomemlimit_percent': 0}, 'build_cgroups_gomemlimit_percent "0" is not a whole number from 1 to 100.'),
    ({'gomemlimit_percent': '90%'}, 'build_cgroups_gomemlimit_percent "90%" is not a whole number from 1 to 100.'),
    ({'wrapper_path': 'bin/go-build-run'},
     'build_cgroups_wrapper_path must be an absolute path or "", got "bin/go-build-run".'),
])
def test_the_other_variables(args, text):
    assert validate(GOOD_SLICES, [], **args) == [text]


# ---- parsing and nesting ----------------------------------------------------------------------

@pytest.mark.parametrize('value,parsed', [
    ('0', ('bytes', 0)), ('512', ('bytes', 512)), ('2K', ('bytes', 2048)), ('1536M', ('bytes', 1536 * MIB)),
    ('2G', ('bytes', 2 * GIB)), ('1T', ('bytes', 1024 * GIB)), (2048, ('bytes', 2048)), ('80%', ('percent', 80)),
    ('100%', ('percent', 100)), ('infinity', ('infinity', None)), ('2 GB', None), ('2GB', None), ('0%', None),
    ('101%', None), ('1.5G', None), ('-1', None), ('', None),
])
def test_parse_size(value, parsed):
    assert parse_size(value) == parsed


def test_size_bytes_resolves_percentages_of_ram():
    assert size_bytes('50%', 8 * GIB) == 4 * GIB
    assert size_bytes('2G', 8 * GIB) == 2 * GIB
    assert size_bytes('infinity', 8 * GIB) is None
    assert size_bytes('', 8 * GIB) is None


@pytest.mark.parametrize('value,cpus', [
    ('0', {0}), (0, {0}), ('0-3', {0, 1, 2, 3}), ('0-1,6', {0, 1, 6}), ('2,2', {2}), ('3-1', None), ('0 1', None),
    ('a', None), ('0-', None),
])
def test_cpu_list(value, cpus):
    assert cpu_list(value) == cpus


@pytest.mark.parametrize('name,chain', [
    ('gobuild.slice', ['gobuild.slice']),
    ('go-build.slice', ['go.slice', 'go-build.slice']),
    ('go-build-race.slice', ['go.slice', 'go-build.slice', 'go-build-race.slice']),
])
def test_a_dash_nests(name, chain):
    assert slice_chain(name) == chain
    assert slice_cgroup(name) == '/'.join(chain)


def test_service_names_and_globs():
    assert service_unit('gitlab-runner') == 'gitlab-runner.service'
    assert service_unit('gitlab-runner.service') == 'gitlab-runner.service'
    assert service_unit('actions.runner.*') == 'actions.runner.*.service'
    units = {'actions.runner.org-a.r1.service', 'actions.runner.org-b.r2.service', 'foo@.service', 'foo@x.service',
             'ssh.service'}
    assert match_units('actions.runner.*.service', units) == ['actions.runner.org-a.r1.service',
                                                              'actions.runner.org-b.r2.service']
    assert match_units('foo@*.service', units) == ['foo@x.service']
    assert match_units('foo@.service', units) == ['foo@.service']


# ---- what Go is told -------------------------------------------------------------------------

@pytest.mark.parametrize('quota,cpus,procs', [
    (None, 8, None), (50, 8, 1), (100, 8, 1), (101, 8, 2), (150, 8, 2), (250, 8, 3), (400, 8, 4), (800, 2, 2),
    (150, 1, 1),
])
def test_gomaxprocs_is_the_quota_rounded_up_within_the_cpus(quota, cpus, procs):
    assert gomaxprocs(quota, cpus) == procs


@pytest.mark.parametrize('memory,percent,limit', [
    (None, 90, None), (2 * GIB, 90, '1843MiB'), (1536 * MIB, 90, '1382MiB'), (4 * GIB, 100, '4096MiB'),
    (10 * MIB, 50, '5MiB'), (1000, 90, '900'),
])
def test_gomemlimit_in_gos_syntax(memory, percent, limit):
    assert gomemlimit(memory, percent) == limit


def test_limits_come_from_the_tightest_slice_of_the_chain():
    slices = [
        {'name': 'go.slice', 'memory_max': '25%', 'cpu_quota': '100%'},
        {'name': 'go-build.slice', 'memory_high': '1536M', 'memory_max': '2G', 'cpu_quota': '150%',
         'allowed_cpus': '0-5'},
        {'name': 'go-build-race.slice', 'cpu_quota': '50%'},
        {'name': 'other.slice', 'memory_max': '80%', 'cpu_quota': '250%', 'allowed_cpus': '0-1'},
    ]
    ram = 16 * GIB
    assert effective_limits(slices, 'go-build.slice', ram, 8) == dict(quota=100, memory=1536 * MIB, cpus=6)
    assert go_environment(slices, 'go-build.slice', ram, 8, 90) == {'GOMAXPROCS': '1', 'GOMEMLIMIT': '1382MiB'}
    assert go_environment(slices, 'go.slice', ram, 8, 90) == {'GOMAXPROCS': '1', 'GOMEMLIMIT': '3686MiB'}
    assert go_environment(slices, 'go-build-race.slice', ram, 8, 90)['GOMAXPROCS'] == '1'
    assert go_environment(slices, 'other.slice', ram, 8, 90) == {'GOMAXPROCS': '2', 'GOMEMLIMIT': '11796MiB'}
    # A parent that is not managed (an implicit slice) adds no limit.
    assert go_environment([{'name': 'a-b.slice', 'cpu_quota': '300%'}], 'a-b.slice', ram, 8, 90) == {'GOMAXPROCS': '3'}
    assert go_environment([{'name': 'free.slice'}], 'free.slice', ram, 8, 90) == {}


# ---- rendering ----------------------------------------------------------------------------------

def test_slice_unit_leaves_empty_values_out():
    text = render_slice(GOOD_SLICES[0], '# head')
    assert text == ('# head\n[Unit]\nDescription=Go builds\n\n[Slice]\nMemoryHigh=70%\nMemoryMax=80%\n'
                    'CPUWeight=50\nTasksMax=8192\nIOWeight=50\n')
    assert 'AllowedCPUs=0-3,6' in render_slice(GOOD_SLICES[2], '#')
    assert 'Description=Build slice ci:runners_2.x.slice' in render_slice(GOOD_SLICES[4], '#')


def test_dropin_quotes_environment_for_systemd():
    assert quote_environment('X', 'a "b" 100% c\\d') == 'Environment="X=a \\"b\\" 100%% c\\\\d"'
    text = render_dropin('go-build.slice', {'GOMEMLIMIT': '1382MiB', 'GOMAXPROCS': '1'}, '# head')
    assert text == ('# head\n[Service]\nSlice=go-build.slice\nEnvironment="GOMAXPROCS=1"\n'
                    'Environment="GOMEMLIMIT=1382MiB"\n')


def test_env_file_is_shell_and_systemd_syntax():
    assert render_env_file({'GOMAXPROCS': '2', 'X': "it's"}, '# head') == "# head\nGOMAXPROCS='2'\nX='it'\\''s'\n"
