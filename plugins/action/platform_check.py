# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform_check action: its one implementation (plugins/modules/platform_check.py is its documentation).

The check alone, for a play of the user's own; each role of the collection runs the same check_platform
first in its role_check task (plugins/action/role_check.py, a subclass). With the host's facts in the
play it runs on the controller alone, with no call to the host; without them it reads the min subset
first (ansible.builtin.setup). The rule is platform_errors in plugins/module_utils/platforms.py, the
same as the filter's.

In a role whose meta/argument_specs.yml has the entry point `shared` (roles/common's), it first checks
those variables with ansible-core's own validator and message.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import (
    CHECK_ARGUMENT_SPEC, platform_errors,
)
from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.role_spec import (
    argument_spec_errors, failed_validation,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(CHECK_ARGUMENT_SPEC)

    # The entry point of roles/common/meta/argument_specs.yml that declares the shared knobs. Not `main`:
    # Ansible would insert a validation task of its own for that one, a second task in every play.
    SHARED_ENTRY_POINT = 'shared'

    def check_platform(self, result, task_vars, gather_subset, knob_errors):
        """The shared knobs (knob_errors: what the validator found), then the host's platform, into result.

        Reads the gather_subset facts when the play has none (result's ansible_facts, and gathered). Returns
        the host's facts as the play's ansible_facts names them, or None when result failed.
        """
        result['changed'] = False
        if knob_errors:
            failed_validation(result, knob_errors)
            return None
        facts = dict((task_vars or {}).get('ansible_facts') or {})
        if not facts.get('distribution'):
            gathered = self._execute_module(module_name='ansible.legacy.setup',
                                            module_args={'gather_subset': gather_subset}, task_vars=task_vars)
            if gathered.get('failed') or gathered.get('unreachable'):
                result.clear()
                result.update(gathered)
                return None
            result['ansible_facts'] = gathered.get('ansible_facts', {})
            result['gathered'] = True
            # setup names them ansible_distribution, ...; the play's ansible_facts has them without the prefix.
            facts.update((name[len('ansible_'):] if name.startswith('ansible_') else name, value)
                         for name, value in result['ansible_facts'].items())
        errors = platform_errors(facts)
        if errors:
            result.update(failed=True, msg=' '.join(errors))
            return None
        result['msg'] = '%s %s is supported' % (facts.get('distribution'), facts.get('distribution_version'))
        return facts

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=CHECK_ARGUMENT_SPEC)
        knob_errors = argument_spec_errors(self, task_vars or {}, self.SHARED_ENTRY_POINT)
        self.check_platform(result, task_vars, args['gather_subset'], knob_errors)
        return result
