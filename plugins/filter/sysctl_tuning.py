# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the sysctl_tuning role's variables.

The rules are those of plugins/module_utils/sysctl_conf.py (settings_errors and
file_name_errors, which the sysctl_profile module applies to its drop-in's name on
the host). Running them here lets validate.yml stop the run with every bad variable
listed before any host is touched.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def sysctl_tuning_errors(settings):
    """Messages for every invalid sysctl_tuning_* variable that needs no host; empty when all are valid."""
    settings = dict(settings)
    settings['sysctl_tuning_profiling'] = boolean(settings.get('sysctl_tuning_profiling', False), strict=False)
    return rules('sysctl_conf').settings_errors(settings)


class FilterModule:
    def filters(self):
        return {
            'sysctl_tuning_errors': sysctl_tuning_errors,
        }
