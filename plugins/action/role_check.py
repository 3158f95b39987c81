# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role_check action: its one implementation (plugins/modules/role_check.py is its documentation).

Each role's first task. It validates the role's variables against its meta/argument_specs.yml, with
ansible-core's own validator and message, where Ansible's inserted task for an entry point `main` did,
then fails with every one of the role's own errors (its filter's list, plugins/filter/<role>.py), where a
`fail` task did. One task instead of two in every play, on the controller, with no call to the host.
The errors are templated here, after the argument spec passed, as the `fail` task's were: a value of the
wrong type is reported by the validator, not by a filter that choked on it.
"""

from __future__ import annotations

import re

from ansible.plugins.action import ActionBase

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.role_spec import (
    argument_spec_errors, failed_validation,
)

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19: every template string is trusted

    def trust_as_template(value):
        return value


ARGUMENT_SPEC = {
    'errors_var': {'type': 'str', 'required': True},
    'msg_suffix': {'type': 'str', 'default': ''},
    'entry_point': {'type': 'str', 'default': 'variables'},
}
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result['changed'] = False
        if not _NAME.match(args['errors_var']):
            result.update(failed=True, msg='errors_var must name a variable, not %r' % args['errors_var'])
            return result
        spec_errors = argument_spec_errors(self, task_vars or {}, args['entry_point'])
        if spec_errors:
            return failed_validation(result, spec_errors)
        errors = self._templar.template(trust_as_template('{{ %s }}' % args['errors_var']))
        if isinstance(errors, str):
            errors = [errors] if errors else []
        errors = [str(error) for error in errors or []]
        if errors:
            result.update(failed=True, msg=' '.join(errors + ([args['msg_suffix']] if args['msg_suffix'] else [])))
        else:
            result['msg'] = 'every variable of the role is valid'
        return result
