# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the go_toolchain role's variables.

The rules are those of plugins/module_utils/go_toolchain_rules.py (toolchain_errors),
which the go_toolchain module applies again on the host. Running them here lets
validate.yml stop the run with every bad variable listed before any host is touched.
"""

from __future__ import annotations

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def go_toolchain_errors(settings):
    """Messages for every invalid go_toolchain_* variable; empty when all are valid."""
    return rules('go_toolchain_rules').toolchain_errors(dict(settings))


class FilterModule:
    def filters(self):
        return {
            'go_toolchain_errors': go_toolchain_errors,
        }
