# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform_check action: its one implementation (plugins/modules/platform_check.py is its documentation).

roles/common runs it first in every play of the collection's roles. With the host's facts in the play it
runs on the controller alone, with no call to the host; without them it reads the min subset first
(ansible.builtin.setup), as a task of its own did before. One task instead of two skipped ones, in each
play: the rule is platform_errors in plugins/module_utils/platforms.py, the same as the filter's.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import (
    CHECK_ARGUMENT_SPEC, platform_errors,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(CHECK_ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=CHECK_ARGUMENT_SPEC)
        facts = dict((task_vars or {}).get('ansible_facts') or {})
        if not facts.get('distribution'):
            gathered = self._execute_module(module_name='ansible.legacy.setup',
                                            module_args={'gather_subset': args['gather_subset']}, task_vars=task_vars)
            if gathered.get('failed') or gathered.get('unreachable'):
                return gathered
            result['ansible_facts'] = gathered.get('ansible_facts', {})
            result['gathered'] = True
            # setup names them ansible_distribution, ...; the play's ansible_facts has them without the prefix.
            facts = dict((name[len('ansible_'):] if name.startswith('ansible_') else name, value)
                         for name, value in result['ansible_facts'].items())
        errors = platform_errors(facts)
        result['changed'] = False
        if errors:
            result.update(failed=True, msg=' '.join(errors))
        else:
            result['msg'] = '%s %s is supported' % (facts.get('distribution'), facts.get('distribution_version'))
        return result
