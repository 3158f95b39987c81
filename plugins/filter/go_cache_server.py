# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the go_cache_server role's variables (module_utils/go_cache_server_rules.py)."""

from __future__ import annotations

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def go_cache_server_errors(settings):
    """Messages for every invalid go_cache_server_* variable; empty when all are valid."""
    return rules('go_cache_server_rules').settings_errors(dict(settings))


class FilterModule:
    def filters(self):
        return {'go_cache_server_errors': go_cache_server_errors}
