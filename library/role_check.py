#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: role_check
short_description: Check the host's platform and a role's variables before anything changes, in one task
description:
  - Each role of the collection runs it as its first task, in every state, tagged C(always). In order, each step
    only when the one before passed.
  - The shared knobs (C(go_buildhost_state), C(go_buildhost_lock_timeout)), against the C(common) role's
    C(meta/argument_specs.yml), entry point C(shared), and the host's platform, as
    M(go_buildhost.buildhost.platform_check) checks them. When the play has no facts, it reads the
    I(gather_subset) facts first and returns them.
  - The role's variables, against its C(meta/argument_specs.yml) at I(entry_point), with ansible-core's own
    validator, failing with its message (C(Validation of arguments failed)) and C(argument_errors), as the task
    Ansible inserts for an entry point C(main) does. The roles declare theirs under C(variables), so Ansible
    inserts no task of its own.
  - The I(probes), read-only commands on the host whose results the role's rules need; each result (C(rc),
    C(stdout), C(stderr)) is the variable named by its I(register) while I(errors_var) is templated. They run in
    check mode too.
  - Then it templates the variable I(errors_var), the list of what the role's own rules find wrong, and fails with
    every message in it, followed by I(msg_suffix).
  - Runs on the controller. It calls the host only to read the facts a play lacks, and to run the I(probes).
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
  gather_subset:
    description:
      - The facts read from the host when the play has none, as M(ansible.builtin.setup)'s I(gather_subset).
        Not used when the play's facts name the distribution.
    type: list
    elements: str
    default: [min]
  probes:
    description: Read-only commands whose results I(errors_var) needs. List only those that must run this time.
    type: list
    elements: dict
    default: []
    suboptions:
      argv:
        description: The command and its arguments, run without a shell.
        type: list
        elements: str
        required: true
      register:
        description: The name of the variable that holds the command's result while I(errors_var) is templated.
        type: str
        required: true
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
- name: Fail with every invalid go_env variable, or on a host outside the supported platforms, before anything changes
  go_buildhost.buildhost.role_check:
    errors_var: __go_env_errors
    msg_suffix: Nothing was written.
  tags: [always]

- name: Fail with every invalid go_cache variable, or on a host outside the supported platforms, before anything changes
  go_buildhost.buildhost.role_check:
    errors_var: __go_cache_errors
    msg_suffix: Nothing was changed.
    probes:
      - argv: [systemd-analyze, calendar, "{{ go_cache_health_on_calendar }}"]
        register: __go_cache_calendar
  tags: [always]
'''

RETURN = r'''
msg:
  description: >-
    The platform refusal, or every error followed by I(msg_suffix); or that the host and every variable passed.
  returned: always
  type: str
  sample: Debian 12.7 is supported; every variable of the role is valid
argument_errors:
  description: What ansible-core's validator found wrong with the shared knobs or the role's variables.
  returned: when a variable does not match its argument spec
  type: list
  elements: str
probed:
  description: The I(register) of each probe that ran on the host, in order.
  returned: when the argument specs passed
  type: list
  elements: str
  sample: [__go_cache_calendar]
gathered:
  description: Whether the facts were read because the play had none.
  returned: when the facts were read
  type: bool
ansible_facts:
  description: The I(gather_subset) facts read from the host, when the play had none.
  returned: when the facts were read
  type: dict
'''
