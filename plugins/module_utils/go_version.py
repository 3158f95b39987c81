# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go release names, version requests and the release index.

Shared by the go_release and go_toolchain modules. Pure functions: no I/O
beyond what the caller hands in, so the unit tests need no network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible.module_utils.common.text.converters import to_native

# go1.20, go1.21.0, go1.21rc2, go1.22beta1; the leading "go" is optional.
_RELEASE_RE = re.compile(r'^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?$')
_MINOR_RE = re.compile(r'^(\d+)\.(\d+)$')
_SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
# What a user may write as go_toolchain_version (ASCII digits only, nothing around it), and the exact
# versions a pinned checksum or an install directory names (no leading "go").
_REQUEST_RE = re.compile(r'latest|(?:go)?[0-9]+[.][0-9]+(?:[.][0-9]+)?(?:(?:beta|rc)[0-9]+)?')
_EXACT_RE = re.compile(r'[0-9]+[.][0-9]+(?:[.][0-9]+)?(?:(?:beta|rc)[0-9]+)?')

_STAGE_ORDER = {'beta': 0, 'rc': 1, None: 2}


class GoVersionError(ValueError):
    """A version string, request or index that cannot be used."""


def parse_release(name):
    """Return a sortable key for a Go release name, or raise GoVersionError.

    >>> parse_release('go1.27.3')
    (1, 27, 3, 2, 0)
    """
    match = _RELEASE_RE.match(str(name).strip())
    if not match:
        raise GoVersionError('%r is not a Go release name' % (name,))
    major, minor, patch, stage, stage_num = match.groups()
    return (int(major), int(minor), int(patch or 0), _STAGE_ORDER[stage], int(stage_num or 0))


def is_release(name):
    try:
        parse_release(name)
    except GoVersionError:
        return False
    return True


def strip_go(name):
    """'go1.27.3' -> '1.27.3' (the form used for directory names and facts)."""
    name = str(name).strip()
    return name[2:] if name.startswith('go') else name


def classify_request(request):
    """Classify a go_toolchain_version value.

    Returns ('latest', None), ('minor', (major, minor)) or ('exact', key).
    A two-part request such as '1.27' always means the newest patch of that
    minor, even for old series whose first release was named 'go1.20'.
    """
    text = str(request).strip()
    if text == 'latest':
        return 'latest', None
    match = _MINOR_RE.match(text[2:] if text.startswith('go') else text)
    if match:
        return 'minor', (int(match.group(1)), int(match.group(2)))
    try:
        return 'exact', parse_release(text)
    except GoVersionError:
        raise GoVersionError(
            "%r is not a Go version: use 'latest', a minor such as '1.27' "
            "(newest patch of 1.27) or an exact version such as '1.27.3'" % (request,)) from None


def parse_index(text):
    """Parse the JSON release index and check its shape; return the list."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GoVersionError('is not valid JSON (%s)' % exc) from None
    if not isinstance(data, list):
        raise GoVersionError('is not a JSON list of releases, as https://go.dev/dl/?mode=json returns')
    for position, release in enumerate(data):
        if not isinstance(release, dict) or not is_release(release.get('version', '')) \
                or not isinstance(release.get('files'), list):
            raise GoVersionError(
                'entry %d is not a release with a "version" such as "go1.27.3" and a "files" list' % position)
    return data


def resolve(releases, request, goos='linux', goarches=('amd64',)):
    """Pick the release for a request and the archive of each architecture.

    Returns a dict: version ('1.27.3'), name ('go1.27.3'), stable, and files
    {goarch: {filename, sha256, size}}. Raises GoVersionError when no release
    matches, or when a matching release has no archive, or no well-formed
    sha256, for one of the architectures.
    """
    kind, want = classify_request(request)
    candidates = []
    for release in releases:
        key = parse_release(release['version'])
        stable = bool(release.get('stable', key[3] == 2))
        if kind == 'exact':
            if key == want:
                candidates.append((key, release, stable))
        elif stable and key[3] == 2 and (kind == 'latest' or key[:2] == want):
            candidates.append((key, release, stable))
    if not candidates:
        newest = sorted((parse_release(r['version']), r['version']) for r in releases
                        if r.get('stable', True))
        hint = ' The newest stable release in the index is %s.' % strip_go(newest[-1][1]) if newest else ''
        raise GoVersionError('version %r is not in the release index.%s' % (str(request), hint))
    key, release, stable = max(candidates, key=lambda item: item[0])
    files = {}
    for goarch in goarches:
        matches = [f for f in release['files']
                   if f.get('os') == goos and f.get('arch') == goarch and f.get('kind') == 'archive'
                   and str(f.get('filename', '')).endswith('.tar.gz')]
        if not matches:
            raise GoVersionError('release %s has no %s/%s archive in the release index'
                                 % (release['version'], goos, goarch))
        entry = matches[0]
        sha256 = str(entry.get('sha256', '')).lower()
        if not _SHA256_RE.match(sha256):
            raise GoVersionError('the index entry for %s has no valid sha256; refusing to install '
                                 'without a known checksum' % entry.get('filename'))
        files[goarch] = {'filename': entry['filename'], 'sha256': sha256, 'size': entry.get('size')}
    return {
        'version': strip_go(release['version']),
        'name': release['version'],
        'stable': stable,
        'files': files,
    }


def is_request(value):
    """Whether value is a version request: "latest", a minor ("1.27", "go1.27") or an exact version."""
    return isinstance(value, str) and _REQUEST_RE.fullmatch(value) is not None


def is_exact(value):
    """Whether value is one exact version as directories and pins name it: "1.27.3", "1.28rc1" (no "go")."""
    return isinstance(value, str) and _EXACT_RE.fullmatch(value) is not None


RELEASE_ARGUMENT_SPEC = dict(
    version=dict(type='str', required=True),
    index=dict(type='str', default='https://go.dev/dl/?mode=json&include=all'),
    mirror=dict(type='str', default='https://go.dev/dl/'),
    goarch=dict(type='list', elements='str', default=['amd64']),
    timeout=dict(type='int', default=30),
)


def read_index(location, timeout):
    """Return the index text from an http(s)/file URL or a local path."""
    if location.startswith('file://'):
        location = location[len('file://'):]
    if '://' not in location:
        with open(os.path.expanduser(location), 'rb') as handle:
            return handle.read().decode('utf-8')
    from ansible.module_utils.urls import open_url  # noqa: PLC0415 - heavy, and only needed for URLs
    return open_url(location, timeout=timeout, http_agent='go-buildhost').read().decode('utf-8')


def lookup_release(params):
    """Resolve params (RELEASE_ARGUMENT_SPEC) to a result dict.

    Raises GoVersionError with a message that names the role variable to fix.
    """
    index = params['index']
    try:
        text = read_index(index, params['timeout'])
    except Exception as exc:  # urllib, socket and OS errors all mean the same to the user
        raise GoVersionError(
            'Cannot read the Go release index %s (go_toolchain_release_index): %s. Check the URL and the '
            'network or proxy, or point go_toolchain_release_index at a reachable mirror copy or a file on '
            'the controller.' % (index, to_native(exc))) from None
    try:
        releases = parse_index(text)
    except GoVersionError as exc:
        raise GoVersionError(
            'The Go release index %s (go_toolchain_release_index) %s. Fix the mirror copy or point '
            'go_toolchain_release_index at the official index.' % (index, exc)) from None
    try:
        found = resolve(releases, params['version'], goarches=params['goarch'])
    except GoVersionError as exc:
        raise GoVersionError('go_toolchain_version: %s (index: %s)' % (exc, index)) from None
    mirror = params['mirror'] if params['mirror'].endswith('/') else params['mirror'] + '/'
    for entry in found['files'].values():
        entry['url'] = mirror + entry['filename']
    return found
