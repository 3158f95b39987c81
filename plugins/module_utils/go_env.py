# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Go environment: validation, rendering and the Go env file format.

Shared by the go_env_file module (on the host) and the go_env role's filter
plugin (on the controller, so bad input stops the run before anything is
written). Pure functions, no I/O.

Each rule mirrors the Go code that reads the value (Go 1.27):

- GOPROXY: cmd/go/internal/modfetch/proxy.go proxyList and newProxyRepo;
- GOSUMDB: cmd/go/internal/modfetch/sumdb.go dbDial and
  golang.org/x/mod/sumdb/note NewVerifier (name+hash+key);
- GOPRIVATE, GONOSUMDB, GONOPROXY, GOINSECURE: golang.org/x/mod/module
  MatchPrefixPatterns (comma-separated path.Match globs);
- GOFLAGS: cmd/go/internal/base/goflags.go InitGOFLAGS (cmd/internal/quoted);
- GOMEMLIMIT: runtime parseByteCount; GOGC: runtime readGOGC;
  GOMAXPROCS: runtime schedinit; GOTRACEBACK: runtime setTraceback;
- the env file: cmd/go/internal/cfg readEnvFile, envcmd checkEnvWrite.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import re

# cmd/go's KnownEnv (Go 1.27): the variables the go command reads from go.env and `go env -w`.
KNOWN_COMMAND_KEYS = frozenset((
    'AR', 'CC', 'CGO_CFLAGS', 'CGO_CFLAGS_ALLOW', 'CGO_CFLAGS_DISALLOW', 'CGO_CPPFLAGS', 'CGO_CPPFLAGS_ALLOW',
    'CGO_CPPFLAGS_DISALLOW', 'CGO_CXXFLAGS', 'CGO_CXXFLAGS_ALLOW', 'CGO_CXXFLAGS_DISALLOW', 'CGO_ENABLED',
    'CGO_FFLAGS', 'CGO_FFLAGS_ALLOW', 'CGO_FFLAGS_DISALLOW', 'CGO_LDFLAGS', 'CGO_LDFLAGS_ALLOW',
    'CGO_LDFLAGS_DISALLOW', 'CXX', 'FC', 'GCCGO', 'GO111MODULE', 'GO386', 'GOAMD64', 'GOARCH', 'GOARM',
    'GOARM64', 'GOAUTH', 'GOBIN', 'GOCACHE', 'GOCACHEPROG', 'GOENV', 'GOEXE', 'GOEXPERIMENT', 'GOFIPS140',
    'GOFLAGS', 'GOGCCFLAGS', 'GOHOSTARCH', 'GOHOSTOS', 'GOINSECURE', 'GOMIPS', 'GOMIPS64', 'GOMODCACHE',
    'GONOPROXY', 'GONOSUMDB', 'GOOS', 'GOPATH', 'GOPPC64', 'GOPRIVATE', 'GOPROXY', 'GORISCV64', 'GOROOT',
    'GOSUMDB', 'GOTMPDIR', 'GOTOOLCHAIN', 'GOTOOLDIR', 'GOVCS', 'GOWASM', 'GOWORK', 'GO_EXTLINK_ENABLED',
    'PKG_CONFIG',
))

# envcmd.checkEnvWrite: computed by the go command, never read from an env file.
READ_ONLY_KEYS = frozenset(('GOEXE', 'GOGCCFLAGS', 'GOHOSTARCH', 'GOHOSTOS', 'GOMOD', 'GOROOT', 'GOTELEMETRY',
                            'GOTELEMETRYDIR', 'GOTOOLDIR', 'GOVERSION', 'GOWORK', 'GOENV'))

# Read by the Go runtime of every program from its process environment, never from go.env.
RUNTIME_KEYS = ('GOMAXPROCS', 'GOMEMLIMIT', 'GOGC', 'GOTRACEBACK', 'GODEBUG')

# Role variable -> Go variable, for the variables with a dedicated role variable.
COMMAND_VARIABLES = (
    ('go_env_proxy', 'GOPROXY'),
    ('go_env_sumdb', 'GOSUMDB'),
    ('go_env_private', 'GOPRIVATE'),
    ('go_env_nosumdb', 'GONOSUMDB'),
    ('go_env_noproxy', 'GONOPROXY'),
    ('go_env_insecure', 'GOINSECURE'),
    ('go_env_flags', 'GOFLAGS'),
    ('go_env_toolchain', 'GOTOOLCHAIN'),
    ('go_env_cache', 'GOCACHE'),
    ('go_env_modcache', 'GOMODCACHE'),
)
RUNTIME_VARIABLES = (
    ('go_env_maxprocs', 'GOMAXPROCS'),
    ('go_env_memlimit', 'GOMEMLIMIT'),
    ('go_env_gogc', 'GOGC'),
    ('go_env_traceback', 'GOTRACEBACK'),
    ('go_env_godebug', 'GODEBUG'),
)
VARIABLE_OF = dict((key, var) for var, key in COMMAND_VARIABLES + RUNTIME_VARIABLES)
PATTERN_KEYS = ('GOPRIVATE', 'GONOSUMDB', 'GONOPROXY', 'GOINSECURE')

# modfetch/key.go knownGOSUMDB, plus the alias sumdb.go accepts.
KNOWN_SUMDB = {
    'sum.golang.org': 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8',
    'sum.golang.google.cn': 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8',
}

MARKER = '# Managed by go-buildhost (go_env), keys:'
# What the file held before the first change, so that go_env_state absent can put it back: one line
# per key whose own value was replaced in place ("<ORIGINAL> KEY value"), and one when the file did not exist.
ORIGINAL = '# Managed by go-buildhost (go_env), value before:'
CREATED = '# Managed by go-buildhost (go_env), created this file.'
_KEY_RE = re.compile(r'^[A-Z][A-Z0-9_]*$')
_TOOLCHAIN_RE = re.compile(r'^(?:local|auto|path|go1(?:\.[0-9]+){1,2}(?:(?:rc|beta)[0-9]+)?(?:-[A-Za-z0-9._-]+)?)'
                           r'(?:\+(?:auto|path))?$')
_SIZE_RE = re.compile(r'^([0-9]+)(B|KiB|MiB|GiB|TiB)?$')
_LOOKS_DECIMAL_SIZE = re.compile(r'^([0-9]+)\s*([KMGT])(?:B|b)?$|^([0-9]+)\s*([kmgt])(?:i?B|i?b)?$')
_GODEBUG_NAME = re.compile(r'^[A-Za-z0-9_.-]+$')
_GODEBUG_VALUE = re.compile(r'^[A-Za-z0-9_.:+-]+$')
_WHITESPACE = re.compile(r'\s')


class GoEnvError(ValueError):
    """A value the go command or the Go runtime would reject or misread."""


# ---- values ------------------------------------------------------------

def as_list(value, split=','):
    """A role list variable, also accepting the comma-separated string Go uses."""
    if value is None or value == '':
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value).split(split) if split else str(value).split()


def check_proxy(value, variable='go_env_proxy'):
    """GOPROXY: URLs separated by ',' (fall through on 404/410) or '|' (on any error), direct, off."""
    if value == '':
        raise GoEnvError('%s is empty: give at least one element, e.g. ["https://proxy.golang.org", "direct"], '
                         'or ["off"] to forbid downloads.' % variable)
    elements = re.split(r'[,|]', value)
    for position, element in enumerate(elements, 1):
        if element == '':
            raise GoEnvError('%s has an empty element (GOPROXY=%s): remove it. Go skips empty elements silently, '
                             'which hides typos such as a doubled comma.' % (variable, value))
        if _WHITESPACE.search(element):
            raise GoEnvError('%s element %d %r contains whitespace: each element is one URL, direct or off.'
                             % (variable, position, element))
        if element in ('direct', 'off'):
            if position != len(elements):
                raise GoEnvError('%s: %s must be the last element: the go command stops at it and ignores %s. '
                                 'Move it to the end or remove what follows.'
                                 % (variable, element, ', '.join(elements[position:])))
            continue
        url = element
        if '://' not in url and ':/' not in url:
            if not re.search(r'[.:/]', url) or url.startswith('/'):
                raise GoEnvError('%s element %d %r is neither a URL nor direct or off: write a full URL such as '
                                 'https://goproxy.example.com.' % (variable, position, element))
            url = 'https://' + url  # what the go command does with host[/path]
        match = re.match(r'^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$', url)
        if not match:
            raise GoEnvError('%s element %d %r is not a valid URL.' % (variable, position, element))
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in ('https', 'http', 'file'):
            raise GoEnvError('%s element %d %r has the scheme %s://: the go command accepts only https://, http:// '
                             'and file:// proxy URLs, plus the keywords direct and off.'
                             % (variable, position, element, scheme))
        if scheme == 'file' and (not rest.startswith('/') or '?' in rest or '#' in rest):
            raise GoEnvError('%s element %d %r: a file:// proxy URL is file:// followed by an absolute path, with '
                             'nothing else (no host, query or fragment).' % (variable, position, element))
        if scheme in ('http', 'https') and (rest == '' or rest.startswith('/')):
            raise GoEnvError('%s element %d %r has no host.' % (variable, position, element))


def verifier_key_error(key):  # noqa: PLR0911 - one return per rule of note.NewVerifier
    """Why a checksum database key (name+hash+base64key) is invalid, or None; as note.NewVerifier."""
    name, _sep, rest = key.partition('+')
    hash16, _sep, key64 = rest.partition('+')
    if not name or _WHITESPACE.search(name):
        return 'the name before the first + is empty or has whitespace'
    if not re.match(r'^[0-9a-fA-F]{8}$', hash16):
        return 'the hash after the name must be 8 hexadecimal digits, got %r' % hash16
    try:
        raw = base64.b64decode(key64.encode('ascii'), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return 'the key after the hash is not standard (padded) base64'
    if len(raw) != 33 or raw[0:1] != b'\x01':
        return 'the key must decode to 33 bytes: 0x01 (Ed25519) followed by the 32-byte public key'
    expected = hashlib.sha256(name.encode('utf-8') + b'\n' + raw).hexdigest()[:8]
    if hash16.lower() != expected:
        return ('the hash %s does not match the name and key (expected %s): the key was mistyped or belongs to '
                'another database' % (hash16, expected))
    host = name.split('/', 1)[0]
    if not host or name.endswith('/') or not re.match(r'^[A-Za-z0-9.:\[\]-]+$', host):
        return 'the database name %r must be host[/path]' % name
    return None


def check_sumdb(value, variable='go_env_sumdb'):
    """GOSUMDB: off, a known name, or a verifier key, each optionally followed by a URL."""
    fields = value.split()
    if not fields:
        raise GoEnvError('%s is empty: use sum.golang.org (the default), sum.golang.google.cn, or your '
                         'database as "name+hash+key [url]".' % variable)
    if fields == ['off']:
        return
    if len(fields) > 2 or value != ' '.join(fields):
        raise GoEnvError('%s %r: the form is "name+hash+key" or a known name, optionally followed by one space and '
                         'the URL to reach it, e.g. "sum.golang.org https://sum.golang.google.cn".' % (variable, value))
    if fields[0] not in KNOWN_SUMDB:
        if '+' not in fields[0]:
            raise GoEnvError('%s %r: the go command knows the key only of sum.golang.org (and its alias '
                             'sum.golang.google.cn). For any other checksum database give its full verifier key, '
                             '"name+hash+key", as its operator publishes it.' % (variable, fields[0]))
        problem = verifier_key_error(fields[0])
        if problem:
            raise GoEnvError('%s %r is not a valid checksum database key: %s. The format is name+hash+key '
                             '(golang.org/x/mod/sumdb/note verifier keys), e.g. %s.'
                             % (variable, fields[0], problem, KNOWN_SUMDB['sum.golang.org']))
    if len(fields) == 2 and not re.match(r'^https?://[^/\s]+', fields[1]):
        raise GoEnvError('%s: the URL after the key, %r, must be an http:// or https:// URL.' % (variable, fields[1]))


def _glob_error(pattern):
    """Why a path.Match pattern is malformed, or None (Go would silently never match it)."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == '\\':
            if i + 1 >= len(pattern):
                return 'it ends with a lone backslash'
            i += 2
            continue
        if char == '[':
            i += 1
            if i < len(pattern) and pattern[i] == '^':
                i += 1
            items = 0
            while True:
                if i >= len(pattern):
                    return 'a [ character class is not closed'
                if pattern[i] == ']' and items:
                    break
                if pattern[i] in '-]':
                    return 'a [ character class has a misplaced %s' % pattern[i]
                if pattern[i] == '\\':
                    i += 1
                    if i >= len(pattern):
                        return 'it ends with a lone backslash'
                i += 1
                items += 1
                if i < len(pattern) and pattern[i] == '-' and i + 1 < len(pattern) and pattern[i + 1] != ']':
                    i += 1
                    if pattern[i] == '\\':
                        i += 1
                    i += 1
            i += 1
            continue
        if char == ']':
            return 'it has a ] without ['
        i += 1
    return None


def check_patterns(elements, variable, key):
    """GOPRIVATE-style lists: each element one glob matched against module path prefixes."""
    for element in elements:
        if element == '':
            raise GoEnvError('%s has an empty element: remove it (%s is a comma-separated list of glob patterns).'
                             % (variable, key))
        if _WHITESPACE.search(element) or ',' in element:
            raise GoEnvError('%s element %r contains whitespace or a comma: each element is one glob pattern with '
                             'no spaces, matched against module path prefixes, e.g. "*.corp.example.com" or '
                             '"github.com/acme/*".' % (variable, element))
        problem = _glob_error(element)
        if problem:
            raise GoEnvError('%s element %r is not a valid glob (%s): Go would never match it, so those modules '
                             'would silently go to the public proxy and checksum database.'
                             % (variable, element, problem))


def matches_everything(pattern):
    """True for patterns whose first path element has no literal letter or digit (*, *.*, ?*)."""
    first = pattern.strip('/').split('/', 1)[0]
    return not re.search(r'[A-Za-z0-9]', re.sub(r'\[[^\]]*\]', '', first))


def quote_goflag(token):
    """cmd/internal/quoted.Join for one argument."""
    if not re.search(r'[\s\'"]', token):
        return token
    if "'" not in token:
        return "'%s'" % token
    if '"' not in token:
        return '"%s"' % token
    raise GoEnvError('go_env_flags element %r contains both single and double quotes; GOFLAGS cannot quote it.'
                     % token)


def check_flags(tokens, variable='go_env_flags'):
    for token in tokens:
        if (not token.startswith('-') or token in ('-', '--') or token.startswith('---')
                or token.startswith('-=') or token.startswith('--=')):
            raise GoEnvError('%s element %r is not a flag: each element is one flag starting with -, '
                             'e.g. -mod=readonly or -trimpath.' % (variable, token))
        name = token.lstrip('-').split('=', 1)[0]
        if '=' not in token and _WHITESPACE.search(token):
            raise GoEnvError('%s element %r: write a flag and its value as one element -flag=value '
                             '(GOFLAGS has no "-flag value" form).' % (variable, token))
        if not re.match(r'^[A-Za-z0-9_.-]+$', name):
            raise GoEnvError('%s element %r has an invalid flag name %r.' % (variable, token, name))
        quote_goflag(token)


def flag_name(token):
    return token.lstrip('-').split('=', 1)[0]


def check_memlimit(value, variable='go_env_memlimit'):
    if value == 'off' or _SIZE_RE.match(value):
        return
    hint = ''
    match = _LOOKS_DECIMAL_SIZE.match(value.replace(' ', '')) if value else None
    if match:
        number = match.group(1) or match.group(3)
        unit = (match.group(2) or match.group(4)).upper()
        hint = ' Write %s%siB (binary units, powers of 1024) instead.' % (number, unit)
    raise GoEnvError('%s %r is not in Go\'s size syntax: an integer number of bytes with an optional unit B, KiB, '
                     'MiB, GiB or TiB, e.g. 3GiB or 750MiB, or off.%s Go rejects GB/MB-style units: every Go program '
                     'would abort at start with "malformed GOMEMLIMIT".' % (variable, value, hint))


def check_gogc(value, variable='go_env_gogc'):
    if value == 'off' or re.match(r'^[0-9]+$', value):
        return
    if re.match(r'^-[0-9]+$', value):
        raise GoEnvError('%s %r: GOGC must be an integer >= 0 (a percentage of the live heap; 100 is Go\'s default) '
                         'or off. A negative value turns the garbage collector off: write off if that is meant.'
                         % (variable, value))
    raise GoEnvError('%s %r: GOGC must be an integer >= 0 (a percentage; 100 is Go\'s default) or off; Go silently '
                     'uses 100 for anything else.' % (variable, value))


def check_maxprocs(value, variable='go_env_maxprocs'):
    if not re.match(r'^[0-9]+$', value) or int(value) < 1:
        raise GoEnvError('%s %r: GOMAXPROCS must be a positive integer; Go silently ignores anything else. Leave it '
                         'empty to let Go use the CPUs (and, since Go 1.25, the cgroup CPU limit).' % (variable, value))


def check_traceback(value, variable='go_env_traceback'):
    if value in ('none', 'single', 'all', 'system', 'crash') or re.match(r'^[0-9]+$', value):
        return
    raise GoEnvError('%s %r: GOTRACEBACK is one of none, single, all, system, crash (or a level number).'
                     % (variable, value))


def render_godebug(settings, variable='go_env_godebug'):
    if isinstance(settings, dict):
        items = sorted((str(k), v) for k, v in settings.items())
    else:
        items = []
        for element in as_list(settings):
            name, sep, val = element.partition('=')
            if not sep:
                raise GoEnvError('%s element %r must be name=value.' % (variable, element))
            items.append((name, val))
    out = []
    for name, raw in items:
        val = ('1' if raw else '0') if isinstance(raw, bool) else str(raw)
        if not _GODEBUG_NAME.match(name) or not _GODEBUG_VALUE.match(val):
            raise GoEnvError('%s: %r=%r is not a GODEBUG setting: names and values are single words without '
                             'spaces, commas or quotes, e.g. {http2client: 0}.' % (variable, name, val))
        out.append('%s=%s' % (name, val))
    return ','.join(out)


def check_path(value, variable, key):
    if not value.startswith('/'):
        extra = ' (GOCACHE=off makes every build fail since Go 1.12)' if key == 'GOCACHE' and value == 'off' else ''
        raise GoEnvError('%s %r must be an absolute path, or "" for Go\'s default%s.' % (variable, value, extra))


def check_toolchain(value, variable='go_env_toolchain'):
    if not _TOOLCHAIN_RE.match(value):
        raise GoEnvError('%s %r: GOTOOLCHAIN is local, auto, path, or a toolchain name such as go1.27.3 optionally '
                         'followed by +auto or +path. Keep local on build hosts.' % (variable, value))


def check_value_text(key, value, variable):
    if '\n' in value or '\r' in value or '\v' in value or '\x00' in value:
        raise GoEnvError('%s: the value of %s contains a newline or NUL; env files hold one line per variable.'
                         % (variable, key))


def check_key(key, variable='go_env_extra'):
    if not _KEY_RE.match(key):
        raise GoEnvError('%s key %r is not a Go environment variable name (upper case letters, digits and _, '
                         'starting with a letter).' % (variable, key))


# ---- the role's settings -------------------------------------------------

def _text(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'on' if value else 'off'
    return str(value)


class _Collector(object):
    """Runs checks, keeping every GoEnvError (errors is a list) or raising the first (errors is None)."""

    def __init__(self, errors):
        self.errors = errors

    def __call__(self, check, *args):
        try:
            check(*args)
        except GoEnvError as exc:
            if self.errors is None:
                raise
            self.errors.append(str(exc))
            return False
        return True


def _raise(message):
    raise GoEnvError(message)


def _extra_key(key, value):
    check_key(key)
    if key in VARIABLE_OF:
        _raise('go_env_extra sets %s: use %s instead, which validates it.' % (key, VARIABLE_OF[key]))
    if key in READ_ONLY_KEYS:
        _raise('go_env_extra sets %s: the go command computes it or reads it only from the process environment, '
               'never from go.env.' % key)
    if key not in KNOWN_COMMAND_KEYS:
        _raise('go_env_extra sets %s, which is not a go command variable (see `go help environment`; `go env -w` '
               'refuses it too). Check the spelling.' % key)
    if value is None:
        return
    check_value_text(key, value, 'go_env_extra')
    if key == 'GOPATH' and value and not value.startswith('/'):
        _raise('go_env_extra.GOPATH %r must be an absolute path.' % value)
    if key == 'GO111MODULE' and value not in ('', 'on', 'off', 'auto'):
        _raise('go_env_extra.GO111MODULE %r must be on, off, auto or "".' % value)


def command_env(settings, errors=None):
    """Role variables -> {GOxxx: value or None (removed)} for the go command's env files.

    Raises GoEnvError on the first value the go command would reject, or,
    given an errors list, appends every message to it.
    """
    check = _Collector(errors)
    env = {}
    env['GOPROXY'] = ','.join(as_list(settings.get('go_env_proxy')))
    check(check_proxy, env['GOPROXY'])
    env['GOSUMDB'] = _text(settings.get('go_env_sumdb'))
    check(check_sumdb, env['GOSUMDB'])
    for variable, key in COMMAND_VARIABLES:
        if key in PATTERN_KEYS:
            patterns = as_list(settings.get(variable))
            check(check_patterns, patterns, variable, key)
            env[key] = ','.join(patterns) or None
    if env['GONOSUMDB']:
        # Go replaces its GOPRIVATE default with GONOSUMDB when that is set: private module paths would
        # then be looked up in the public checksum database. Here the list extends go_env_private.
        private = as_list(settings.get('go_env_private'))
        extra = [p for p in as_list(settings.get('go_env_nosumdb')) if p not in private]
        env['GONOSUMDB'] = ','.join(private + extra)
    flags = as_list(settings.get('go_env_flags'), split=None)
    if settings.get('go_env_modcache_shared') and '-modcacherw' not in flags:
        flags.append('-modcacherw')
    if check(check_flags, flags):
        env['GOFLAGS'] = ' '.join(quote_goflag(f) for f in flags) or None
    env['GOTOOLCHAIN'] = _text(settings.get('go_env_toolchain'))
    check(check_toolchain, env['GOTOOLCHAIN'])
    for variable, key in (('go_env_cache', 'GOCACHE'), ('go_env_modcache', 'GOMODCACHE')):
        value = _text(settings.get(variable))
        if value:
            check(check_path, value, variable, key)
        env[key] = value or None
    extra = settings.get('go_env_extra') or {}
    if not isinstance(extra, dict):
        check(_raise, 'go_env_extra must be a dict of Go variable names to values, e.g. {GOVCS: "public:git"}.')
        extra = {}
    for key in sorted(extra):
        value = extra[key]
        if isinstance(value, bool):
            # YAML reads on/off/yes/no as booleans: CGO_ENABLED wants 1/0, the others on/off.
            value = ('1' if value else '0') if key in ('CGO_ENABLED', 'GO_EXTLINK_ENABLED') else _text(value)
        value = None if value is None else _text(value)
        if check(_extra_key, key, value):
            env[key] = value
    return env


def runtime_env(settings, errors=None):
    """Role variables -> {GOxxx: value or None} for the Go runtime, in the process environment."""
    check = _Collector(errors)
    env = {}
    checks = {'GOMAXPROCS': check_maxprocs, 'GOMEMLIMIT': check_memlimit, 'GOGC': check_gogc,
              'GOTRACEBACK': check_traceback}
    for variable, key in RUNTIME_VARIABLES:
        raw = settings.get(variable)
        value = None
        if key == 'GODEBUG':
            try:
                value = render_godebug(raw or {})
            except GoEnvError as exc:
                check(_raise, str(exc))
        else:
            value = _text(raw).strip() if raw is not None else ''
            if value:
                check(checks[key], value)
        env[key] = value or None
    return env


def insecure_settings(env):
    """What in a go command env turns module integrity checks off."""
    found = []
    if env.get('GOSUMDB') == 'off':
        found.append('go_env_sumdb is "off" (no checksum database at all)')
    if env.get('GOINSECURE'):
        found.append('go_env_insecure is set (%s: fetched over plain HTTP or unverified TLS, without checksum '
                     'verification)' % env['GOINSECURE'])
    try:
        tokens = _split_goflags(env.get('GOFLAGS') or '')
    except GoEnvError:
        tokens = []
    if any(flag_name(t) == 'insecure' for t in tokens):
        found.append('go_env_flags contains -insecure')
    for key in ('GONOSUMDB', 'GOPRIVATE'):
        broad = [p for p in (env.get(key) or '').split(',') if p and matches_everything(p)]
        if broad:
            found.append('%s pattern %s matches every module path (checksum verification off for all modules)'
                         % (VARIABLE_OF[key], ', '.join(broad)))
    return found


def _split_goflags(value):
    fields = []
    rest = value
    while rest:
        rest = rest.lstrip()
        if not rest:
            break
        if rest[0] in '\'"':
            end = rest.find(rest[0], 1)
            if end < 0:
                raise GoEnvError('unterminated %s string in GOFLAGS' % rest[0])
            fields.append(rest[1:end])
            rest = rest[end + 1:]
            continue
        match = re.match(r'\S+', rest)
        fields.append(match.group(0))
        rest = rest[match.end():]
    return fields


def insecure_error(found):
    return ('Refusing settings that switch off module integrity checks: %s. With them, the go command accepts '
            'module content it cannot verify against the checksum database, so a compromised proxy, VCS host or '
            'network path can inject code into every build undetected. For private modules use go_env_private or '
            'go_env_nosumdb with specific patterns; if you really accept the risk, set go_env_allow_insecure: true.'
            % '; '.join(found))


def settings_errors(settings):
    """Every problem with the role's settings, as messages naming the role variables."""
    errors = []
    command = command_env(settings, errors)
    runtime_env(settings, errors)
    if not settings.get('go_env_allow_insecure'):
        found = insecure_settings(command)
        if found:
            errors.append(insecure_error(found))
    return errors


def validate_env(env, allow_insecure=False):
    """Check a {key: value or None} env as the module receives it; raise GoEnvError."""
    checks = {'GOPROXY': check_proxy, 'GOSUMDB': check_sumdb, 'GOTOOLCHAIN': check_toolchain,
              'GOMAXPROCS': check_maxprocs, 'GOMEMLIMIT': check_memlimit, 'GOGC': check_gogc,
              'GOTRACEBACK': check_traceback}
    for key, value in env.items():
        variable = VARIABLE_OF.get(key, 'env.%s' % key)
        check_key(key, 'env')
        if value is None:
            continue
        check_value_text(key, value, variable)
        if key in checks:
            checks[key](value, variable)
        elif key in PATTERN_KEYS:
            check_patterns(value.split(','), variable, key)
        elif key == 'GOFLAGS':
            check_flags(_split_goflags(value), variable)
        elif key in ('GOCACHE', 'GOMODCACHE') and value:
            check_path(value, variable, key)
        elif key == 'GODEBUG' and value:
            render_godebug(value.split(','), variable)
    if not allow_insecure:
        found = insecure_settings(env)
        if found:
            raise GoEnvError(insecure_error(found))


# ---- the env file format -------------------------------------------------

def parse_line(line):
    """(key, value) for a KEY=VALUE line as cmd/go reads it, else None (comments, blanks, junk)."""
    if '=' not in line or not line or not ('A' <= line[0] <= 'Z'):
        return None
    key, _sep, value = line.partition('=')
    return key, value


def parse(text):
    """{key: value} as the go command would read the file: the last line for a key wins."""
    values = {}
    for line in (text or '').split('\n'):
        parsed = parse_line(line)
        if parsed:
            values[parsed[0]] = parsed[1]
    return values


def managed_keys(text):
    for line in (text or '').split('\n'):
        if line.startswith(MARKER):
            return line[len(MARKER):].split()
    return []


def records(text):
    """({key: value the file held before go_env replaced it}, whether go_env created the file)."""
    originals = {}
    created = False
    for line in (text or '').split('\n'):
        if line.startswith(ORIGINAL):
            key, _sep, value = line[len(ORIGINAL) + 1:].partition(' ')
            if _KEY_RE.match(key):
                originals.setdefault(key, value)
        elif line == CREATED:
            created = True
    return originals, created


def _record_lines(originals, created):
    lines = [CREATED] if created else []
    lines.extend('%s %s %s' % (ORIGINAL, k, originals[k]) for k in sorted(originals))
    return lines


def update(text, env, track=True):
    """Return text with env applied: values replaced in place, None and stale managed keys removed.

    Comments, blank lines and keys not in env are kept. New keys are
    appended at the end. With track, a marker comment lists the keys set
    here, so a key dropped from env later is removed too, and record
    comments keep the values replaced in place (and whether the file was
    created, text None), for restore(). A key dropped from env gets its
    recorded value back.
    """
    created_now = text is None
    text = text or ''
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    previously = set(managed_keys(text)) if track else set()
    originals, created = records(text) if track else ({}, False)
    created = created or created_now
    desired = dict((k, v) for k, v in env.items() if v is not None)
    dropped = previously - set(env)
    doomed = set(k for k, v in env.items() if v is None) | dropped
    out = []
    seen = set()
    marker_at = None
    for line in lines:
        if track and (line.startswith(MARKER) or line.startswith(ORIGINAL) or line == CREATED):
            if marker_at is None:
                marker_at = len(out)
                out.append(None)
            continue
        parsed = parse_line(line)
        if parsed:
            key = parsed[0]
            if key in dropped and key in originals:
                out.append('%s=%s' % (key, originals.pop(key)))  # the file's own value is back
                seen.add(key)
                continue
            if key in doomed:
                continue
            if key in desired:
                if key in seen:
                    continue
                if track and key not in previously:
                    originals.setdefault(key, parsed[1])
                seen.add(key)
                out.append('%s=%s' % (key, desired[key]))
                continue
        out.append(line)
    keys = sorted(desired)
    if track and keys:
        block = _record_lines(originals, created) + ['%s %s' % (MARKER, ' '.join(keys))]
        if marker_at is None:
            while out and out[-1] == '':
                out.pop()
            if out:
                out.append('')
            out.extend(block)
        else:
            out[marker_at:marker_at + 1] = block
    elif marker_at is not None and marker_at == len(out) - 1:
        # The block this function appended is now empty: drop it with its blank line.
        out.pop()
        while out and out[-1] == '':
            out.pop()
    out = [line for line in out if line is not None]
    out.extend('%s=%s' % (k, desired[k]) for k in keys if k not in seen)
    return '\n'.join(out) + '\n' if out else ''


def restore(text):
    """text as it was before update() first changed it, or None when update() created the file.

    The managed keys go, the values they replaced come back where they stood, and the block
    update() appended goes with the blank line before it. Keys managed before the records
    existed (go-buildhost before 2026) lose their line: the second item lists them.
    """
    text = text or ''
    managed = set(managed_keys(text))
    originals, created = records(text)
    if not managed and not originals and not created:
        return text, []
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    out = []
    restored = set()
    for line in lines:
        if line.startswith(MARKER) or line.startswith(ORIGINAL) or line == CREATED:
            out.append(None)
            continue
        parsed = parse_line(line)
        if parsed and (parsed[0] in managed or parsed[0] in originals):
            key = parsed[0]
            if key in originals and key not in restored:
                out.append('%s=%s' % (key, originals[key]))
                restored.add(key)
            continue
        out.append(line)
    if None in out and all(line is None for line in out[out.index(None):]):
        del out[out.index(None):]
        while out and out[-1] == '':
            out.pop()
    out = [line for line in out if line is not None]
    out.extend('%s=%s' % (k, originals[k]) for k in sorted(originals) if k not in restored)
    unknown = sorted(k for k in managed if k not in originals and k in parse('\n'.join(lines[:_block_start(lines)])))
    if created and not out:
        return None, unknown
    return ('\n'.join(out) + '\n' if out else ''), unknown


def _block_start(lines):
    """Index of the first line of update()'s block (records and marker), or len(lines)."""
    for number, line in enumerate(lines):
        if line.startswith(MARKER) or line.startswith(ORIGINAL) or line == CREATED:
            return number
    return len(lines)


def remove_keys(text, keys):
    """text without the KEY=VALUE lines of keys (for per-user files: nothing else is touched)."""
    out = []
    for line in (text or '').split('\n'):
        parsed = parse_line(line)
        if parsed and parsed[0] in keys:
            continue
        out.append(line)
    return '\n'.join(out)


def shell_quote(value):
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render_profile(env, header):
    lines = ['# %s' % line for line in header]
    lines.extend('export %s=%s' % (k, shell_quote(v)) for k, v in sorted(env.items()))
    return '\n'.join(lines) + '\n'


def render_systemd(env, header):
    lines = ['# %s' % line for line in header]
    assignments = ' '.join('"%s=%s"' % (k, v.replace('\\', '\\\\').replace('"', '\\"'))
                           for k, v in sorted(env.items()))
    lines.extend(['[Manager]', 'DefaultEnvironment=%s' % assignments])
    return '\n'.join(lines) + '\n'


def go_release_of(version_text):
    """(major, minor) from the first line of a GOROOT's VERSION file, or None."""
    first = (version_text or '').split('\n', 1)[0].strip()
    match = re.match(r'^go(\d+)\.(\d+)', first)
    return (int(match.group(1)), int(match.group(2))) if match else None


# ---- the shared caches of the go_cache role --------------------------------

SHARED_CACHE_KEYS = (('go_cache_build_dir', 'gocache'), ('go_cache_mod_dir', 'gomodcache'),
                     ('go_cache_group', 'group'), ('go_cache_go_env_enabled', 'go_env'))


def shared_cache_error(settings, shared_paths, group=None, owner='the go_cache role'):
    """Why go_env_cache or go_env_modcache may not name one of shared_paths, or None.

    The one rule behind go_cache's check (owner "this role") and go_env's (the caches go_cache
    published, or the inventory gives it): go.env applies to every account, and only members of
    the cache group can write a shared cache, so every other account's go would fail.
    """
    shared = set(path for path in shared_paths if path)
    named = [_text(settings.get(variable)) for variable in ('go_env_cache', 'go_env_modcache')]
    if not any(value and value in shared for value in named):
        return None
    return ('go_env_cache or go_env_modcache names a shared cache of %s (go_cache_build_dir, go_cache_mod_dir).'
            ' go.env applies to every account, and only members of %s can write the shared caches: every other'
            " account's go would fail. Leave go_env_cache and go_env_modcache empty: members get the shared caches"
            ' from the go launcher (see roles/go_cache/README.md, "Who uses the shared caches").'
            % (owner, group or 'the cache group'))


def _same(declared, published):
    if isinstance(published, bool) or isinstance(declared, bool):
        return _as_bool(declared) == _as_bool(published)
    return _text(declared) == _text(published)


def _as_bool(value):
    return value if isinstance(value, bool) else _text(value).lower() in ('1', 'true', 'yes', 'on')


def published_caches_errors(settings, published, declared):
    """Every problem with the shared caches go_cache published (this run, else its local fact).

    published: {group, gocache, gomodcache, go_env} as go_cache published them, or {} (none).
    declared: the go_cache_* variables the inventory gives this host (None: not given).
    go_cache runs before go_env (site.yml): what it published must be what the inventory asks of
    it now, or go_env would follow caches that go_cache has not set up (yet, or any more).
    """
    published = dict(published or {})
    declared = dict((k, v) for k, v in (declared or {}).items() if v is not None and v != '')
    errors = []
    stale = ['%s: %s published %r, the inventory gives %r' % (variable, key, published[key], declared[variable])
             for variable, key in SHARED_CACHE_KEYS
             if variable in declared and key in published and not _same(declared[variable], published[key])]
    if stale:
        errors.append('The shared caches that the go_cache role published on this host are not the ones the '
                      'inventory gives it now (%s): go_cache has not run with these values. go_env follows what '
                      'go_cache published, so go_cache must run first: run site.yml (it runs playbooks/go_cache.yml'
                      ' before playbooks/go_env.yml), or playbooks/go_cache.yml, then go_env.' % '; '.join(stale))
    shared = [published.get('gocache'), published.get('gomodcache'),
              declared.get('go_cache_build_dir'), declared.get('go_cache_mod_dir')]
    error = shared_cache_error(settings, shared, group=published.get('group') or declared.get('go_cache_group'))
    if error:
        errors.append(error)
    return errors
