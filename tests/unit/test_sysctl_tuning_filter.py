"""sysctl_tuning's host-free rules (module_utils/sysctl_conf.py), and the role's check through its filter."""

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.filter.sysctl_tuning import FilterModule, sysctl_tuning_errors
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.sysctl_conf import file_name_errors

from .role_vars import render

BAD_NAME = ('sysctl_tuning_file_name must be a file name ending in .conf, such as "60-go-buildhost.conf" '
            '(systemd-sysctl reads only *.conf files), got "%s".')
DEBIAN_LINK = 'sysctl_tuning_file_name must not be 99-sysctl.conf: on Debian 12 that is the link to /etc/sysctl.conf.'
NO_PACKAGES = ('sysctl_tuning_profiling is true but sysctl_tuning_profiling_packages is empty: list perf and '
               'bpftrace (linux-perf, bpftrace), or set sysctl_tuning_profiling: false.')


def role_errors(**overrides):
    return render('sysctl_tuning', '{{ __sysctl_tuning_errors }}', **overrides)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'sysctl_tuning_errors': sysctl_tuning_errors}


def test_the_defaults_pass():
    assert role_errors() == []


@pytest.mark.parametrize('platform,packages', [
    (('Debian', 'Debian'), ['linux-perf', 'bpftrace']),
    (('Debian', 'Ubuntu'), ['linux-tools-common', 'linux-tools-generic', 'bpftrace']),
])
def test_the_profiling_packages_are_the_platforms_unless_listed(platform, packages):
    assert render('sysctl_tuning', '{{ __sysctl_tuning_packages }}', platform=platform) == packages
    assert render('sysctl_tuning', '{{ __sysctl_tuning_errors }}', platform=platform,
                  sysctl_tuning_profiling=True) == []
    assert render('sysctl_tuning', '{{ __sysctl_tuning_packages }}', platform=platform,
                  sysctl_tuning_profiling_packages=['linux-tools-aws']) == ['linux-tools-aws']


@pytest.mark.parametrize('name', ['60-go-buildhost.conf', '10-a_b.c@d+e.conf', 'x.conf'])
def test_good_file_names(name):
    assert role_errors(sysctl_tuning_file_name=name) == []


@pytest.mark.parametrize('name', ['go-buildhost', '60-go-buildhost.conf.bak', '.hidden.conf', '-x.conf',
                                  '../60-x.conf', 'a b.conf', '60-x.conf\n', ''])
def test_bad_file_names(name):
    assert role_errors(sysctl_tuning_file_name=name) == [BAD_NAME % name]


def test_debians_link_is_not_a_drop_in_name():
    assert role_errors(sysctl_tuning_file_name='99-sysctl.conf') == [DEBIAN_LINK]


@pytest.mark.parametrize('profiling', [True, 'yes', 'true'])
def test_profiling_needs_its_packages(profiling):
    assert role_errors(sysctl_tuning_profiling=profiling, sysctl_tuning_profiling_packages=[]) == [NO_PACKAGES]


@pytest.mark.parametrize('profiling', [False, 'no', 'false'])
def test_no_profiling_needs_no_packages(profiling):
    assert role_errors(sysctl_tuning_profiling=profiling, sysctl_tuning_profiling_packages=[]) == []


def test_every_error_is_listed_at_once():
    assert role_errors(sysctl_tuning_file_name='go-buildhost', sysctl_tuning_profiling=True,
                       sysctl_tuning_profiling_packages=[]) == [BAD_NAME % 'go-buildhost', NO_PACKAGES]


def test_the_module_can_name_its_own_option():
    assert file_name_errors('60-x', var='path') == [
        'path must be a file name ending in .conf, such as "60-go-buildhost.conf" (systemd-sysctl reads only '
        '*.conf files), got "60-x".']
