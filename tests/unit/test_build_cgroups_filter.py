"""The build_cgroups role's check: its variables through the build_cgroups_errors filter (cgroup_spec.validate)."""

from ansible_collections.go_buildhost.buildhost.plugins.filter.build_cgroups import FilterModule, build_cgroups_errors

from .role_vars import render


def role_errors(**overrides):
    return render('build_cgroups', '{{ __build_cgroups_errors }}', **overrides)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'build_cgroups_errors': build_cgroups_errors}


def test_the_defaults_pass():
    assert role_errors() == []


def test_every_variable_is_checked_and_every_error_listed_at_once():
    errors = role_errors(
        build_cgroups_slices=[{'name': 'go/x.slice', 'cpu_quota': '150'}],
        build_cgroups_services=[{'name': 'gitlab-runner', 'slice': 'b.slice'}],
        build_cgroups_wrapper_slice='nope.slice',
        build_cgroups_gomemlimit_percent=101,
        build_cgroups_wrapper_path='bin/go-build-run')
    assert errors == [
        'build_cgroups_slices[0]: name "go/x.slice" is not a valid slice name: use letters, digits, ":", "_" and '
        '"." ending in ".slice", e.g. "gobuild.slice"; a "-" nests ("go-build.slice" is a child of "go.slice"), '
        'and "/", spaces and leading, trailing or doubled dashes are not allowed.',
        'build_cgroups_slices[0] (go/x.slice): cpu_quota "150" is not a CPU quota: use a percentage of one CPU '
        'with a "%" sign, e.g. "150%" for one and a half CPUs.',
        'build_cgroups_services[0] (gitlab-runner): slice "b.slice" is not one of build_cgroups_slices '
        '(go/x.slice).',
        'build_cgroups_wrapper_slice "nope.slice" is not one of build_cgroups_slices (go/x.slice).',
        'build_cgroups_gomemlimit_percent "101" is not a whole number from 1 to 100.',
        'build_cgroups_wrapper_path must be an absolute path or "", got "bin/go-build-run".',
    ]


def test_values_from_the_command_line_are_strings():
    # -e build_cgroups_gomemlimit_percent=80 arrives as a string; -e wrapper_path= as "".
    assert role_errors(build_cgroups_gomemlimit_percent='80', build_cgroups_wrapper_path='') == []


def test_a_slice_that_is_not_a_dict():
    assert role_errors(build_cgroups_slices=['gobuild.slice'], build_cgroups_wrapper_path='') == [
        'build_cgroups_slices[0] must be a dict with at least a name.']


def test_the_filter_takes_what_the_role_hands_it():
    assert build_cgroups_errors({'build_cgroups_slices': [{'name': 'a.slice'}], 'build_cgroups_services': [],
                                 'build_cgroups_wrapper_slice': 'a.slice', 'build_cgroups_gomemlimit_percent': 90,
                                 'build_cgroups_wrapper_path': '/usr/local/bin/go-build-run'}) == []
