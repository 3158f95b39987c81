# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the build_cgroups role's variables.

The rules are those of plugins/module_utils/cgroup_spec.py (validate), which the
cgroup_slices module applies again on the host. Running them here, in the
controller process, lets validate.yml stop the run with every bad variable
listed before any host is touched.
"""

from __future__ import annotations

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def build_cgroups_errors(settings):
    """Messages for every invalid build_cgroups_* variable; empty when all are valid.

    settings: {build_cgroups_slices, build_cgroups_services, build_cgroups_wrapper_slice,
    build_cgroups_gomemlimit_percent, build_cgroups_wrapper_path}.
    """
    settings = dict(settings)
    return rules('cgroup_spec').validate(
        list(settings.get('build_cgroups_slices') or []),
        list(settings.get('build_cgroups_services') or []),
        settings.get('build_cgroups_wrapper_slice', ''),
        settings.get('build_cgroups_gomemlimit_percent', 90),
        settings.get('build_cgroups_wrapper_path', ''),
    )


class FilterModule:
    def filters(self):
        return {
            'build_cgroups_errors': build_cgroups_errors,
        }
