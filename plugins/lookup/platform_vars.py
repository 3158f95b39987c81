# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: platform_vars
author: go-buildhost contributors (!UNKNOWN)
version_added: "1.1.0"
short_description: A role's values for the host's platform, read from its vars files when they are used
description:
  - Merges the files of a role's vars directory that exist among C(<os_family>.yml), C(<distribution>.yml),
    C(<distribution>_<major version>.yml) and C(<distribution>_<version>.yml), each over the one before, the
    order in which linux-system-roles load them with M(ansible.builtin.include_vars).
  - Read when a variable that uses it is templated, on the controller, so loading them costs no task of its
    own in every run. The files are plain data; the loader caches them for the run.
options:
  _terms:
    description: The vars directory, usually C(role_path ~ '/vars').
    required: true
    type: list
    elements: path
  facts:
    description: The host's facts (C(ansible_facts)); the C(min) subset has what is read.
    required: true
    type: dict
"""

EXAMPLES = r"""
# roles/<role>/vars/main.yml
__myrole_platform: >-
  {{ query('go_buildhost.buildhost.platform_vars', role_path ~ '/vars', facts=ansible_facts) | first }}
__myrole_package: "{{ __myrole_platform.__myrole_package }}"
"""

RETURN = r"""
_raw:
  description: One merged dict per directory given.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import platform_vars_files


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            names = platform_vars_files(self.get_option('facts') or {})
        except ValueError as exc:
            raise AnsibleLookupError('platform_vars: %s' % exc) from exc
        results = []
        for directory in terms:
            merged = {}
            for name in names:
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    data = self._loader.load_from_file(path) or {}
                    if not isinstance(data, dict):
                        raise AnsibleLookupError('platform_vars: %s holds no mapping of variables' % path)
                    merged.update(data)
            results.append(merged)
        return results
