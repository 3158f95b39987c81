# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go_release action: its one implementation (library/go_release.py is its documentation).

The role resolves the version once per play on the controller. Doing it in
the controller process saves forking and packaging a module (about 0.4 s a
run, most of a no-op's budget); the rules and the argument spec are in
plugins/module_utils/go_version.py.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.go_buildhost.buildhost.plugins.module_utils import go_version


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=go_version.RELEASE_ARGUMENT_SPEC)
        try:
            result.update(go_version.lookup_release(args))
        except go_version.GoVersionError as exc:
            result.update(failed=True, msg=str(exc))
        result['changed'] = False
        return result
