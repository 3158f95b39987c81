#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: role_check
short_description: Check a role's variables, against its argument spec and its own rules, before anything changes
description:
  - Validates the variables of the role the task is in against the role's C(meta/argument_specs.yml), at
    I(entry_point), with ansible-core's own validator, and fails with its message
    (C(Validation of arguments failed)) and C(argument_errors), as the task Ansible inserts for an entry point
    C(main) does.
  - Then templates the variable I(errors_var), the list of what the role's own rules find wrong, and fails
    with every message in it, followed by I(msg_suffix).
  - Each role of the collection runs it as its first task, in every state, tagged C(always). Its variables are
    declared under the entry point C(variables), so Ansible inserts no task of its own; one task in every play
    where there were two.
  - Runs on the controller only; it makes no call to the host.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  errors_var:
    description:
      - The name of the variable that holds the role's own errors, a list of messages (empty when every value is
        valid). It is templated only after the argument spec passed.
    type: str
    required: true
  msg_suffix:
    description: Appended to the messages when there are any, for example C(Nothing was changed.).
    type: str
    default: ''
  entry_point:
    description: The entry point of the role's C(meta/argument_specs.yml) that declares its variables.
    type: str
    default: variables
attributes:
  action:
    description: Runs on the controller, as an action plugin.
    support: full
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: It changes nothing in either mode.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: none
'''

EXAMPLES = r'''
- name: Fail with every invalid go_env variable before anything changes
  go_buildhost.buildhost.role_check:
    errors_var: __go_env_errors
    msg_suffix: Nothing was written.
  tags: [always]
'''

RETURN = r'''
msg:
  description: Every error, followed by I(msg_suffix); or that every variable is valid.
  returned: always
  type: str
  sample: go_env_memlimit "3GB" is not in Go's size syntax. Nothing was written.
argument_errors:
  description: What ansible-core's validator found wrong with the role's variables.
  returned: when a variable does not match the argument spec
  type: list
  elements: str
'''
