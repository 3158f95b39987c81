# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform_check action: its one implementation (plugins/modules/platform_check.py is its documentation).

roles/common runs it first in every play of the collection's roles. With the host's facts in the play it
runs on the controller alone, with no call to the host; without them it reads the min subset first
(ansible.builtin.setup), as a task of its own did before. One task instead of two skipped ones, in each
play: the rule is platform_errors in plugins/module_utils/platforms.py, the same as the filter's.

It also checks the shared knobs against common's meta/argument_specs.yml (its entry point `shared`),
with ansible-core's own validator and message, where Ansible's inserted task for an entry point
`main` did: one task per play instead of two.
"""

from __future__ import annotations

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.plugins.action.validate_argument_spec import ActionModule as ValidateArgumentSpec

from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import (
    CHECK_ARGUMENT_SPEC, platform_errors,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(CHECK_ARGUMENT_SPEC)

    # The entry point of roles/common/meta/argument_specs.yml that declares the shared knobs. Not `main`:
    # Ansible would insert a validation task of its own for that one, a second task in every play.
    SHARED_ENTRY_POINT = 'shared'

    def shared_knob_errors(self, task_vars):
        """ansible-core's own validation of the shared knobs (as its validate_argument_spec action runs it
        for a role), against the spec of the role this task is in; [] outside a role."""
        role = getattr(self._task, '_role', None)
        path = os.path.join(role.get_role_path(), 'meta', 'argument_specs.yml') if role is not None else None
        if not path or not os.path.exists(path):
            return []
        # The loader caches the parsed file: read once per run, not once per host.
        spec = ((self._loader.load_from_file(path) or {}).get('argument_specs') or {}).get(self.SHARED_ENTRY_POINT)
        if not spec:
            return []
        options = spec.get('options') or {}
        provided = ValidateArgumentSpec.get_args_from_task_vars(self, options, task_vars)
        return ArgumentSpecValidator(options).validate(provided, validate_role_argument_spec=True).error_messages

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=CHECK_ARGUMENT_SPEC)
        knob_errors = self.shared_knob_errors(task_vars or {})
        if knob_errors:
            result.update(failed=True, changed=False, argument_errors=knob_errors,
                          msg='Validation of arguments failed:\n%s' % '\n'.join(knob_errors))
            return result
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
