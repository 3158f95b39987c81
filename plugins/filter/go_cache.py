# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the go_cache role's variables.

The rules are those of plugins/module_utils/go_cache_rules.py (settings_errors), whose cache path
and name rules the go_cache_perms module applies again on the host. Running them here lets
validate.yml stop the run with every bad variable listed before any host is touched.
"""

from __future__ import annotations

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def go_cache_errors(settings, calendar=None):
    """Messages for every invalid go_cache_* variable; empty when all are valid.

    calendar: the registered result of `systemd-analyze calendar` (skipped or absent: not asked).
    """
    return rules('go_cache_rules').settings_errors(dict(settings), dict(calendar or {}))


def go_cache_bytes(value):
    """A go_cache size (20G, 512M, bytes) in bytes; 0 for what go_cache_errors refuses."""
    return rules('go_cache_rules').size_bytes(value)


class FilterModule:
    def filters(self):
        return {
            'go_cache_errors': go_cache_errors,
            'go_cache_bytes': go_cache_bytes,
        }
