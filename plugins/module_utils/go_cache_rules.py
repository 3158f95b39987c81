# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go_cache settings' rules, each in one place, worded with the role's variable names.

The cache paths and the group and member names are checked by the go_cache_perms module on the
host (before it changes anything) and, through the go_cache_errors filter
(plugins/filter/go_cache.py), by the go_cache role's check on the controller, together with the
settings only the role uses (sizes, thresholds, the webhook). Pure functions, no I/O: what needs
the host (system trees, symlinks, what a directory holds) stays in path_guard.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.go_env import shared_cache_error
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.path_guard import syntax_error

# useradd/groupadd's default NAME_REGEX (Debian), which both refuse anything else.
NAME_RE = re.compile(r'^[a-z_][a-z0-9_-]{0,30}[a-z0-9_$-]?$')
# Sizes: bytes, or a number with K, M, G, T or P (powers of 1024, like du), optionally followed by B or iB.
SIZE_RE = re.compile(r'^[0-9]+ ?([KMGTP](i?B)?|B)?$')
_CACHE_PATH_RE = re.compile(r'^/[^\s]*[^/\s]$')
_WHOLE_RE = re.compile(r'^[0-9]+$')
_WEBHOOK_RE = re.compile(r'^https?://[^\s/]+[^\s]*$')
# The fleet cache's base URL: no credentials (the file that holds it is world-readable), no query.
_REMOTE_RE = re.compile(r'^https?://[^\s/@?#]+(/[^\s?#]*)?$')
_TOKEN_RE = re.compile(r'^[\x21-\x7e]+$')
EXAMPLES = {'build': '/var/cache/go/build', 'mod': '/var/cache/go/mod'}


def _text(value):
    return '' if value is None else str(value)


def _whole(value):
    """A whole number given as an int or digits, else None (as the role's `| string is match` read it)."""
    text = _text(value)
    return int(text) if _WHOLE_RE.match(text) else None


def _ratio(value):
    """Jinja's float filter: garbage is 0.0."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def size_bytes(value):
    """A size (bytes, or 20G, 512M, 20GiB: powers of 1024, like du) in bytes; 0 when it is not a size."""
    match = SIZE_RE.match(_text(value))
    if not match:
        return 0
    number = int(re.match(r'^[0-9]+', _text(value)).group(0))
    unit = (match.group(1) or 'B')[0]
    return number * 1024 ** 'BKMGTP'.index(unit)


def name_errors(group, members):
    """The group and member names useradd and groupadd accept."""
    errors = []
    if not NAME_RE.match(_text(group)):
        errors.append('go_cache_group "%s" is not a valid group name: lowercase letters, digits, _ and -, starting '
                      'with a letter or _, at most 32 characters.' % _text(group))
    invalid = [_text(name) for name in members or [] if not NAME_RE.match(_text(name))]
    if invalid:
        errors.append('go_cache_members has invalid user names: %s.' % ', '.join(invalid))
    return errors


def cache_path_error(path, var, kind):
    """Why a cache directory's path is not an absolute, normal path of its own, or None."""
    if not _CACHE_PATH_RE.match(_text(path)):
        example = EXAMPLES.get(kind, EXAMPLES['build'])
        return '%s must be an absolute path such as %s, got "%s".' % (var, example, _text(path))
    return syntax_error(path, var)


def separate_error(caches):
    """caches: [(path, var)]. The message when one cache is the other or inside it, or None."""
    for number, (one, one_var) in enumerate(caches):
        for other, other_var in caches[number + 1:]:
            if (one + '/').startswith(other + '/') or (other + '/').startswith(one + '/'):
                return '%s and %s must be separate directories, neither inside the other.' % (one_var, other_var)
    return None


def cache_errors(caches):
    """caches: [(path, var, kind)] with kind build or mod. Every message about their paths."""
    errors = []
    valid = []
    for path, var, kind in caches:
        error = cache_path_error(path, var, kind)
        if error:
            errors.append(error)
        else:
            valid.append((path, var))
    error = separate_error(valid)
    if error:
        errors.append(error)
    return errors


def calendar_error(on_calendar, result):
    """The message when `systemd-analyze calendar` refused go_cache_health_on_calendar, or None.

    result: the registered result of that command ({} or skipped when it did not run).
    """
    result = result or {}
    if result.get('skipped') or result.get('rc', 1) == 0 or not result:
        return None
    said = result['stderr'] if 'stderr' in result else result.get('msg', '')
    return ('go_cache_health_on_calendar "%s" is not a calendar expression systemd accepts (systemd-analyze calendar '
            'says: %s). Examples: "*:0/5" (every 5 minutes), "hourly", "*-*-* 02:30:00".'
            % (_text(on_calendar), _text(said).strip()))


def settings_errors(settings, calendar=None):
    """Every invalid go_cache_* variable, as messages naming them (the webhook URL, a secret, never shown)."""
    s = settings
    errors = name_errors(s.get('go_cache_group'), s.get('go_cache_members'))
    errors.extend(cache_errors([(_text(s.get('go_cache_build_dir')), 'go_cache_build_dir', 'build'),
                                (_text(s.get('go_cache_mod_dir')), 'go_cache_mod_dir', 'mod')]))
    if not SIZE_RE.match(_text(s.get('go_cache_max_bytes'))):
        errors.append('go_cache_max_bytes "%s" is not a size: give bytes (21474836480) or a number with K, M, G, T or '
                      'P (20G, 512M; powers of 1024), or 0 for no limit.' % _text(s.get('go_cache_max_bytes')))
    if not SIZE_RE.match(_text(s.get('go_cache_mod_max_bytes'))):
        errors.append('go_cache_mod_max_bytes "%s" is not a size: give bytes or a number with K, M, G, T or P (50G), '
                      'or 0 for no limit.' % _text(s.get('go_cache_mod_max_bytes')))
    low_water = _whole(s.get('go_cache_cleanup_low_water_percent'))
    if low_water is None or not 1 <= low_water <= 99:
        errors.append('go_cache_cleanup_low_water_percent must be a whole number from 1 to 99.')
    url = _text(s.get('go_cache_webhook_url'))
    if url and not _WEBHOOK_RE.match(url):
        errors.append('go_cache_webhook_url must be an http:// or https:// URL (its value is a secret and is not '
                      'shown here).')
    retries = _whole(s.get('go_cache_webhook_retries'))
    if retries is None or retries > 10:
        errors.append('go_cache_webhook_retries must be a whole number from 0 to 10.')
    if not _text(s.get('go_cache_metrics_dir')).startswith('/'):
        errors.append('go_cache_metrics_dir must be an absolute path, got "%s".' % _text(s.get('go_cache_metrics_dir')))
    if not re.match(r'^/.*[^/]$', _text(s.get('go_cache_alert_rules_path'))):
        errors.append('go_cache_alert_rules_path must be an absolute file path, got "%s".'
                      % _text(s.get('go_cache_alert_rules_path')))
    if not _text(s.get('go_cache_go_binary')).startswith('/'):
        errors.append('go_cache_go_binary must be an absolute path, got "%s".' % _text(s.get('go_cache_go_binary')))
    ratios = [_ratio(s.get('go_cache_alert_inodes_ratio')), _ratio(s.get('go_cache_alert_space_ratio'))]
    if not all(0 < ratio <= 1 for ratio in ratios):
        errors.append('go_cache_alert_inodes_ratio and go_cache_alert_space_ratio must be ratios between 0 and 1, '
                      'such as 0.85.')
    stale = _whole(s.get('go_cache_alert_stale_seconds'))
    if stale is None or stale < 60:
        errors.append('go_cache_alert_stale_seconds must be a whole number of seconds, at least 60.')
    errors.extend(remote_errors(s))
    error = calendar_error(s.get('go_cache_health_on_calendar'), calendar)
    if error:
        errors.append(error)
    # The caches this role publishes never go into go.env (the go_env role applies the same rule).
    error = shared_cache_error(s, [s.get('go_cache_build_dir'), s.get('go_cache_mod_dir')],
                               group=_text(s.get('go_cache_group')), owner='this role')
    if error:
        errors.append(error)
    return errors


def remote_errors(settings):
    """The fleet cache's settings (go_cache_remote_*): the token, a secret, is never shown."""
    s = settings
    errors = []
    url = _text(s.get('go_cache_remote_url'))
    if url and not _REMOTE_RE.match(url):
        # A URL with credentials or a query may carry a secret: it is not shown then.
        shown = 'a URL with credentials, a query or a fragment (not shown)' if re.search('[@?#]', url) else \
            '"%s"' % url
        errors.append('go_cache_remote_url must be an http:// or https:// base URL without credentials, a query or '
                      'a fragment, such as https://go-cache.example.com:8443/, got %s. Put a token in '
                      'go_cache_remote_token.' % shown)
    off = ('false', 'no', 'off', '0', '')
    if url and (_text(s.get('go_cache_health_enabled', True)).lower() in off
                or _text(s.get('go_cache_cleanup_method', 'trim')) not in ('trim', 'go_clean')
                or size_bytes(s.get('go_cache_max_bytes', '20G')) == 0):
        errors.append('go_cache_remote_url needs the health check to clean the build cache up: '
                      'go_cache_health_enabled true, go_cache_cleanup_method trim or go_clean, and go_cache_max_bytes '
                      "above 0. Go's own trim never reaches the fleet cache helper's local tier, which would grow "
                      'without end.')
    # ansible-core 2.17 renders a lone "{{ ... | bool }}" in a dict as the string "False".
    if url and _text(s.get('go_cache_go_env_enabled', True)).lower() in off:
        errors.append('go_cache_remote_url needs go_cache_go_env_enabled: the go launcher hands the fleet cache to '
                      'the members together with the shared build cache. Set go_cache_remote_url to "" or '
                      'go_cache_go_env_enabled to true.')
    token = _text(s.get('go_cache_remote_token'))
    if token and not _TOKEN_RE.match(token):
        errors.append('go_cache_remote_token must be one line of printable characters without spaces (its value is '
                      'a secret and is not shown here).')
    if token and not url:
        errors.append('go_cache_remote_token is set but go_cache_remote_url is empty: set the URL of the fleet '
                      'cache, or leave the token empty.')
    timeout = _ratio(s.get('go_cache_remote_timeout'))
    if not 0 < timeout <= 60:
        errors.append('go_cache_remote_timeout must be a number of seconds over 0 and at most 60, got "%s".'
                      % _text(s.get('go_cache_remote_timeout')))
    concurrency = _whole(s.get('go_cache_remote_concurrency'))
    if concurrency is None or not 1 <= concurrency <= 64:
        errors.append('go_cache_remote_concurrency must be a whole number from 1 to 64, got "%s".'
                      % _text(s.get('go_cache_remote_concurrency')))
    return errors
