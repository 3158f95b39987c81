# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side refusal of hosts outside the supported platforms.

The rule is platform_errors in plugins/module_utils/platforms.py, with its table of supported
releases. roles/common, on which every role depends, calls it in its one task, so every role
stops on an unsupported host before anything changes.
"""

from __future__ import annotations


def _rules():
    """plugins/module_utils/platforms.py."""
    # Imported on first use: to find any one filter of the collection, Ansible loads every file of
    # plugins/filter in each forked worker, which would otherwise compile this module_utils each time.
    from ansible_collections.go_buildhost.buildhost.plugins.module_utils import platforms

    return platforms


def platform_errors(facts):
    """Messages for a host outside the supported platforms, from its ansible_facts; empty when it is supported."""
    return _rules().platform_errors(facts)


class FilterModule:
    def filters(self):
        return {
            'platform_errors': platform_errors,
        }
