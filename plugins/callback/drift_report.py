# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect drift (tasks that would change in check mode) per host and role.

Active only in plays that set go_buildhost_audit: true (playbooks/audit.yml),
and there only for tasks that run in check mode; other runs are untouched.
Writes drift.json and drift.xml (JUnit: one testsuite per host, one test
case per role, a failure per role that drifted) into GO_BUILDHOST_AUDIT_DIR
(default .cache/audit in the project), at the start of each
play and at the end of the run, so a final play can read it.

The JUnit file is for CI systems that read JUnit; AWX does not. Under AWX,
playbooks/audit.yml hands drift.json to set_stats (go_buildhost_drift), which
AWX keeps as the job's artifacts; the files go with the execution environment.
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: drift_report
type: aggregate
short_description: Write a per-host, per-role drift report of check-mode runs as JSON and JUnit XML
description:
  - Records every task that reports C(changed) while running in check mode, by host and role.
  - Writes C(drift.json) and C(drift.xml) into the report directory.
options:
  report_dir:
    description: Where to write the reports.
    env:
      - name: GO_BUILDHOST_AUDIT_DIR
    type: path
requirements:
  - enable in ansible.cfg (callbacks_enabled)
'''

import datetime
import json
import os
import tempfile
from xml.sax.saxutils import escape, quoteattr

from ansible.plugins.callback import CallbackBase


def _atomic_write(path, text):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'drift_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.hosts = {}
        self.roles = set()
        self.active = False
        self.recording = False
        self.report_dir = None
        self.written = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.report_dir = self.get_option('report_dir')

    def v2_playbook_on_start(self, playbook):
        if not self.report_dir:
            # The collection's root (this file is plugins/callback/drift_report.py), where
            # playbooks/vars/audit.yml looks too: in a clone, the project's .cache/audit.
            project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
            self.report_dir = os.path.join(project, '.cache', 'audit')

    def _in_check_mode(self, task):
        from ansible import context  # noqa: PLC0415 - CLI args exist only once the CLI parsed them
        return bool(task.check_mode) or bool(context.CLIARGS.get('check'))

    def _record(self, result, drifted):
        task = result._task
        if not self.recording or not self._in_check_mode(task) or 'drift_report_ignore' in (task.tags or []):
            return
        # The role's own name (go_toolchain), not its FQCN: the report's keys, the JUnit cases and the
        # metric's role label stay what they were before the roles moved into the collection.
        role = task._role.get_name(include_role_fqcn=False) if task._role else None
        if not role:
            return
        self.active = True
        self.roles.add(role)
        host = self.hosts.setdefault(result._host.get_name(), {})
        items = host.setdefault(role, [])
        if drifted:
            entry = {'task': task.get_name().split(' : ', 1)[-1]}
            res = result._result
            # go_cache_perms returns the files and units it put in place as a bundle, file_bundle's result.
            bundle = res.get('bundle') if isinstance(res.get('bundle'), dict) else {}
            for key in ('actions', 'changes', 'pending', 'problems', 'changed_paths', 'service_actions'):
                if key in res:
                    entry[key] = res[key]
                elif bundle.get(key):
                    entry[key] = bundle[key]
            items.append(entry)

    def v2_runner_on_ok(self, result):
        self._record(result, bool(result._result.get('changed')))

    def v2_runner_item_on_ok(self, result):
        self._record(result, bool(result._result.get('changed')))

    def v2_playbook_on_play_start(self, play):
        self._flush()
        self.recording = bool(play.get_vars().get('go_buildhost_audit'))

    def v2_playbook_on_stats(self, stats):
        self._flush()

    def _flush(self):
        if not self.active:
            return
        hosts = {host: {role: {'drift_items': len(items), 'tasks': items} for role, items in sorted(roles.items())}
                 for host, roles in sorted(self.hosts.items())}
        # Written again at every play's start and at the end: only when what it reports changed, so a
        # playbook that read the report (playbooks/audit.yml's set_stats) holds the same file, time included.
        if hosts == self.written:
            return
        self.written = json.loads(json.dumps(hosts))
        report = {
            'generated': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'hosts': hosts,
        }
        report['drifted_hosts'] = sorted(h for h, roles in report['hosts'].items()
                                         if any(r['drift_items'] for r in roles.values()))
        _atomic_write(os.path.join(self.report_dir, 'drift.json'), json.dumps(report, indent=2) + '\n')
        _atomic_write(os.path.join(self.report_dir, 'drift.xml'), self._junit(report))

    @staticmethod
    def _junit(report):
        suites = []
        for host, roles in report['hosts'].items():
            cases = []
            failures = 0
            for role, data in roles.items():
                if data['drift_items']:
                    failures += 1
                    detail = '\n'.join(t['task'] for t in data['tasks'])
                    cases.append('    <testcase classname=%s name=%s><failure message=%s>%s</failure></testcase>'
                                 % (quoteattr(host), quoteattr(role),
                                    quoteattr('%d drift item(s)' % data['drift_items']), escape(detail)))
                else:
                    cases.append('    <testcase classname=%s name=%s/>' % (quoteattr(host), quoteattr(role)))
            suites.append('  <testsuite name=%s tests="%d" failures="%d">\n%s\n  </testsuite>'
                          % (quoteattr(host), len(roles), failures, '\n'.join(cases)))
        return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="go-buildhost drift">\n%s\n</testsuites>\n' % (
            '\n'.join(suites))
