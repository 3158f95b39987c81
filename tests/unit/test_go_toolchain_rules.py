"""go_toolchain's rules (module_utils/go_toolchain_rules.py), and the role's check through its filter."""

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.filter.go_toolchain import FilterModule, go_toolchain_errors
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_toolchain_rules import toolchain_errors

from .role_vars import render

SHA = 'ab' * 32


def role_errors(**overrides):
    overrides.setdefault('ansible_facts', {'architecture': 'x86_64'})
    return render('go_toolchain', '{{ __go_toolchain_errors }}', **overrides)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'go_toolchain_errors': go_toolchain_errors}


def test_the_defaults_pass():
    assert role_errors() == []


@pytest.mark.parametrize('overrides', [
    {'go_toolchain_version': '1.27'}, {'go_toolchain_version': 'go1.27'}, {'go_toolchain_version': '1.27.3'},
    {'go_toolchain_version': 'go1.27.3'}, {'go_toolchain_version': '1.28rc1'}, {'go_toolchain_version': '1.22beta1'},
    {'go_toolchain_version': '1.27.3', 'go_toolchain_sha256': SHA},
    {'go_toolchain_version': '1.27.3', 'go_toolchain_sha256': SHA.upper()},
    {'go_toolchain_keep_versions': '1'}, {'go_toolchain_bin_dirs': []},
    {'ansible_facts': {'architecture': 'riscv64'}, 'go_toolchain_arch': 'amd64'},
    {'ansible_facts': {'architecture': 'aarch64'}},
])
def test_good_values_pass(overrides):
    assert role_errors(**overrides) == []


@pytest.mark.parametrize('overrides,message', [
    ({'go_toolchain_install_root': 'usr/local/lib/go'},
     'go_toolchain_install_root must be an absolute path, got "usr/local/lib/go".'),
    ({'go_toolchain_link': 'go'}, 'go_toolchain_link must be an absolute path, got "go".'),
    ({'go_toolchain_bin_dirs': ['/usr/local/bin', 'bin', 'sbin']},
     'go_toolchain_bin_dirs entries must be absolute paths, got: bin, sbin'),
    ({'go_toolchain_version': '1.27.3; rm -rf /'},
     'go_toolchain_version "1.27.3; rm -rf /" is not a Go version: use "latest", a minor such as "1.27" or an exact '
     'version such as "1.27.3".'),
    ({'go_toolchain_version': '1.27.3\n'},
     'go_toolchain_version "1.27.3\n" is not a Go version: use "latest", a minor such as "1.27" or an exact '
     'version such as "1.27.3".'),
    ({'go_toolchain_version': 'stable'},
     'go_toolchain_version "stable" is not a Go version: use "latest", a minor such as "1.27" or an exact '
     'version such as "1.27.3".'),
    ({'ansible_facts': {'architecture': 'riscv64'}},
     'This host\'s architecture (ansible_architecture) "riscv64" has no official Go archive; set go_toolchain_arch '
     'to one of amd64, arm64, armv6l, 386, ppc64le, s390x if you know the mapping.'),
    ({'go_toolchain_version': '1.27.3', 'go_toolchain_sha256': 'abc'}, 'go_toolchain_sha256 must be 64 hex digits.'),
    ({'go_toolchain_version': 'latest', 'go_toolchain_sha256': SHA},
     'go_toolchain_sha256 pins one archive, so go_toolchain_version must be an exact version such as "1.27.3", '
     'not "latest".'),
    ({'go_toolchain_version': 'go1.27.3', 'go_toolchain_sha256': SHA},
     'go_toolchain_sha256 pins one archive, so go_toolchain_version must be an exact version such as "1.27.3", '
     'not "go1.27.3".'),
    ({'go_toolchain_keep_versions': 0}, 'go_toolchain_keep_versions must be at least 1.'),
    ({'go_toolchain_keep_versions': 'none'}, 'go_toolchain_keep_versions must be at least 1.'),
])
def test_each_bad_value_has_its_message(overrides, message):
    assert role_errors(**overrides) == [message]


def test_every_error_is_listed_at_once():
    errors = role_errors(go_toolchain_install_root='lib', go_toolchain_link='go', go_toolchain_version='latest',
                         go_toolchain_sha256='0' * 63, go_toolchain_keep_versions=0)
    assert [e.split(' ')[0] for e in errors] == [
        'go_toolchain_install_root', 'go_toolchain_link', 'go_toolchain_sha256', 'go_toolchain_sha256',
        'go_toolchain_keep_versions']


def test_the_module_pins_one_archive_always():
    # The module always installs one verified archive: no sha256 is not "take it from the index".
    assert toolchain_errors({'go_toolchain_version': '1.27.3', 'go_toolchain_sha256': ''}, pinned=True) == [
        'go_toolchain_sha256 must be 64 hex digits.']
    assert toolchain_errors({'go_toolchain_version': '1.27.3', 'go_toolchain_sha256': ''}) == []


def test_settings_left_out_are_not_checked():
    assert toolchain_errors({}) == []
    assert toolchain_errors({'go_toolchain_sha256': SHA}) == []
