#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: file_bundle
short_description: Ensure several small files have the given content, owner and mode, in one call
description:
  - Reads every file in I(files), compares content, owner, group and mode, and writes only the ones that
    differ, each through a temporary file in its own directory, C(fsync) and a rename, so a reader (a
    scrape, systemd) never sees half a file.
  - One module call instead of one C(template) or C(copy) task per file, so a run with nothing to do
    costs one round trip. Render the content on the controller, e.g. with
    C(lookup('ansible.builtin.template', ...)).
  - A file with I(validate) is checked on its temporary copy before it replaces the old one.
  - Missing parent directories are created (root-owned, I(directory_mode)).
  - Do not put secrets in I(content), because the diff shows it. Write secrets with a separate C(no_log) task.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  files:
    description: The files to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      state:
        description: C(present) writes the file, C(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
      content:
        description: The whole text of the file. Required with I(state=present).
        type: str
      mode:
        description: Octal mode as a string, e.g. C('0644').
        type: str
        default: '0644'
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      validate:
        description:
          - Command run on the temporary copy before it is moved into place, C(%s) standing for its path,
            e.g. C(promtool check rules %s). The file is not written when it fails. Not run in check mode.
        type: str
  directory_mode:
    description: Mode of parent directories this module creates.
    type: str
    default: '0755'
  services:
    description:
      - systemd units to keep enabled and running (or stopped and disabled) once the files are in place, in the
        same call. Their state is read with one C(systemctl show) for all of them, so a run with nothing to do
        costs no more than that.
      - When a file under one of I(unit_dirs) was written or removed, C(systemctl daemon-reload) runs first.
      - Actions run in the order given, one C(systemctl) command per unit and verb.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The unit, with its suffix (C(go-cache-health.timer), C(ssh.service)).
        type: str
        required: true
      enabled:
        description: Enable (C(true)) or disable (C(false)) the unit; leave it as it is when unset.
        type: bool
      state:
        description:
          - C(started) starts the unit when it is not active, C(stopped) stops it when it is; unset leaves it.
        type: str
        choices: [started, stopped]
      restart_on:
        description:
          - Paths (among I(files)) whose change restarts the unit. A unit that is wanted C(started) is restarted;
            with I(state) unset it is restarted only if it runs (C(systemctl try-restart)).
        type: list
        elements: path
        default: []
      missing:
        description:
          - What to do when the unit is not installed. C(fail) (default) names it; C(ignore) leaves it alone,
            for units that are wanted stopped or come from an optional package. In check mode a missing unit
            never fails (a package install before this call may not have happened).
        type: str
        choices: [fail, ignore]
        default: fail
  unit_dirs:
    description: Directories whose changed files (units, drop-ins) need C(systemctl daemon-reload) before I(services).
    type: list
    elements: path
    default: [/etc/systemd, /run/systemd]
attributes:
  check_mode:
    description: Can run in check mode and report what it would change, without changing the target.
    support: full
    details: Reports the files that would change and what would be done to each unit; validators are not run.
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: full
    details: One diff per changed file (content, and owner or mode changes).
extends_documentation_fragment:
  - go_buildhost.buildhost.host_lock
'''

EXAMPLES = r'''
- name: Ensure the health check's configuration and units are in place
  go_buildhost.buildhost.file_bundle:
    files:
      - path: /etc/go-cache/health.json
        content: "{{ config | to_nice_json }}\n"
      - path: /etc/prometheus/go_cache.rules.yml
        content: "{{ lookup('ansible.builtin.template', 'go_cache.rules.yml.j2') }}"
        validate: promtool check rules %s
      - path: /etc/systemd/system/go-cache-health.timer
        content: "{{ lookup('ansible.builtin.template', 'go-cache-health.timer.j2') }}"
    services:
      - name: go-cache-health.timer
        enabled: true
        state: started
        restart_on: [/etc/systemd/system/go-cache-health.timer]
'''

RETURN = r'''
files:
  description: One result per file, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    changed:
      description: Whether it was (or would be) written or had its owner or mode fixed.
      type: bool
    created:
      description: Whether it did not exist before.
      type: bool
changed_paths:
  description: The files that changed (or would change).
  returned: always
  type: list
  elements: str
created:
  description: The files that did not exist (and were or would be created).
  returned: always
  type: list
  elements: str
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran (or would run, in check mode).
  returned: always
  type: bool
service_actions:
  description: What was (or would be) done to the units in I(services), e.g. C(enable go-cache-health.timer).
  returned: always
  type: list
  elements: str
  sample: [start go-cache-health.timer, restart prometheus-node-exporter.service]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.go_buildhost.buildhost.plugins.module_utils import file_bundle as bundle
from ansible_collections.go_buildhost.buildhost.plugins.module_utils.host_lock import host_lock, lock_argument_spec


def main():
    module = AnsibleModule(
        argument_spec=dict(**bundle.argument_spec(), **lock_argument_spec()),
        supports_check_mode=True,
    )
    directory_mode = bundle.check_params(module, module.params)
    with host_lock(module, 'file_bundle %s' % ' '.join(f['path'] for f in module.params['files'][:3])):
        module.exit_json(**bundle.apply(module, module.params, directory_mode))


if __name__ == '__main__':
    main()
