# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the go_toolchain role's variables.

The rules are those of plugins/module_utils/go_toolchain_rules.py (toolchain_errors),
which the go_toolchain module applies again on the host. Running them here lets
validate.yml stop the run with every bad variable listed before any host is touched.
"""

from __future__ import annotations


def _rules():
    """plugins/module_utils/go_toolchain_rules.py."""
    # Imported on first use: to find any one filter of the collection, Ansible loads every file of
    # plugins/filter in each forked worker, which would otherwise compile this module_utils each time.
    from ansible_collections.go_buildhost.buildhost.plugins.module_utils import go_toolchain_rules

    return go_toolchain_rules


def go_toolchain_errors(settings):
    """Messages for every invalid go_toolchain_* variable; empty when all are valid."""
    return _rules().toolchain_errors(dict(settings))


class FilterModule:
    def filters(self):
        return {
            'go_toolchain_errors': go_toolchain_errors,
        }
