# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's argument spec, checked by a task of the role itself, as Ansible's own inserted task does.

Ansible inserts a validation task before a role's tasks for the entry point `main` of its
meta/argument_specs.yml: one more task result in every play, about 54 ms of controller CPU per host
(docs/benchmarks.md). The collection's roles declare their variables under another entry point, and
their one check task (the platform_check and role_check actions) validates them with ansible-core's
own validator and message instead, before anything else it does.
"""

from __future__ import annotations

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action.validate_argument_spec import ActionModule as ValidateArgumentSpec


def argument_spec_errors(action, task_vars, entry_point, role=None):
    """ansible-core's own validation of the variables of role (default: the role action's task is in), against
    that role's meta/argument_specs.yml at entry_point: the error messages, [] when there is no such spec."""
    role = role if role is not None else getattr(action._task, '_role', None)
    path = os.path.join(_role_path(role), 'meta', 'argument_specs.yml') if role is not None else None
    if not path or not os.path.exists(path):
        return []
    # Ansible parsed this file when it loaded the role, before the workers forked, and its loader caches it
    # under the path it found it by: under the same path, a worker reads that copy instead of parsing the
    # YAML again for every host. unsafe: that copy itself, not a deep copy of it (as long again as parsing).
    # The validator hands a spec's default values to the parameters by reference, and may fill them in; a
    # worker is a fork that ends with its task, so that never reaches the main process or another host.
    spec = ((action._loader.load_from_file(path, unsafe=True) or {}).get('argument_specs') or {}).get(entry_point)
    if not spec:
        return []
    options = spec.get('options') or {}
    provided = ValidateArgumentSpec.get_args_from_task_vars(action, options, task_vars)
    return ArgumentSpecValidator(options).validate(provided, validate_role_argument_spec=True).error_messages


def _role_path(role):
    """The role's directory as Ansible found it (get_role_path() resolves symlinks, such as a collection
    linked to a checkout): the path under which Ansible's loader cached the role's files."""
    return getattr(role, '_role_path', None) or role.get_role_path()


def failed_validation(result, errors):
    """result as Ansible's validation task fails: its message and argument_errors."""
    result.update(failed=True, changed=False, argument_errors=errors,
                  msg='Validation of arguments failed:\n%s' % '\n'.join(errors))
    return result


def dependency(action, name):
    """The role the action's task is in, or the one among its dependencies, whose directory is named name."""
    role = getattr(action._task, '_role', None)
    for candidate in ([role] + role.get_all_dependencies()) if role is not None else []:
        if os.path.basename(candidate.get_role_path().rstrip(os.sep)) == name:
            return candidate
    return None
