#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: platform_check
short_description: Fail on a host outside the platforms go-buildhost supports, before anything changes
description:
  - Checks the host's distribution and version (C(ansible_facts)) against the releases the collection is
    tested on (Debian 12, 13 and Ubuntu 22.04, 24.04), and fails with a message that names the host's
    distribution and version otherwise.
  - Runs on the controller. With the host's facts in the play it makes no call to the host at all; when the
    play has none (C(gather_facts) false, or smart gathering over a fact cache that lacks them) it reads the
    I(gather_subset) facts first, with M(ansible.builtin.setup), and returns those facts as that module does.
  - Every role of the collection runs the same check first, in its one check task
    (M(go_buildhost.buildhost.role_check)). This action is the check alone, for a play of your own.
  - In a task of a role whose C(meta/argument_specs.yml) has the entry point C(shared) (as the C(common) role's
    has), it first checks those variables with ansible-core's own validator, and fails with its message
    (C(Validation of arguments failed)) and C(argument_errors).
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  gather_subset:
    description:
      - The facts read from the host when the play has none, as M(ansible.builtin.setup)'s I(gather_subset).
        Not used when the play's facts name the distribution.
    type: list
    elements: str
    default: [min]
attributes:
  action:
    description: Runs on the controller, as an action plugin; it calls the host only to read the facts a play lacks.
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
- name: Fail on a host outside the supported platforms before anything changes
  go_buildhost.buildhost.platform_check:
'''

RETURN = r'''
msg:
  description: The refusal, naming the host's distribution and version; or what was found supported.
  returned: always
  type: str
  sample: Debian 12.7 is supported
argument_errors:
  description: What ansible-core's validator found wrong with the shared knobs.
  returned: when a shared knob is invalid
  type: list
  elements: str
gathered:
  description: Whether the min facts were read because the play had none.
  returned: when the facts were read
  type: bool
ansible_facts:
  description: The C(min) facts read from the host, when the play had none.
  returned: when the facts were read
  type: dict
'''
