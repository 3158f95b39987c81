# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side refusal of hosts outside the supported platforms.

The rule is platform_errors in plugins/module_utils/platforms.py, with its table of supported
releases. roles/common, on which every role depends, calls it in its one task, so every role
stops on an unsupported host before anything changes.
"""

from __future__ import annotations

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def platform_errors(facts):
    """Messages for a host outside the supported platforms, from its ansible_facts; empty when it is supported."""
    return rules('platforms').platform_errors(facts)


class FilterModule:
    def filters(self):
        return {
            'platform_errors': platform_errors,
        }
