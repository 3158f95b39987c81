# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role_check action: its one implementation (plugins/modules/role_check.py is its documentation).

Each role's first task, and in a no-op its only one before its module call. In order, each step only when
the one before passed:

1. the shared knobs, against roles/common's meta/argument_specs.yml (entry point `shared`), and the host's
   platform, as the platform_check action does (it reads the `min` facts when the play has none);
2. the role's variables, against its own meta/argument_specs.yml (entry point `variables`), with
   ansible-core's own validator and message, where Ansible's inserted task for an entry point `main` did;
3. the read-only commands the role's rules need from the host (`probes`, for example go_cache's
   `systemd-analyze calendar`), only those the task lists;
4. the role's own errors (errors_var, its filter's list), templated here, after the argument spec
   passed and with the probes' results, as the `fail` task's were.

One task where there were up to four (common's check, Ansible's inserted one, a probe and a `fail`), on
the controller: with the play's facts and no probe to run it makes no call to the host.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.go_buildhost.buildhost.plugins.action.platform_check import ActionModule as PlatformCheck
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.platforms import CHECK_ARGUMENT_SPEC
from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.role_spec import (
    argument_spec_errors, dependency, failed_validation,
)

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19: every template string is trusted

    def trust_as_template(value):
        return value


# platform_check's options (gather_subset), and the role's own.
ARGUMENT_SPEC = dict(CHECK_ARGUMENT_SPEC, **{
    'errors_var': {'type': 'str', 'required': True},
    'msg_suffix': {'type': 'str', 'default': ''},
    'entry_point': {'type': 'str', 'default': 'variables'},
    'probes': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
        'argv': {'type': 'list', 'elements': 'str', 'required': True},
        'register': {'type': 'str', 'required': True},
    }},
})
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# The role that declares the shared knobs, a dependency of every role of the collection.
SHARED_ROLE = 'common'


class ActionModule(PlatformCheck):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def template_with(self, expression, extra):
        """expression templated with the task's variables, extra over them."""
        variables = self._templar.available_variables
        if extra:
            self._templar.available_variables = dict(variables, **extra)
        try:
            return self._templar.template(trust_as_template(expression))
        finally:
            if extra:
                self._templar.available_variables = variables

    def probe(self, argv):
        """A read-only command on the host, in check mode too: its rc, stdout and stderr, as a registered result."""
        ran = self._low_level_execute_command(shlex.join(argv))
        return {'rc': ran.get('rc'), 'stdout': ran.get('stdout', ''), 'stderr': ran.get('stderr', ''),
                'cmd': list(argv), 'changed': False}

    def run(self, tmp=None, task_vars=None):
        result = super(PlatformCheck, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        names = [args['errors_var']] + [probe['register'] for probe in args['probes']]
        bad = [name for name in names if not _NAME.match(name)]
        if bad:
            result.update(failed=True, changed=False, msg='errors_var and each register must name a variable, not %s'
                          % ', '.join(repr(name) for name in bad))
            return result
        shared = dependency(self, SHARED_ROLE)
        knob_errors = argument_spec_errors(self, task_vars, self.SHARED_ENTRY_POINT, role=shared) if shared else []
        facts = self.check_platform(result, task_vars, args['gather_subset'], knob_errors)
        if facts is None:
            return result
        spec_errors = argument_spec_errors(self, task_vars, args['entry_point'])
        if spec_errors:
            return failed_validation(result, spec_errors)
        extra = {'ansible_facts': facts} if result.get('gathered') else {}
        for probe in args['probes']:
            extra[probe['register']] = self.probe(probe['argv'])
        result['probed'] = [probe['register'] for probe in args['probes']]
        errors = self.template_with('{{ %s }}' % args['errors_var'], extra)
        if isinstance(errors, str):
            errors = [errors] if errors else []
        errors = [str(error) for error in errors or []]
        if errors:
            result.update(failed=True, msg=' '.join(errors + ([args['msg_suffix']] if args['msg_suffix'] else [])))
        else:
            result['msg'] = '%s; every variable of the role is valid' % result['msg']
        return result
