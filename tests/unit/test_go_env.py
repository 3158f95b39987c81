"""module_utils/go_env.py: the validation rules (as Go reads each value) and the env file format."""

import base64
import hashlib

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_env import (
    MARKER, GoEnvError, check_flags, check_gogc, check_maxprocs, check_memlimit, check_patterns, check_proxy,
    check_sumdb, check_toolchain, command_env, parse, remove_keys, render_godebug, render_profile, render_systemd,
    published_caches_errors, runtime_env, settings_errors, update, validate_env, verifier_key_error)

GO_KEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8'
STOCK = ('# This file contains the initial defaults for go command configuration.\n'
         '\n'
         '# Use the Go module mirror and checksum database by default.\n'
         'GOPROXY=https://proxy.golang.org,direct\n'
         'GOSUMDB=sum.golang.org\n'
         '\n'
         '# Automatically download newer toolchains as directed by go.mod files.\n'
         'GOTOOLCHAIN=auto\n')

DEFAULTS = {
    'go_env_proxy': ['https://proxy.golang.org', 'direct'],
    'go_env_sumdb': 'sum.golang.org',
    'go_env_private': [], 'go_env_nosumdb': [], 'go_env_noproxy': [], 'go_env_insecure': [],
    'go_env_flags': [], 'go_env_modcache_shared': False, 'go_env_toolchain': 'local',
    'go_env_cache': '', 'go_env_modcache': '', 'go_env_extra': {},
    'go_env_maxprocs': '', 'go_env_memlimit': '', 'go_env_gogc': '', 'go_env_traceback': '', 'go_env_godebug': {},
    'go_env_allow_insecure': False,
}


def make_key(name, keybytes=b'\x01' + bytes(range(32))):
    digest = hashlib.sha256(name.encode() + b'\n' + keybytes).hexdigest()[:8]
    return '%s+%s+%s' % (name, digest, base64.b64encode(keybytes).decode())


def settings(**changes):
    return dict(DEFAULTS, **changes)


# ---- GOPROXY ----

@pytest.mark.parametrize('value', [
    'https://proxy.golang.org,direct',
    'https://goproxy.corp.example.com|https://proxy.golang.org,direct',
    'http://127.0.0.1:8081,off',
    'file:///srv/goproxy',
    'goproxy.cn,direct',  # the go command adds https:// to host[/path]
    'off',
    'direct',
])
def test_proxy_accepted(value):
    check_proxy(value)


@pytest.mark.parametrize('value,match', [
    ('ftp://x', r'scheme ftp://: the go command accepts only https://, http:// and file://'),
    ('https://a,,direct', 'has an empty element'),
    ('https://a,', 'has an empty element'),
    ('|direct', 'has an empty element'),
    ('', 'is empty'),
    ('direct,https://a', 'direct must be the last element'),
    ('off|https://a', 'off must be the last element'),
    ('athens', 'neither a URL nor direct or off'),
    ('https://a, direct', 'contains whitespace'),
    ('file://host/srv', 'file:// followed by an absolute path'),
    ('https:///path', 'has no host'),
])
def test_proxy_refused(value, match):
    with pytest.raises(GoEnvError, match=match):
        check_proxy(value)


# ---- GOSUMDB ----

def test_our_key_algorithm_matches_the_real_sum_golang_org_key():
    assert verifier_key_error(GO_KEY) is None


@pytest.mark.parametrize('value', [
    'sum.golang.org', 'sum.golang.google.cn', 'sum.golang.org https://sum.golang.google.cn', GO_KEY,
    make_key('sum.corp.example.com'), make_key('sum.corp.example.com') + ' https://sum.corp.example.com/db', 'off',
])
def test_sumdb_accepted(value):
    check_sumdb(value)


@pytest.mark.parametrize('value,match', [
    (GO_KEY.replace('033de0ae', '033de0af'), r'hash 033de0af does not match the name and key \(expected 033de0ae\)'),
    ('sum.corp.example.com+1234+AQ==', 'must be 8 hexadecimal digits'),
    ('sum.corp.example.com+00000000+not*base64', 'not standard'),
    (make_key('sum.corp.example.com', b'\x02' + bytes(32)), r'0x01 \(Ed25519\)'),
    (make_key('sum.corp.example.com', b'\x01' + bytes(31)), '33 bytes'),
    ('sum.corp.example.com', 'knows the key only of sum.golang.org'),
    ('sum.golang.org https://a https://b', 'optionally followed by one space'),
    ('sum.golang.org ftp://mirror', 'must be an http:// or https:// URL'),
    ('', 'is empty'),
])
def test_sumdb_refused(value, match):
    with pytest.raises(GoEnvError, match=match):
        check_sumdb(value)


def test_bad_key_message_shows_the_format():
    with pytest.raises(GoEnvError) as failure:
        check_sumdb('sum.corp.example.com+deadbeef+AQ==')
    assert 'name+hash+key' in str(failure.value) and 'go_env_sumdb' in str(failure.value)


# ---- patterns ----

@pytest.mark.parametrize('patterns', [['*.corp.example.com', 'github.com/acme/*'], ['corp.example.com'],
                                      ['example.org/[a-c]*'], ['none']])
def test_patterns_accepted(patterns):
    check_patterns(patterns, 'go_env_private', 'GOPRIVATE')


@pytest.mark.parametrize('patterns,match', [
    (['corp.example.com', ' github.com/acme'], 'contains whitespace'),
    (['corp.example.com/ x'], 'contains whitespace'),
    (['a,b'], 'or a comma'),
    (['', 'x.com'], 'empty element'),
    (['example.org/[a-c'], 'not closed'),
    (['example.org/[]x'], 'misplaced'),
    (['example.org/x\\'], 'lone backslash'),
])
def test_patterns_refused(patterns, match):
    with pytest.raises(GoEnvError, match=match):
        check_patterns(patterns, 'go_env_private', 'GOPRIVATE')


def test_a_pattern_string_with_spaces_is_refused_through_the_role_settings():
    errors = settings_errors(settings(go_env_nosumdb='corp.example.com, github.com/acme'))
    assert len(errors) == 1 and 'go_env_nosumdb element' in errors[0] and 'whitespace' in errors[0]


# ---- GOFLAGS ----

def test_flags_accepted_and_quoted_like_go():
    check_flags(['-mod=readonly', '-trimpath', '--tags=netgo', '-ldflags=-s -w'])
    env = command_env(settings(go_env_flags=['-mod=readonly', '-ldflags=-s -w'], go_env_modcache_shared=True))
    assert env['GOFLAGS'] == "-mod=readonly '-ldflags=-s -w' -modcacherw"


@pytest.mark.parametrize('token,match', [('mod=readonly', 'is not a flag'), ('-', 'is not a flag'),
                                         ('---x', 'is not a flag'), ('-=x', 'is not a flag'),
                                         ('-mod readonly', 'one element -flag=value')])
def test_flags_refused(token, match):
    with pytest.raises(GoEnvError, match=match):
        check_flags([token])


def test_modcacherw_is_added_once():
    assert command_env(settings(go_env_modcache_shared=True))['GOFLAGS'] == '-modcacherw'
    assert command_env(settings(go_env_flags=['-modcacherw'], go_env_modcache_shared=True))['GOFLAGS'] == '-modcacherw'
    assert command_env(settings())['GOFLAGS'] is None


# ---- runtime knobs ----

@pytest.mark.parametrize('value', ['0', '3221225472', '3GiB', '750MiB', '64KiB', '1TiB', '512B', 'off'])
def test_memlimit_accepted(value):
    check_memlimit(value)


@pytest.mark.parametrize('value,hint', [('3GB', '3GiB'), ('750MB', '750MiB'), ('3G', '3GiB'), ('2gb', '2GiB'),
                                        ('3 GiB', None), ('-1', None), ('1.5GiB', None), ('GiB', None)])
def test_memlimit_refused_with_the_accepted_form(value, hint):
    with pytest.raises(GoEnvError, match='size syntax') as failure:
        check_memlimit(value)
    assert 'B, KiB, MiB, GiB or TiB' in str(failure.value)
    if hint:
        assert 'Write %s' % hint in str(failure.value)


@pytest.mark.parametrize('value', ['0', '100', '400', 'off'])
def test_gogc_accepted(value):
    check_gogc(value)


@pytest.mark.parametrize('value,match', [('-5', 'integer >= 0.*negative value turns the garbage collector off'),
                                         ('-1', 'write off'), ('50%', 'integer >= 0'), ('on', 'integer >= 0')])
def test_gogc_refused(value, match):
    with pytest.raises(GoEnvError, match=match):
        check_gogc(value)


@pytest.mark.parametrize('value', ['0', '-2', 'two', '1.5'])
def test_maxprocs_refused(value):
    with pytest.raises(GoEnvError, match='positive integer'):
        check_maxprocs(value)


def test_runtime_env_renders_every_knob():
    env = runtime_env(settings(go_env_maxprocs=4, go_env_memlimit='3GiB', go_env_gogc=200, go_env_traceback='all',
                               go_env_godebug={'panicnil': 1, 'http2client': 0}))
    assert env == {'GOMAXPROCS': '4', 'GOMEMLIMIT': '3GiB', 'GOGC': '200', 'GOTRACEBACK': 'all',
                   'GODEBUG': 'http2client=0,panicnil=1'}
    assert set(runtime_env(settings()).values()) == {None}


def test_godebug_refuses_spaces():
    with pytest.raises(GoEnvError, match='not a GODEBUG setting'):
        render_godebug({'panicnil': '1 2'})


@pytest.mark.parametrize('value', ['local', 'auto', 'path', 'go1.27.3', 'go1.27.3+auto', 'local+path', 'go1.28rc1'])
def test_toolchain_accepted(value):
    check_toolchain(value)


@pytest.mark.parametrize('value', ['1.27.3', 'latest', 'go1.27.3+never', ''])
def test_toolchain_refused(value):
    with pytest.raises(GoEnvError, match='GOTOOLCHAIN is local, auto, path'):
        check_toolchain(value)


# ---- the role's settings ----

def test_defaults_are_valid_and_pin_the_toolchain():
    assert settings_errors(settings()) == []
    env = command_env(settings())
    assert env['GOPROXY'] == 'https://proxy.golang.org,direct'
    assert env['GOSUMDB'] == 'sum.golang.org'
    assert env['GOTOOLCHAIN'] == 'local'
    assert env['GOPRIVATE'] is None and env['GOCACHE'] is None


def test_nosumdb_extends_private_instead_of_replacing_it():
    env = command_env(settings(go_env_private=['corp.example.com', 'x.org'], go_env_nosumdb=['mirror.net', 'x.org']))
    assert env['GONOSUMDB'] == 'corp.example.com,x.org,mirror.net'
    assert command_env(settings(go_env_private=['corp.example.com']))['GONOSUMDB'] is None, 'Go defaults to GOPRIVATE'
    env = command_env(settings(go_env_private=['corp.example.com'], go_env_noproxy=['none']))
    assert env['GONOPROXY'] == 'none', 'GONOPROXY keeps Go semantics: none sends private modules to the proxy'


def test_a_comma_separated_string_is_a_list():
    env = command_env(settings(go_env_proxy='https://a.example.com,direct', go_env_private='x.com,y.com'))
    assert env['GOPROXY'] == 'https://a.example.com,direct' and env['GOPRIVATE'] == 'x.com,y.com'


@pytest.mark.parametrize('changes,match', [
    ({'go_env_sumdb': 'off'}, 'go_env_sumdb is "off"'),
    ({'go_env_insecure': ['git.corp.example.com']}, 'go_env_insecure is set'),
    ({'go_env_flags': ['-insecure']}, 'go_env_flags contains -insecure'),
    ({'go_env_nosumdb': ['*']}, 'go_env_nosumdb pattern \\* matches every module path'),
    ({'go_env_private': ['*.*']}, 'matches every module path'),
])
def test_insecure_settings_need_the_opt_in(changes, match):
    errors = settings_errors(settings(**changes))
    assert len(errors) == 1
    assert 'module integrity' in errors[0] and 'go_env_allow_insecure: true' in errors[0]
    assert __import__('re').search(match, errors[0]), errors[0]
    assert settings_errors(settings(go_env_allow_insecure=True, **changes)) == []


def test_every_bad_variable_is_reported_at_once():
    errors = settings_errors(settings(go_env_proxy=['ftp://x'], go_env_memlimit='3GB', go_env_gogc=-5,
                                      go_env_sumdb='off', go_env_private=['a b'], go_env_extra={'GOGC': 1}))
    assert len(errors) == 6, errors
    for variable in ('go_env_proxy', 'go_env_private', 'go_env_extra', 'go_env_memlimit', 'go_env_gogc',
                     'go_env_sumdb is "off"'):
        assert sum(variable in e for e in errors) >= 1, variable


@pytest.mark.parametrize('extra,match', [
    ({'GOPROXY': 'x'}, 'use go_env_proxy instead'),
    ({'GOGC': '50'}, 'use go_env_gogc instead'),
    ({'GOROOT': '/x'}, 'computes it'),
    ({'GOENV': '/x'}, 'computes it'),
    ({'GOPRIVTE': 'x'}, 'not a go command variable'),
    ({'goproxy': 'x'}, 'not a Go environment variable name'),
    ({'GOVCS': 'a\nb'}, 'newline'),
    ({'GOPATH': 'go'}, 'absolute path'),
])
def test_extra_refused(extra, match):
    with pytest.raises(GoEnvError, match=match):
        command_env(settings(go_env_extra=extra))


def test_extra_accepted_and_null_removes():
    env = command_env(settings(go_env_extra={'GOVCS': 'public:git|hg', 'CGO_ENABLED': 0, 'GOAMD64': None}))
    assert env['GOVCS'] == 'public:git|hg' and env['CGO_ENABLED'] == '0' and env['GOAMD64'] is None


def test_extra_booleans_from_yaml():
    env = command_env(settings(go_env_extra={'CGO_ENABLED': False, 'GO111MODULE': True}))
    assert env['CGO_ENABLED'] == '0' and env['GO111MODULE'] == 'on'


@pytest.mark.parametrize('key,value', [('GOCACHE', 'off'), ('GOMODCACHE', 'pkg/mod')])
def test_cache_paths_must_be_absolute(key, value):
    variable = {'GOCACHE': 'go_env_cache', 'GOMODCACHE': 'go_env_modcache'}[key]
    with pytest.raises(GoEnvError, match='must be an absolute path'):
        command_env(settings(**{variable: value}))


def test_validate_env_checks_what_the_module_receives():
    validate_env({'GOPROXY': 'https://proxy.golang.org,direct', 'GOFLAGS': "-mod=mod '-ldflags=-s -w'",
                  'GOPRIVATE': None, 'GOGC': '100'})
    with pytest.raises(GoEnvError, match='Refusing settings'):
        validate_env({'GOSUMDB': 'off'})
    validate_env({'GOSUMDB': 'off'}, allow_insecure=True)
    with pytest.raises(GoEnvError, match='size syntax'):
        validate_env({'GOMEMLIMIT': '3GB'})


# ---- the file format ----

def test_parse_reads_like_the_go_command():
    text = '# c\nGOPROXY=a\n lowercase=x\nnot a line\n_X=1\nGOPROXY=b\nGOFLAGS=-a -b\n'
    assert parse(text) == {'GOPROXY': 'b', 'GOFLAGS': '-a -b'}


def test_update_keeps_comments_replaces_in_place_and_appends():
    env = {'GOPROXY': 'https://goproxy.corp.example.com,direct', 'GOTOOLCHAIN': 'local',
           'GOSUMDB': 'sum.golang.org', 'GOPRIVATE': '*.corp.example.com', 'GOFLAGS': None}
    after = update(STOCK, env)
    lines = after.splitlines()
    assert lines[:3] == STOCK.splitlines()[:3]
    assert lines[3] == 'GOPROXY=https://goproxy.corp.example.com,direct'
    assert lines[7] == 'GOTOOLCHAIN=local'
    assert lines[-2] == '%s GOPRIVATE GOPROXY GOSUMDB GOTOOLCHAIN' % MARKER
    assert lines[-1] == 'GOPRIVATE=*.corp.example.com'
    assert update(after, env) == after


def test_update_removes_null_duplicate_and_stale_managed_keys():
    first = update(STOCK + 'GOFLAGS=-x\n', {'GOPRIVATE': 'a.com', 'GOVCS': 'public:git', 'GOFLAGS': None})
    assert 'GOFLAGS' not in first and 'GOVCS=public:git' in first
    second = update(first + 'GOPRIVATE=dup\n', {'GOPRIVATE': 'b.com'})
    assert 'GOVCS' not in second, 'a key set before and now dropped from env is removed'
    assert second.count('GOPRIVATE=') == 1 and 'GOPRIVATE=b.com' in second
    assert 'GOPROXY=https://proxy.golang.org,direct' in second, 'keys never managed stay'
    assert update(second, {'GOPRIVATE': 'b.com'}) == second


def test_update_of_an_empty_file():
    assert update(None, {'GOGC': None}) == ''
    assert update('', {'GOGC': '200'}) == '%s GOGC\nGOGC=200\n' % MARKER
    assert update(update('', {'GOGC': '200'}), {'GOGC': None}) == ''


def test_remove_keys_touches_nothing_else():
    text = 'GOPROXY=x\n# note\nGOBIN=/home/b/bin\nGOPROXY=y\n'
    assert remove_keys(text, {'GOPROXY'}) == '# note\nGOBIN=/home/b/bin\n'


def test_profile_and_systemd_rendering():
    env = {'GOGC': '200', 'GODEBUG': 'panicnil=1,x=2'}
    profile = render_profile(env, ['head'])
    assert profile == "# head\nexport GODEBUG='panicnil=1,x=2'\nexport GOGC='200'\n"
    unit = render_systemd(env, ['head'])
    assert unit == '# head\n[Manager]\nDefaultEnvironment="GODEBUG=panicnil=1,x=2" "GOGC=200"\n'


PUBLISHED = {'group': 'gobuilders', 'gocache': '/var/cache/go/build', 'gomodcache': '/var/cache/go/mod', 'go_env': True}


def test_what_go_cache_published_is_consistent_when_the_inventory_says_nothing_else():
    assert published_caches_errors(DEFAULTS, PUBLISHED, {}) == []
    assert published_caches_errors(DEFAULTS, {}, {'go_cache_mod_dir': '/srv/mod'}) == [], 'nothing published yet'
    same = {'go_cache_mod_dir': '/var/cache/go/mod', 'go_cache_go_env_enabled': True, 'go_cache_group': None}
    assert published_caches_errors(DEFAULTS, PUBLISHED, same) == []


@pytest.mark.parametrize('declared, named', [
    ({'go_cache_mod_dir': '/srv/go/mod'}, "go_cache_mod_dir: gomodcache published '/var/cache/go/mod', the "
                                          "inventory gives '/srv/go/mod'"),
    ({'go_cache_go_env_enabled': False}, 'go_cache_go_env_enabled: go_env published True, the inventory gives False'),
])
def test_a_stale_publication_means_go_cache_has_not_run_first(declared, named):
    found = published_caches_errors(DEFAULTS, PUBLISHED, declared)
    assert len(found) == 1 and named in found[0]
    assert 'go_cache must run first' in found[0]


@pytest.mark.parametrize('published, declared', [
    (PUBLISHED, {}),
    ({}, {'go_cache_build_dir': '/var/cache/go/build'}),
])
def test_go_env_never_names_a_shared_cache(published, declared):
    found = published_caches_errors(dict(DEFAULTS, go_env_cache='/var/cache/go/build'), published, declared)
    assert len(found) == 1
    assert found[0].startswith('go_env_cache or go_env_modcache names a shared cache of the go_cache role')
    assert published_caches_errors(dict(DEFAULTS, go_env_cache='/home/ci/cache'), published, declared) == []
