# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go_cache_server settings' rules, worded with the role's variable names.

Run on the controller by the go_cache_server_errors filter (plugins/filter/go_cache_server.py), in the
role's check, before any host is touched. The store path is checked again on the host, where symlinks and
what a directory holds can be seen, by the go_cache_server_store module (module_utils/path_guard.py). The
tokens are secrets: no message ever shows one. Pure functions, no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_cache_rules import (  # noqa: PLC2701
    SIZE_RE, _text, _whole, size_bytes)
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import syntax_error

# A token goes into nginx's configuration between double quotes: no quote, backslash, space or ';'.
TOKEN_RE = re.compile(r'^[A-Za-z0-9._~+/=-]{16,256}$')
_DIR_RE = re.compile(r'^/[^\s]*[^/\s]$')
_ADDRESS_RE = re.compile(r'^(|\*|[0-9.]+|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$')


def _tokens(value):
    if value is None or value == '':
        return []
    return [_text(v) for v in value] if isinstance(value, (list, tuple)) else None


def token_errors(settings):
    errors = []
    write = _tokens(settings.get('go_cache_server_write_tokens'))
    read = _tokens(settings.get('go_cache_server_read_tokens'))
    for var, tokens in (('go_cache_server_write_tokens', write), ('go_cache_server_read_tokens', read)):
        if tokens is None:
            errors.append('%s must be a list of tokens (secrets, not shown here).' % var)
            continue
        bad = [number for number, token in enumerate(tokens, 1) if not TOKEN_RE.match(token)]
        if bad:
            errors.append('%s: token number %s is not 16 to 256 characters of letters, digits and ._~+/=- (the '
                          'tokens are secrets and are not shown here). Generate one with `openssl rand -hex 32`.'
                          % (var, ', '.join(str(n) for n in bad)))
    if write == []:
        errors.append('go_cache_server_write_tokens is empty: no client could ever write to the cache. Give at least '
                      'one token (a secret, from a vault), and the same one to the builders as go_cache_remote_token.')
    for var, tokens in (('go_cache_server_write_tokens', write), ('go_cache_server_read_tokens', read)):
        folded = [token.lower() for token in tokens or []]
        if len(set(folded)) != len(folded):
            errors.append('%s lists a token twice (compared without case; the tokens are secrets and are not shown '
                          'here).' % var)
    if write and read and set(write) & set(read):
        errors.append('go_cache_server_read_tokens and go_cache_server_write_tokens share a token: a token is either '
                      'for reads only or for writes too.')
    return errors


def settings_errors(settings):
    """Every invalid go_cache_server_* variable, as messages naming them (never a token)."""
    s = settings
    errors = []
    path = _text(s.get('go_cache_server_dir'))
    if not _DIR_RE.match(path):
        errors.append('go_cache_server_dir must be an absolute path such as /var/cache/go-cache-server, got "%s".'
                      % path)
    else:
        error = syntax_error(path, 'go_cache_server_dir')
        if error:
            errors.append(error)
    port = _whole(s.get('go_cache_server_port'))
    if port is None or not 1 <= port <= 65535:
        errors.append('go_cache_server_port must be a TCP port from 1 to 65535, got "%s".'
                      % _text(s.get('go_cache_server_port')))
    elif port in (80, 443):
        errors.append('go_cache_server_port must be a port of its own, not %d: nginx\'s default site (or yours) holds '
                      'it, and would answer the requests. The default, 8080, is bazel-remote\'s.' % port)
    if not _ADDRESS_RE.match(_text(s.get('go_cache_server_listen_address'))):
        errors.append('go_cache_server_listen_address must be empty (every address), an IPv4 address, an IPv6 '
                      'address in brackets or a host name, got "%s".' % _text(s.get('go_cache_server_listen_address')))
    for var in ('go_cache_server_max_bytes', 'go_cache_server_max_object_bytes'):
        if not SIZE_RE.match(_text(s.get(var))):
            errors.append('%s "%s" is not a size: give bytes or a number with K, M, G, T or P (50G, 512M; powers of '
                          '1024).' % (var, _text(s.get(var))))
    if SIZE_RE.match(_text(s.get('go_cache_server_max_object_bytes'))) and \
            size_bytes(s.get('go_cache_server_max_object_bytes')) == 0:
        errors.append('go_cache_server_max_object_bytes must be more than 0: it caps each upload.')
    low_water = _whole(s.get('go_cache_server_low_water_percent'))
    if low_water is None or not 1 <= low_water <= 99:
        errors.append('go_cache_server_low_water_percent must be a whole number from 1 to 99.')
    metrics = _text(s.get('go_cache_server_metrics_dir'))
    if not _DIR_RE.match(metrics):
        errors.append('go_cache_server_metrics_dir must be an absolute path, got "%s".' % metrics)
    errors.extend(token_errors(s))
    return errors
