# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation and rendering of the go_env role's variables.

The rules are those of plugins/module_utils/go_env.py, which the go_env_file module
applies again on the host. Running them here, in the controller process,
lets validate.yml stop the run with every bad variable listed before any
host is touched, at no remote cost.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.go_buildhost.buildhost.plugins.plugin_utils.rules import rules


def go_env_errors(settings):
    """Messages for every invalid go_env_* variable; empty when all are valid."""
    return rules('go_env').settings_errors(dict(settings))


def go_env_cache_errors(settings, published, declared):
    """Messages for the shared caches go_cache published (this run, else its local fact); empty when consistent.

    go_env consumes what go_cache published and never runs it: a published state that differs
    from the inventory's go_cache_* variables means go_cache has not run first.
    """
    return rules('go_env').published_caches_errors(dict(settings), dict(published or {}), dict(declared or {}))


def _render(function, settings):
    go_env = rules('go_env')
    try:
        return function(go_env)(dict(settings))
    except go_env.GoEnvError as exc:
        raise AnsibleFilterError(str(exc)) from None


def go_env_command(settings):
    """{GOxxx: value or None} for the go command's go.env files."""
    return _render(lambda m: m.command_env, settings)


def go_env_runtime(settings):
    """{GOxxx: value or None} for the runtime layers."""
    return _render(lambda m: m.runtime_env, settings)


class FilterModule:
    def filters(self):
        return {
            'go_env_errors': go_env_errors,
            'go_env_cache_errors': go_env_cache_errors,
            'go_env_command': go_env_command,
            'go_env_runtime': go_env_runtime,
        }
