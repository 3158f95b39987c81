import json

import pytest
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_version import (
    GoVersionError, classify_request, is_exact, is_request, parse_index, parse_release, resolve, strip_go)

SHA = {v: (c * 64) for v, c in (('1.27.3', 'a'), ('1.27.2', 'b'), ('1.26.6', 'c'), ('1.28rc1', 'd'), ('1.20', 'e'))}


def release(version, stable=True, arches=('amd64',), sha=None):
    return {
        'version': 'go' + version,
        'stable': stable,
        'files': [{'filename': 'go%s.linux-%s.tar.gz' % (version, arch), 'os': 'linux', 'arch': arch,
                   'version': 'go' + version, 'sha256': sha or SHA[version], 'size': 1, 'kind': 'archive'}
                  for arch in arches] + [
            {'filename': 'go%s.src.tar.gz' % version, 'os': '', 'arch': '', 'sha256': 'f' * 64, 'kind': 'source'}],
    }


INDEX = [release('1.28rc1', stable=False), release('1.27.3', arches=('amd64', 'arm64')),
         release('1.27.2'), release('1.26.6'), release('1.20')]


@pytest.mark.parametrize('name,key', [
    ('go1.27.3', (1, 27, 3, 2, 0)),
    ('1.20', (1, 20, 0, 2, 0)),
    ('go1.21rc2', (1, 21, 0, 1, 2)),
    ('go1.22beta1', (1, 22, 0, 0, 1)),
])
def test_parse_release(name, key):
    assert parse_release(name) == key


def test_release_order_puts_prereleases_before_the_release():
    names = ['go1.21.0', 'go1.21rc2', 'go1.21rc1', 'go1.20.9', 'go1.21beta1', 'go1.21.10', 'go1.21.2']
    assert sorted(names, key=parse_release) == [
        'go1.20.9', 'go1.21beta1', 'go1.21rc1', 'go1.21rc2', 'go1.21.0', 'go1.21.2', 'go1.21.10']


@pytest.mark.parametrize('bad', ['1', '1.27.3.4', '1.27.x', '1.27.3; rm -rf /', 'v1.27.3', '', 'latest ', ' 1.27'])
def test_garbage_requests_are_refused_with_the_accepted_forms(bad):
    if bad.strip() in ('latest', '1.27'):
        assert classify_request(bad)[0] in ('latest', 'minor')
        return
    with pytest.raises(GoVersionError, match="use 'latest', a minor such as '1.27'"):
        classify_request(bad)


def test_classify():
    assert classify_request('latest') == ('latest', None)
    assert classify_request('1.27') == ('minor', (1, 27))
    assert classify_request('go1.27') == ('minor', (1, 27))
    assert classify_request('1.27.3') == ('exact', (1, 27, 3, 2, 0))


def test_latest_skips_unstable_releases():
    assert resolve(INDEX, 'latest')['version'] == '1.27.3'


def test_minor_takes_its_newest_patch():
    assert resolve(INDEX, '1.27')['version'] == '1.27.3'
    assert resolve(INDEX, '1.26')['version'] == '1.26.6'
    assert resolve(INDEX, '1.20')['version'] == '1.20'


def test_exact_and_prerelease():
    found = resolve(INDEX, '1.27.2')
    assert found == {'version': '1.27.2', 'name': 'go1.27.2', 'stable': True,
                     'files': {'amd64': {'filename': 'go1.27.2.linux-amd64.tar.gz', 'sha256': 'b' * 64, 'size': 1}}}
    assert resolve(INDEX, '1.28rc1')['stable'] is False


def test_several_architectures():
    found = resolve(INDEX, '1.27.3', goarches=['amd64', 'arm64'])
    assert sorted(found['files']) == ['amd64', 'arm64']
    assert found['files']['arm64']['filename'] == 'go1.27.3.linux-arm64.tar.gz'


def test_unknown_version_names_the_newest():
    with pytest.raises(GoVersionError, match=r"'1.99.1' is not in the release index.*newest stable.*1.27.3"):
        resolve(INDEX, '1.99.1')
    with pytest.raises(GoVersionError, match='not in the release index'):
        resolve(INDEX, '1.25')


def test_missing_architecture():
    with pytest.raises(GoVersionError, match='no linux/s390x archive'):
        resolve(INDEX, '1.27.2', goarches=['s390x'])


@pytest.mark.parametrize('sha', ['', 'abc', 'g' * 64, None])
def test_entry_without_valid_checksum_is_refused(sha):
    index = [release('1.27.3', sha='x')]
    index[0]['files'][0]['sha256'] = sha
    with pytest.raises(GoVersionError, match='no valid sha256; refusing'):
        resolve(index, '1.27.3')


@pytest.mark.parametrize('text,match', [
    ('{not json', 'not valid JSON'),
    ('{"version": "go1.27.3"}', 'not a JSON list'),
    ('[{"version": "banana", "files": []}]', 'entry 0'),
    ('[{"version": "go1.27.3"}]', 'entry 0'),
])
def test_malformed_index(text, match):
    with pytest.raises(GoVersionError, match=match):
        parse_index(text)


def test_parse_index_roundtrip():
    assert parse_index(json.dumps(INDEX)) == INDEX


def test_strip_go():
    assert strip_go('go1.27.3') == '1.27.3'
    assert strip_go('1.27.3') == '1.27.3'


@pytest.mark.parametrize('value,request_ok,exact_ok', [
    ('latest', True, False), ('1.27', True, True), ('go1.27', True, False), ('1.27.3', True, True),
    ('go1.27.3', True, False), ('1.28rc1', True, True), ('1.22beta1', True, True), ('1.27.3\n', False, False),
    (' 1.27.3', False, False), ('1.27.3-evil', False, False), ('\u0661.27', False, False), ('', False, False),
    (1.27, False, False),
])
def test_requests_and_exact_versions(value, request_ok, exact_ok):
    assert is_request(value) is request_ok
    assert is_exact(value) is exact_ok
