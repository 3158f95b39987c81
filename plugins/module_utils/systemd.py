# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemctl for the modules: run it, read `systemctl show`, reload, and act on units.

Every command runs in the C locale through module.run_command, with the binary from
module.get_bin_path, so the unit tests plug in a fake systemctl there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# UnitFileState values that need no `systemctl enable` (static units cannot be enabled at all).
ENABLED_STATES = ('enabled', 'enabled-runtime', 'static', 'indirect', 'generated', 'alias', 'linked', 'transient')
ACTIVE_STATES = ('active', 'activating', 'reloading')


def systemctl(module, args):
    """(rc, stdout, stderr) of systemctl ARGS in the C locale."""
    return module.run_command([module.get_bin_path('systemctl', required=True)] + list(args),
                              environ_update={'LC_ALL': 'C'})


def run_systemctl(module, args, what):
    """systemctl ARGS in the C locale; on failure fail_json with the command, its error and `what` (what to do)."""
    rc, out, err = systemctl(module, args)
    if rc != 0:
        module.fail_json(msg='systemctl %s failed (rc=%d): %s. %s' % (' '.join(args), rc, (err or out).strip(), what))
    return out


def parse_systemctl_show(output):
    """`systemctl show -p ... unit...` output: one dict per unit, keyed by Id, in output order."""
    units = {}
    order = []
    block = {}
    for line in output.splitlines() + ['']:
        if not line.strip():
            if block.get('Id') and block['Id'] not in units:
                units[block['Id']] = block
                order.append(block['Id'])
            block = {}
            continue
        key, _sep, value = line.partition('=')
        block[key] = value
    return [units[i] for i in order]


def by_name(blocks, found=None):
    """{name: block} for every Id and every name in Names of the blocks; an earlier block wins."""
    found = {} if found is None else found
    for block in blocks:
        for name in [block['Id']] + block.get('Names', '').split():
            found.setdefault(name, block)
    return found


def show(module, properties, units, what):
    """The blocks of `systemctl show --property=... -- units`, in output order."""
    return parse_systemctl_show(run_systemctl(module, ['show', '--property=' + properties, '--'] + list(units),
                                              what))


def daemon_reload(module, what):
    run_systemctl(module, ['daemon-reload'], what)


def unit_action(module, verb, units, what):
    """systemctl VERB -- UNITS (start, stop, restart, try-restart, enable, disable, ...)."""
    return run_systemctl(module, [verb, '--'] + list(units), what)


def is_active(block):
    return block.get('ActiveState', '') in ACTIVE_STATES


def is_enabled(block):
    return block.get('UnitFileState', '') in ENABLED_STATES
